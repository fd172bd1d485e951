// demo_map_cstring reproduces a common cgo bug: a heap-use-after-free through a Go map.
//
// The program caches C copies of Go strings (C.CString) in a map[string]*C.char, so that a
// C library is handed the same char* every time without converting again. When an entry is
// dropped, forget() frees the C string but does not delete the map entry. The next lookup
// of that key hands C the dangling pointer, and C reads freed memory. Without a sanitizer
// nothing fails: the program quietly prints a wrong total (17 is right; glibc has already
// reused the freed bytes) or garbage. Under cgosan the read is a heap-use-after-free,
// reported with the C.free and C.CString call sites.
package main

/*
#include <stdlib.h>
#include <string.h>

// Stands for the C library: it reads the string it is given.
static int method_cost(const char *method) {
	return (int)strlen(method);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

var cache = map[string]*C.char{}

// intern returns the C copy of s, converting it only the first time.
func intern(s string) *C.char {
	if cs, ok := cache[s]; ok {
		return cs
	}
	cs := C.CString(s)
	cache[s] = cs
	return cs
}

// forget releases the C copy of s.
func forget(s string) {
	C.free(unsafe.Pointer(cache[s]))
	// BUG: delete(cache, s) is missing: the map keeps the freed pointer.
}

func main() {
	total := 0
	for _, m := range []string{"GET", "POST", "PUT"} {
		total += int(C.method_cost(intern(m)))
	}
	forget("POST")
	for _, m := range []string{"GET", "POST"} {
		total += int(C.method_cost(intern(m))) // "POST": C reads freed memory
	}
	fmt.Println("total cost:", total)
}
