// callback_chain: a use-after-free in C reached through a callback chain
// main.main -> C chain_outer -> exported Go goVisit -> C chain_inner_read.
// "bug" frees the C string before handing it down the chain, and chain_inner_read reads
// the freed block (heap-use-after-free); "ok" (the correct twin) frees it after the chain.
// A file with //export may only declare C functions in its preamble: the definitions are
// in chain.c, so this program is built as a directory (GO111MODULE=off go build .).
package main

/*
#include <stdlib.h>

int chain_outer(char *p);
int chain_inner_read(const char *p);
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// goVisit is called by chain_outer (C) and calls chain_inner_read (C) in turn.
//
//export goVisit
func goVisit(p *C.char) C.int {
	return C.chain_inner_read(p) + 1
}

func main() {
	mode := "bug"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	p := C.CString("hello, callback") // 15 bytes + NUL = 16
	var r C.int
	switch mode {
	case "ok":
		r = C.chain_outer(p)
		C.free(unsafe.Pointer(p))
	case "bug":
		showPtr(mode, uintptr(unsafe.Pointer(p)))
		C.free(unsafe.Pointer(p))
		r = C.chain_outer(p) // the chain reads the freed block
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
