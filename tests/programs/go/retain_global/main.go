// retain_global: C keeps a Go pointer (the address of a Go slice's array) in a C global
// after the cgo call that received it returned, while the slice is still alive: the cgo
// rule "C may not keep a copy of a Go pointer after the call returns" is broken, and
// cgosan reports go-pointer-retained naming the global (kept) and the Go line of the call
// (marked KEEP). Twin: retain_transient.
package main

/*
#include <stdint.h>

void *kept;

__attribute__((noinline)) void keep(void *p) { kept = p; }
*/
import "C"

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

func main() {
	buf := make([]byte, 64)
	p := unsafe.Pointer(&buf[0])
	fmt.Printf("ptr=0x%x\n", uintptr(p))
	C.keep(p) // KEEP
	time.Sleep(100 * time.Millisecond)
	runtime.KeepAlive(buf)
	fmt.Println("done")
}
