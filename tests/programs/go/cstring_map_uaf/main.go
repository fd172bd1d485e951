// cstring_map_uaf: C strings kept in a Go map. "bug" frees one through the map but leaves
// the pointer in the map, then C reads it (heap-use-after-free in read_first_byte).
// "ok" (the correct twin) reads first, then frees and deletes the entry.
package main

/*
#include <stdlib.h>

__attribute__((noinline)) int read_first_byte(const char *p) {
	return (unsigned char)p[0];
}
*/
import "C"

import (
	"fmt"
	"os"
	"sort"
	"unsafe"
)

func main() {
	mode := "bug"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	names := map[string]*C.char{}
	for _, k := range []string{"alpha", "beta", "gamma"} {
		names[k] = C.CString("hello, " + k) // "hello, gamma": 12 bytes + NUL = 13
	}
	p := names["gamma"]
	showPtr(mode, uintptr(unsafe.Pointer(p)))
	switch mode {
	case "ok":
		fmt.Printf("first=%c\n", rune(C.read_first_byte(names["gamma"])))
		C.free(unsafe.Pointer(names["gamma"]))
		delete(names, "gamma")
	case "bug":
		C.free(unsafe.Pointer(names["gamma"])) // the map still holds the pointer
		fmt.Printf("first=%d\n", int(C.read_first_byte(names["gamma"])))
		delete(names, "gamma")
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
	keys := make([]string, 0, len(names))
	for k, v := range names {
		keys = append(keys, k)
		C.free(unsafe.Pointer(v))
	}
	sort.Strings(keys)
	fmt.Println("left:", keys)
}

// showPtr prints the address a finding must name; the correct twin ("ok") prints none, so
// its output is the same with and without the preload.
func showPtr(mode string, p uintptr) {
	if mode != "ok" {
		fmt.Printf("ptr=0x%x\n", p)
	}
}
