// efence_cost: workloads that show what GODEBUG=efence=1 costs, for scripts/efence-cost.
// Under efence every goroutine stack is an mmap of its own and every freed large object
// (> 32 KiB) is faulted (PROT_NONE) and never reused, so mappings and address space grow.
//
//	efence_cost goroutines N [grow] [half]
//	                                  start N goroutines that stay alive; grow: each first
//	                                  deepens its stack once (its first stack is freed);
//	                                  half: then every second one exits
//	efence_cost large MiB             allocate MiB of 64 KiB..1 MiB slices, 8 alive at once
//
// Prints progress lines "progress goroutines=K maps=M" to stderr every 1000 goroutines (so
// that the point where the runtime dies is known) and, at the end, one stdout line of
// key=value figures: elapsed seconds, mappings, VmSize/VmRSS/VmHWM in MiB, GC cycles.
// It is a cgo program (dynamically linked) so that it can also run under cgosan.
package main

// static int cgo_touch(int x) { return x + 1; }
import "C"

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

func countMaps() int {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return -1
	}
	return bytes.Count(data, []byte{'\n'})
}

// status returns the VmSize, VmRSS and VmHWM lines of /proc/self/status in MiB.
func status() map[string]int {
	out := map[string]int{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 {
			switch fields[0] {
			case "VmSize:", "VmRSS:", "VmHWM:":
				kb, _ := strconv.Atoi(fields[1])
				out[strings.TrimSuffix(fields[0], ":")] = kb / 1024
			}
		}
	}
	return out
}

// report prints the figures. Not from runtime.ReadMemStats: under efence Go 1.19 throws
// "mappedReady and other memstats are not equal" there (faulted stacks stay counted).
func report(start time.Time, extra string) {
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	st := status()
	fmt.Printf("elapsed_s=%.2f maps=%d vmsize_mib=%d vmrss_mib=%d vmhwm_mib=%d gc=%d %s\n",
		time.Since(start).Seconds(), countMaps(), st["VmSize"], st["VmRSS"], st["VmHWM"],
		gc.NumGC, extra)
}

//go:noinline
func deepen(n int) int {
	var pad [512]byte
	pad[n%512] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deepen(n-1) + int(pad[n%512])
}

// goroutines starts n goroutines that stay alive. With grow each first deepens its stack
// (its first 8 KiB stack is copied to a bigger one and freed); with half, every second one
// then exits, so that live and freed (under efence: faulted) stacks alternate.
func goroutines(n int, grow, half bool) {
	start := time.Now()
	var ready, done sync.WaitGroup
	release := make([]chan struct{}, 2)
	for i := range release {
		release[i] = make(chan struct{})
	}
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func(ch chan struct{}) {
			if grow {
				deepen(16) // ~10 KiB of frames
			}
			ready.Done()
			<-ch
			done.Done()
		}(release[i%2])
		if (i+1)%1000 == 0 {
			ready.Wait()
			fmt.Fprintf(os.Stderr, "progress goroutines=%d maps=%d\n", i+1, countMaps())
		}
	}
	ready.Wait()
	alive := n
	if half {
		close(release[1])
		for i := 0; i < n/2; i++ {
			runtime.Gosched()
		}
		// Exited goroutines' stacks are freed when the GC next runs.
		runtime.GC()
		alive = n - n/2
	}
	report(start, fmt.Sprintf("goroutines=%d alive=%d", n, alive))
	close(release[0])
	if !half {
		close(release[1])
	}
	done.Wait()
}

func large(mib int) {
	start := time.Now()
	sizes := []int{64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20}
	var live [8][]byte
	total, i := 0, 0
	for total < mib<<20 {
		b := make([]byte, sizes[i%len(sizes)])
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(j)
		}
		live[i%len(live)] = b
		total += len(b)
		i++
	}
	report(start, fmt.Sprintf("allocs=%d total_mib=%d", i, total>>20))
}

func main() {
	C.cgo_touch(1)
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: efence_cost goroutines N [grow] [half] | large MiB")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "goroutines":
		opt := strings.Join(os.Args[3:], ",")
		goroutines(n, strings.Contains(opt, "grow"), strings.Contains(opt, "half"))
	case "large":
		large(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
