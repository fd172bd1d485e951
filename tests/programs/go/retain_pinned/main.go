//go:build go1.21

// retain_pinned: C keeps a pointer to a Go object pinned with runtime.Pinner (Go 1.21+),
// which the cgo rules allow until Unpin. Mode "ok": C forgets it before Unpin: no finding.
// Mode "unpinned": Unpin first, then C goes on keeping it: go-pointer-retained.
package main

/*
#include <stdint.h>

void *kept;

__attribute__((noinline)) void keep(void *p) { kept = p; }
__attribute__((noinline)) void forget(void) { kept = 0; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"
)

type object struct{ a, b uint64 }

func main() {
	o := &object{a: 1}
	var pin runtime.Pinner
	pin.Pin(o)
	fmt.Printf("ptr=0x%x\n", uintptr(unsafe.Pointer(o)))
	C.keep(unsafe.Pointer(o)) // KEEP
	switch os.Args[1] {
	case "ok":
		time.Sleep(100 * time.Millisecond) // audits run while it is pinned
		C.forget()
		pin.Unpin()
	case "unpinned":
		pin.Unpin()
		time.Sleep(100 * time.Millisecond)
	}
	runtime.KeepAlive(o)
	fmt.Println("done")
}
