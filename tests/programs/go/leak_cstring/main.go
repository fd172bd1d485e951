// leak_cstring: Go keeps C.CString values in a map and clears the map. Mode "leak": without
// C.free, so 100 blocks of 13 bytes (marked CSTRING) are unreachable at exit: one leak
// finding "1300 bytes in 100 blocks", and exit status 0 becomes cgosan's exitcode. Mode
// "ok": each value is freed before the clear: no finding, exit status 0. A second argument
// "exit3" ends the program with status 3 (which cgosan keeps).
package main

// #include <stdlib.h>
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

//go:noinline
func fill(m map[int]*C.char) {
	for i := 0; i < 100; i++ {
		m[i] = C.CString("hello, world") // CSTRING
	}
}

//go:noinline
func scrub(depth int) int {
	var pad [256]byte // overwrite dead stack slots that held the CStrings
	if depth == 0 {
		return int(pad[0])
	}
	return scrub(depth-1) + int(pad[depth%256])
}

func main() {
	// Sized for its 100 entries: a map that grows leaves its old arrays, with copies of the
	// pointers, in Go memory that may still count as allocated at exit (a leak is then missed).
	m := make(map[int]*C.char, 100)
	fill(m)
	if os.Args[1] == "ok" {
		for _, p := range m {
			C.free(unsafe.Pointer(p))
		}
	}
	for k := range m {
		delete(m, k)
	}
	runtime.GC()
	scrub(64)
	fmt.Printf("len=%d\n", len(m))
	if len(os.Args) > 2 && os.Args[2] == "exit3" {
		os.Exit(3)
	}
}
