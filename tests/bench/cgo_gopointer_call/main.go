// cgo_gopointer_call: N cgo calls of a trivial C function that receives one Go pointer, for
// scripts/bench (driver: scripts/lib/bench_audits.py). Under cgosan each such call is
// recorded for the retention audits (the call in progress, and a ring entry with its Go
// stack); the wall-time difference to the plain run, divided by N, is what one call costs.
// With the argument "noptr" the calls pass an integer instead (the thunk alone).
// usage: cgo_gopointer_call [iterations] [ptr|noptr]
package main

/*
#include <stdint.h>
uint64_t sink;
static void take(char *p) { sink += (uintptr_t)p & 1; }
static void take_int(uintptr_t v) { sink += v & 1; }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

func main() {
	iterations := 5000000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "usage: cgo_gopointer_call [iterations] [ptr|noptr]")
			os.Exit(2)
		}
		iterations = n
	}
	withPointer := len(os.Args) < 3 || os.Args[2] == "ptr"
	buf := make([]byte, 64)
	if withPointer {
		for i := 0; i < iterations; i++ {
			C.take((*C.char)(unsafe.Pointer(&buf[i&63])))
		}
	} else {
		for i := 0; i < iterations; i++ {
			C.take_int(C.uintptr_t(i))
		}
	}
	fmt.Printf("cgo_gopointer_call: %d calls (pointer: %v), checksum %d\n", iterations,
		withPointer, uint64(C.sink))
}
