// retain_global: C keeps a Go pointer (the address of a Go slice's array) in a C global
// after the cgo call that received it returned, while the slice is still alive: the cgo
// rule "C may not keep a copy of a Go pointer after the call returns" is broken, and
// cgosan reports go-pointer-retained naming the global (kept) and the Go line of the call
// (marked KEEP). Twin: retain_transient. Mode "two": via_a and via_b, whose frames are the
// same size, each give C one slice at the same depth through the same C function, and C
// keeps both (kept_slots[0] and [1]): two findings, each naming its own caller (the
// thunk's per-thread cache of calling goroutines' frames must tell them apart). Mode
// "outer": the same through outerA and outerB (same frame size), which both call inner,
// which calls C: the two calls differ only in the return address into outerA or outerB,
// two frames above the call (the cache confirms every frame, not only the innermost one).
// Mode "again": keepFirst and then keepAgain give C the same pointer, which C keeps: one
// finding, naming the later call (marked TWICE; calls of one thread between two
// audits are ordered by the thread's own count).
package main

/*
#include <stdint.h>

void *kept;

__attribute__((noinline)) void keep(void *p) { kept = p; }

void *kept_slots[2];
__attribute__((noinline)) void keep_at(void *p, int i) { kept_slots[i] = p; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"
)

//go:noinline
func viaA(p unsafe.Pointer) {
	C.keep_at(p, 0) // VIA_A
}

//go:noinline
func viaB(p unsafe.Pointer) {
	C.keep_at(p, 1) // VIA_B
}

//go:noinline
func inner(p unsafe.Pointer, i C.int) {
	C.keep_at(p, i)
}

//go:noinline
func outerA(p unsafe.Pointer) {
	inner(p, 0) // OUTER_A
}

//go:noinline
func outerB(p unsafe.Pointer) {
	inner(p, 1) // OUTER_B
}

//go:noinline
func keepFirst(p unsafe.Pointer) {
	C.keep(p) // ONCE
}

//go:noinline
func keepAgain(p unsafe.Pointer) {
	C.keep(p) // TWICE
}

func again() {
	buf := make([]byte, 64)
	p := unsafe.Pointer(&buf[0])
	fmt.Printf("ptr=0x%x\n", uintptr(p))
	keepFirst(p)
	keepAgain(p)
	time.Sleep(100 * time.Millisecond)
	runtime.KeepAlive(buf)
	fmt.Println("done")
}

// two gives C two slices, through callA and then callB.
func two(callA, callB func(unsafe.Pointer)) {
	a, b := make([]byte, 64), make([]byte, 64)
	fmt.Printf("a=0x%x\nb=0x%x\n", uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0])))
	callA(unsafe.Pointer(&a[0]))
	callB(unsafe.Pointer(&b[0]))
	time.Sleep(100 * time.Millisecond)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	fmt.Println("done")
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "two" {
		two(viaA, viaB)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "outer" {
		two(outerA, outerB)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "again" {
		again()
		return
	}
	buf := make([]byte, 64)
	p := unsafe.Pointer(&buf[0])
	fmt.Printf("ptr=0x%x\n", uintptr(p))
	C.keep(p) // KEEP
	time.Sleep(100 * time.Millisecond)
	runtime.KeepAlive(buf)
	fmt.Println("done")
}
