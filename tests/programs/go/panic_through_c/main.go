// panic_through_c: Go panics in a callback called from C; the panic unwinds through the C
// frames and is recovered by the Go caller of C. The C frames (and cgosan's record of the
// cgo call in progress) are abandoned without returning. Afterwards "bug" reads a freed
// C string in a new cgo call: the report must name that call, never the abandoned one.
// "ok" is the correct twin. Built as a directory (the //export needs outer.c).
package main

/*
#include <stdlib.h>

void call_go_that_panics(void);
int read_first(const char *p);
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

//export goPanics
func goPanics() {
	panic("boom from a callback")
}

func callAndRecover() (recovered bool) {
	defer func() { recovered = recover() != nil }()
	C.call_go_that_panics()
	return false
}

func main() {
	mode := "bug"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	// More than the 64 calls cgosan keeps per thread: without resynchronisation by stack
	// pointer, the abandoned records would pile up and hide the real call.
	for i := 0; i < 100; i++ {
		if !callAndRecover() {
			fmt.Println("panic was not recovered")
			os.Exit(3)
		}
	}
	p := C.CString("after the panics") // 16 bytes + NUL
	switch mode {
	case "ok":
		fmt.Printf("first=%c\n", rune(C.read_first(p)))
		C.free(unsafe.Pointer(p))
	case "bug":
		fmt.Printf("ptr=0x%x\n", uintptr(unsafe.Pointer(p)))
		C.free(unsafe.Pointer(p))
		fmt.Printf("first=%c\n", rune(C.read_first(p)))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
}
