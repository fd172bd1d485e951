// go_stack_ok: the correct twin of go_stack_uaf. The goroutine copies its local into C
// memory (C.malloc) and C keeps the address of the copy; the stack grows and moves as in
// go_stack_uaf, and read_kept reads the copy: no fault, no finding, exit 0. The output holds
// no addresses (it is compared with a run without cgosan).
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

// deep: as in go_stack_uaf, more than 1 MiB of stack for deep(2000).
//
//go:noinline
func deep(n int) byte {
	var pad [512]byte
	pad[n%512] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%512]
}

func worker(done chan<- struct{}) {
	defer close(done)
	var local [4]uint64
	local[0] = 0x1122334455667788
	copied := C.malloc(C.size_t(unsafe.Sizeof(local)))
	*(*[4]uint64)(copied) = local
	C.keep(C.uintptr_t(uintptr(copied)))
	deep(2000)
	runtime.GC()
	got := uint64(C.read_kept())
	C.free(copied)
	fmt.Printf("value=%#x\n", got)
	if got != local[0] {
		os.Exit(1)
	}
}

func main() {
	done := make(chan struct{})
	go worker(done)
	<-done
}
