// go_stack_uaf: a goroutine gives C the address of one of its locals as an integer
// (C.uintptr_t: the local does not escape, it stays on the goroutine stack). Deep recursion
// then grows the stack: the runtime copies it to a larger one and frees the old one (the
// stack "moved"). C then reads through the kept address in read_kept, called from the same
// goroutine (a Go stack use after free). Under GODEBUG=efence=1 every goroutine stack comes
// from its own mapping and a freed one is faulted. Twin: go_stack_ok.
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
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"unsafe"
)

// deep uses about 600 bytes of stack per level: deep(2000) needs more than 1 MiB, so the
// goroutine's starting stack is copied (and freed) several times.
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

// goid is the current goroutine's id, from the header line of its traceback.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	if len(f) < 2 {
		panic("cannot parse " + string(buf))
	}
	id, err := strconv.Atoi(string(f[1]))
	if err != nil {
		panic("cannot parse " + string(buf))
	}
	return id
}

func worker(done chan<- struct{}) {
	defer close(done)
	id := goid()
	var local [4]uint64
	local[0] = 0x1122334455667788
	addr := uintptr(unsafe.Pointer(&local[0]))
	C.keep(C.uintptr_t(addr))
	deep(2000)
	fmt.Printf("goroutine=%d\nptr=0x%x\n", id, addr)
	runtime.GC()
	fmt.Printf("value=%#x\n", uint64(C.read_kept()))
	if local[0] == 0 { // local stays a variable of this frame (no escape, no dead store)
		panic("unreachable")
	}
}

func main() {
	done := make(chan struct{})
	go worker(done)
	<-done
}
