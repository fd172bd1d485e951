// cgocall_bench: a cgo call loop for scripts/bench (not a test). Each iteration makes one
// cgo call to a trivial C function and one C.malloc/C.free pair (with a C.CString and
// C.GoString every 16th iteration), the traffic of a Go program that wraps a C library.
// usage: cgocall_bench [iterations]
package main

/*
#include <stdlib.h>
#include <string.h>

static int add(int a, int b) { return a + b; }

static void fill(void *p, size_t n) { memset(p, 1, n); }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

func main() {
	iterations := 300000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "usage: cgocall_bench [iterations]")
			os.Exit(2)
		}
		iterations = n
	}
	sum := 0
	for i := 0; i < iterations; i++ {
		sum += int(C.add(C.int(i), 1))
		size := C.size_t(16 + i%240)
		p := C.malloc(size)
		C.fill(p, size)
		C.free(p)
		if i%16 == 0 {
			cs := C.CString("cgosan benchmark")
			sum += len(C.GoString(cs))
			C.free(unsafe.Pointer(cs))
		}
	}
	fmt.Printf("cgocall_bench: %d iterations, checksum %d\n", iterations, sum)
}
