// retain_stack: a goroutine gives C the address of one of its locals (as an integer: the
// local stays on the goroutine stack) and C keeps it after the call returns; the goroutine
// then waits, alive. cgosan reports go-pointer-retained with the goroutine's stack as the
// object (region go-stack, its goroutine id) and the global kept_addr as the holder.
package main

/*
#include <stdint.h>

uintptr_t kept_addr;

__attribute__((noinline)) void keep(uintptr_t p) { kept_addr = p; }
*/
import "C"

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"time"
	"unsafe"
)

// goid is the current goroutine's id, from the header line of its traceback.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	id, err := strconv.Atoi(string(f[1]))
	if err != nil {
		panic("cannot parse " + string(buf))
	}
	return id
}

// The goroutine's id and the address it gave C, for main to print: printing here could grow
// this goroutine's stack, which would move the local.
type kept struct{ goroutine, addr uintptr }

func worker(ready chan<- kept, release <-chan struct{}) {
	id := goid()
	var local [4]uint64
	local[0] = 0x1122334455667788
	addr := uintptr(unsafe.Pointer(&local[0]))
	C.keep(C.uintptr_t(addr)) // KEEP
	ready <- kept{uintptr(id), addr}
	<-release
	if local[0] == 0 { // local stays a variable of this frame
		panic("unreachable")
	}
}

func main() {
	ready, release := make(chan kept, 1), make(chan struct{})
	go worker(ready, release)
	k := <-ready
	fmt.Printf("goroutine=%d\nptr=0x%x\n", k.goroutine, k.addr)
	time.Sleep(150 * time.Millisecond)
	close(release)
	time.Sleep(10 * time.Millisecond)
	fmt.Println("done")
}
