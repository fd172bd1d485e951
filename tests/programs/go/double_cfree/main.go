// double_cfree: C.free called twice on the same C.CString ("bug": double-free; after the
// report the process ends the Go way, SIGABRT -> exit 2). "ok" frees once.
package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

type handle struct {
	name *C.char
}

func (h *handle) Close() {
	C.free(unsafe.Pointer(h.name))
}

func main() {
	mode := "bug"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	h := &handle{name: C.CString("resource-42")}
	showPtr(mode, uintptr(unsafe.Pointer(h.name)))
	switch mode {
	case "ok":
		h.Close()
	case "bug":
		h.Close()
		h.Close() // closed twice: C.free of the same pointer again
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
	fmt.Println("done")
}

// showPtr prints the address a finding must name; the correct twin ("ok") prints none, so
// its output is the same with and without the preload.
func showPtr(mode string, p uintptr) {
	if mode != "ok" {
		fmt.Printf("ptr=0x%x\n", p)
	}
}
