// free_go_slice: C.free of a pointer into a Go slice ("bug": invalid-free; Go 1.19's
// default cgocheck lets it through). "ok" copies the slice to C memory (C.CBytes) and frees
// that.
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

func main() {
	mode := "bug"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	buf := make([]byte, 64)
	for i := range buf {
		buf[i] = byte(i)
	}
	switch mode {
	case "ok":
		c := C.CBytes(buf)
		showPtr(mode, uintptr(c))
		C.free(c)
	case "bug":
		showPtr(mode, uintptr(unsafe.Pointer(&buf[0])))
		C.free(unsafe.Pointer(&buf[0]))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
	fmt.Println("done", buf[63])
}

// showPtr prints the address a finding must name; the correct twin ("ok") prints none, so
// its output is the same with and without the preload.
func showPtr(mode string, p uintptr) {
	if mode != "ok" {
		fmt.Printf("ptr=0x%x\n", p)
	}
}
