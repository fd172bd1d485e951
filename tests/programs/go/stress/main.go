// stress: correct cgo programs under load, for tests/integration/test_stress.py. Modes:
//   cgocalls G N   G goroutines, each N rounds of: C.CString + a C function that calls back
//                  into Go (exported goCallback) + C.free, C.malloc/C.free of mixed sizes.
//   maps G N       G goroutines, each growing its own maps to N entries (every growth a
//                  relocated bucket/group array, the hooked runtime functions), clearing and
//                  refilling them, with cgo calls in between.
//   fork K         C forks K times from this multi-threaded process (Go's threads plus C
//                  threads allocating): odd children keep allocating (C threads of their
//                  own too) and exit; even children exec /bin/echo. Then os/exec runs
//                  /bin/true from 8 goroutines at once.
// Prints what it did; any wrong result prints FAIL and exits 1.
package main

/*
#cgo LDFLAGS: -pthread
#include <stdlib.h>

int c_call_back(const char *s, int i);
int c_fork_children(int children);
void c_start_allocators(int n);
void c_stop_allocators(void);
*/
import "C"

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

var callbacks int64

//export goCallback
func goCallback(n C.int, i C.int) C.int {
	atomic.AddInt64(&callbacks, 1)
	return n + i
}

func cgoCalls(goroutines, rounds int) {
	var wg sync.WaitGroup
	var bad int64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				s := strconv.Itoa(g*rounds + i)
				cs := C.CString(s)
				if int(C.c_call_back(cs, C.int(i))) != len(s)+i {
					atomic.AddInt64(&bad, 1)
				}
				C.free(unsafe.Pointer(cs))
				p := C.malloc(C.size_t(1 + (g*31+i*17)%5000))
				*(*byte)(p) = byte(i)
				C.free(p)
			}
		}(g)
	}
	wg.Wait()
	fmt.Printf("cgocalls: goroutines=%d rounds=%d callbacks=%d bad=%d\n", goroutines, rounds,
		atomic.LoadInt64(&callbacks), bad)
	if bad != 0 || callbacks != int64(goroutines*rounds) {
		fmt.Println("FAIL")
		os.Exit(1)
	}
}

func growMaps(goroutines, entries int) {
	var wg sync.WaitGroup
	var bad int64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for round := 0; round < 2; round++ {
				m := make(map[int]int)
				for i := 0; i < entries; i++ {
					m[i*goroutines+g] = i
					if i%5000 == 0 {
						cs := C.CString("k")
						C.c_call_back(cs, 0)
						C.free(unsafe.Pointer(cs))
					}
				}
				for i := 0; i < entries; i += 97 {
					if m[i*goroutines+g] != i {
						atomic.AddInt64(&bad, 1)
					}
				}
				for k := range m {
					delete(m, k)
				}
				if len(m) != 0 {
					atomic.AddInt64(&bad, 1)
				}
			}
		}(g)
	}
	wg.Wait()
	fmt.Printf("maps: goroutines=%d entries=%d bad=%d\n", goroutines, entries, bad)
	if bad != 0 {
		fmt.Println("FAIL")
		os.Exit(1)
	}
}

func forks(children int) {
	C.c_start_allocators(4)
	failed := int(C.c_fork_children(C.int(children)))
	C.c_stop_allocators()
	var wg sync.WaitGroup
	var execFailed int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if err := exec.Command("/bin/true").Run(); err != nil {
					atomic.AddInt64(&execFailed, 1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("fork: children=%d failed=%d exec_failed=%d\n", children, failed, execFailed)
	if failed != 0 || execFailed != 0 {
		fmt.Println("FAIL")
		os.Exit(1)
	}
}

func arg(i, def int) int {
	if len(os.Args) > i {
		if v, err := strconv.Atoi(os.Args[i]); err == nil {
			return v
		}
	}
	return def
}

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: stress cgocalls|maps|fork ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "cgocalls":
		cgoCalls(arg(2, 1000), arg(3, 100))
	case "maps":
		growMaps(arg(2, 100), arg(3, 20000))
	case "fork":
		forks(arg(2, 20))
	default:
		fmt.Println("unknown mode")
		os.Exit(2)
	}
}
