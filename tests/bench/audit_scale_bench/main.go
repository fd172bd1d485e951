// audit_scale_bench: what the retention audits cost a program with a large live C heap, for
// scripts/bench (not a test; driver: scripts/lib/bench_audits.py).
//
// It allocates MB megabytes of live C heap in blocks of 256 B .. 64 KiB (sizes spread
// evenly over powers of two, every byte written; one block in 4 holds C pointers to other
// blocks, one in 16 is calloc'd and holds nothing), then for SECONDS seconds:
//   - the main goroutine makes a cgo call with a Go pointer every millisecond, so that under
//     cgosan an audit is asked for after each (at most one per retention_interval_ms);
//   - a C thread (no Go on it) runs a tight malloc/free loop and records the longest gap
//     between two iterations: what a C thread of the program feels of the audits;
//   - a goroutine runs a tight Go loop and records its longest gap likewise.
// Each loop also records its longest gap during which its thread was not preempted (no
// involuntary context switch, from getrusage(RUSAGE_THREAD)): on a loaded machine other
// processes preempt the loops for 100 ms and more, which hides what cgosan costs; a wait
// for a lock (spinning, yielding) or in the kernel is still counted.
// Output (stdout), one line each: "heap: ...", "c-loop: ...", "go-loop: ...".
// Under cgosan with verbosity=1 the audit statistics come at exit on stderr.
// usage: audit_scale_bench MB SECONDS
package main

/*
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next_random(uint64_t *s) {
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void **blocks;
static long num_blocks;

// Live heap of `bytes`: returns the number of blocks.
static long build_heap(uint64_t bytes) {
	uint64_t state = 0x9e3779b97f4a7c15ull, total = 0;
	long cap = 1024;
	blocks = malloc(cap * sizeof(void *));
	while (total < bytes) {
		uint64_t r = next_random(&state);
		size_t lo = (size_t)256 << (r % 8);  // 256 B .. 32 KiB, then up to twice that
		size_t n = lo + (size_t)((r >> 8) % lo);
		if (num_blocks == cap) {
			cap *= 2;
			blocks = realloc(blocks, cap * sizeof(void *));
		}
		void *b;
		if (num_blocks % 16 == 15) {
			b = calloc(1, n);  // holds nothing
		} else {
			b = malloc(n);
			// Small integers, never a pointer: every page is resident.
			uint64_t *w = b;
			for (size_t i = 0; i < n / 8; i++) w[i] = i;
			if (num_blocks % 4 == 0 && num_blocks > 0) {
				for (size_t i = 0; i < n / 8 && i < 64; i++) {
					w[i] = (uint64_t)(uintptr_t)blocks[next_random(&state) % num_blocks];
				}
			}
		}
		if (!b) abort();
		blocks[num_blocks++] = b;
		total += n;
	}
	return num_blocks;
}

static volatile int stop;
uint64_t c_iterations, c_worst_ns, c_over_1ms, c_over_10ms, c_worst_own_ns;

static long involuntary_switches(void) {
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nivcsw;
}

// The gap of an iteration during which the thread was not preempted (no involuntary
// context switch) is what the thread itself waited: for a lock, or in the kernel. Other
// processes on a loaded machine preempt it; that is not cgosan's.
static void *c_loop(void *arg) {
	(void)arg;
	uint64_t state = 12345, last = now_ns();
	long switches = involuntary_switches();
	while (!stop) {
		size_t n = 16 + next_random(&state) % 1024;
		char *p = malloc(n);
		p[0] = 1;
		free(p);
		uint64_t t = now_ns(), gap = t - last;
		long s = involuntary_switches();
		if (gap > c_worst_ns) c_worst_ns = gap;
		if (s == switches && gap > c_worst_own_ns) c_worst_own_ns = gap;
		if (gap > 1000000) c_over_1ms++;
		if (gap > 10000000) c_over_10ms++;
		last = now_ns();
		switches = s;
		c_iterations++;
	}
	return NULL;
}

static pthread_t c_thread;
static void start_c_loop(void) { pthread_create(&c_thread, NULL, c_loop, NULL); }
static void stop_c_loop(void) {
	stop = 1;
	pthread_join(c_thread, NULL);
}

static uint64_t sink;
static void take(char *p) { sink += (unsigned char)p[0]; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"sync/atomic"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: audit_scale_bench MB SECONDS")
		os.Exit(2)
	}
	mb, err1 := strconv.Atoi(os.Args[1])
	seconds, err2 := strconv.ParseFloat(os.Args[2], 64)
	if err1 != nil || err2 != nil || mb < 0 || seconds <= 0 {
		fmt.Fprintln(os.Stderr, "usage: audit_scale_bench MB SECONDS")
		os.Exit(2)
	}
	start := time.Now()
	n := C.build_heap(C.uint64_t(mb) << 20)
	fmt.Printf("heap: %d MB in %d blocks, built in %.3f s\n", mb, int64(n),
		time.Since(start).Seconds())

	var goStop atomic.Bool
	var goWorst, goWorstOwn, goIterations, goOver1ms, goOver10ms int64
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // RUSAGE_THREAD below is this goroutine's
		var ru syscall.Rusage
		syscall.Getrusage(rusageThread, &ru)
		switches := ru.Nivcsw
		last := time.Now()
		for !goStop.Load() {
			for i := 0; i < 100; i++ {
				sinkGo += uint64(i)
			}
			t := time.Now()
			gap := t.Sub(last).Nanoseconds()
			syscall.Getrusage(rusageThread, &ru)
			if gap > goWorst {
				goWorst = gap
			}
			if ru.Nivcsw == switches && gap > goWorstOwn {
				goWorstOwn = gap
			}
			switches = ru.Nivcsw
			t = time.Now()
			if gap > 1e6 {
				goOver1ms++
			}
			if gap > 1e7 {
				goOver10ms++
			}
			last = t
			goIterations++
		}
		close(done)
	}()
	C.start_c_loop()

	buf := make([]byte, 64)
	calls := 0
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for time.Now().Before(deadline) {
		C.take((*C.char)(unsafe.Pointer(&buf[0])))
		calls++
		time.Sleep(time.Millisecond)
	}
	goStop.Store(true)
	<-done
	C.stop_c_loop()
	fmt.Printf("calls: %d cgo calls with a Go pointer\n", calls)
	fmt.Printf("c-loop: %d iterations, worst gap %.3f ms, %d gaps over 1 ms, %d over 10 ms, "+
		"worst gap without preemption %.3f ms\n",
		uint64(C.c_iterations), float64(C.c_worst_ns)/1e6, uint64(C.c_over_1ms),
		uint64(C.c_over_10ms), float64(C.c_worst_own_ns)/1e6)
	fmt.Printf("go-loop: %d iterations, worst gap %.3f ms, %d gaps over 1 ms, %d over 10 ms, "+
		"worst gap without preemption %.3f ms\n",
		goIterations, float64(goWorst)/1e6, goOver1ms, goOver10ms, float64(goWorstOwn)/1e6)
}

var sinkGo uint64

const rusageThread = 1 // RUSAGE_THREAD
