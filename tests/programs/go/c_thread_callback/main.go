// c_thread_callback: a thread that C creates (pthread_create in thread_run) calls the
// exported Go function goOnCThread, which calls the C function thread_inner_read.
// "bug" frees the C string first, so thread_inner_read reads a freed block on the C
// thread (heap-use-after-free); "ok" (the correct twin) frees it after the thread is done.
// The C definitions are in cthread.c (a file with //export may only declare them).
package main

/*
#cgo LDFLAGS: -pthread
#include <stdlib.h>

int thread_run(char *p);
int thread_inner_read(const char *p);
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// goOnCThread runs on the thread C created.
//
//export goOnCThread
func goOnCThread(p *C.char) C.int {
	return C.thread_inner_read(p) + 1
}

func main() {
	mode := "bug"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	p := C.CString("hello, C thread") // 15 bytes + NUL = 16
	var r C.int
	switch mode {
	case "ok":
		r = C.thread_run(p)
		C.free(unsafe.Pointer(p))
	case "bug":
		showPtr(mode, uintptr(unsafe.Pointer(p)))
		C.free(unsafe.Pointer(p))
		r = C.thread_run(p) // the C thread's callback reads the freed block
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
	fmt.Printf("result=%d\n", int(r))
}

// showPtr prints the address a finding must name; the correct twin ("ok") prints none.
func showPtr(mode string, p uintptr) {
	if mode != "ok" {
		fmt.Printf("ptr=0x%x\n", p)
	}
}
