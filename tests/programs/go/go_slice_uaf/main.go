// go_slice_uaf: Go hands C the address of a 1 MiB slice's data as an integer
// (C.uintptr_t), so neither cgo's pointer checks nor the garbage collector know C kept it.
// The slice becomes garbage, two GCs free it, and C reads through the kept address in
// read_kept (a Go heap use after free). 1 MiB is a large object: GODEBUG=efence=1 faults
// it when it is freed. Twin: go_slice_ok.
package main

/*
#include <stdint.h>

static uintptr_t kept_addr;

__attribute__((noinline)) void keep(uintptr_t p) { kept_addr = p; }

__attribute__((noinline)) uint64_t read_kept(void) {
	return *(volatile uint64_t *)kept_addr;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

const (
	bufSize = 1 << 20
	offset  = 256 // C keeps a pointer into the middle of the object
)

// fill allocates and fills the buffer and gives C its address; the slice is dead when
// fill returns.
//
//go:noinline
func fill() uintptr {
	b := make([]byte, bufSize)
	for i := range b {
		b[i] = byte(i)
	}
	base := uintptr(unsafe.Pointer(&b[0]))
	fmt.Printf("base=0x%x\nsize=%d\nptr=0x%x\n", base, len(b), base+offset)
	C.keep(C.uintptr_t(base + offset))
	return base
}

func main() {
	fill()
	runtime.GC()
	runtime.GC()
	fmt.Printf("value=%#x\n", uint64(C.read_kept()))
}
