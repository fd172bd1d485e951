// go_slice_ok: the correct twin of go_slice_uaf. The 1 MiB slice is copied into C memory
// (C.CBytes) and C keeps an address in the copy; the slice becomes garbage and two GCs free
// it, as in go_slice_uaf, and read_kept reads the copy: no fault, no finding, exit 0. The
// output holds no addresses (it is compared with a run without cgosan).
package main

/*
#include <stdint.h>
#include <stdlib.h>

static uintptr_t kept_addr;

__attribute__((noinline)) void keep(uintptr_t p) { kept_addr = p; }

__attribute__((noinline)) uint64_t read_kept(void) {
	return *(volatile uint64_t *)kept_addr;
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

const (
	bufSize = 1 << 20
	offset  = 256
)

// fill allocates and fills the buffer and gives C the address of a copy in C memory; the
// slice is dead when fill returns.
//
//go:noinline
func fill() unsafe.Pointer {
	b := make([]byte, bufSize)
	for i := range b {
		b[i] = byte(i)
	}
	copied := C.CBytes(b)
	C.keep(C.uintptr_t(uintptr(copied) + offset))
	return copied
}

func main() {
	copied := fill()
	runtime.GC()
	runtime.GC()
	got := uint64(C.read_kept())
	C.free(copied)
	const want = 0x0706050403020100 // bytes 256..263 of the buffer: i & 0xff
	fmt.Printf("value=%#x\n", got)
	if got != want {
		os.Exit(1)
	}
}
