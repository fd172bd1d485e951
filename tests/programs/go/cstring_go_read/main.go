// cstring_go_read: a C string freed, then read by Go code (C.GoString runs in Go, not C).
// "bug" reads after C.free (heap-use-after-free from Go code: after the report Go prints
// its own "unexpected fault address" crash and exits 2). "ok" reads before freeing.
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
	kept := map[string]*C.char{"greeting": C.CString("hello, gamma")}
	p := kept["greeting"]
	showPtr(mode, uintptr(unsafe.Pointer(p)))
	switch mode {
	case "ok":
		s := C.GoString(kept["greeting"])
		C.free(unsafe.Pointer(p))
		delete(kept, "greeting")
		fmt.Println("read:", s)
	case "bug":
		C.free(unsafe.Pointer(p))
		s := C.GoString(kept["greeting"])
		fmt.Println("read:", len(s))
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
