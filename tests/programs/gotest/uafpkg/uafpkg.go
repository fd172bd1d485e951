// Package uafpkg keeps C strings in a Go map (a test file cannot use cgo itself, so the C
// side lives here). Its test TestUseAfterFree frees an entry but leaves the pointer in the
// map, then C reads it: a heap-use-after-free that `cgosan test` must report.
package uafpkg

/*
#include <stdlib.h>

__attribute__((noinline)) static int read_first_byte(const char *p) {
	return (unsigned char)p[0];
}
*/
import "C"

import "unsafe"

// Names maps keys to C strings owned by the map.
type Names map[string]*C.char

// NewNames allocates one C string "hello, <key>" per key.
func NewNames(keys ...string) Names {
	n := Names{}
	for _, k := range keys {
		n[k] = C.CString("hello, " + k)
	}
	return n
}

// FreeOnly frees the C string of key but leaves the pointer in the map (the bug).
func (n Names) FreeOnly(key string) {
	C.free(unsafe.Pointer(n[key]))
}

// Remove frees the C string of key and deletes the entry.
func (n Names) Remove(key string) {
	C.free(unsafe.Pointer(n[key]))
	delete(n, key)
}

// First reads the first byte of key's C string in C.
func (n Names) First(key string) int {
	return int(C.read_first_byte(n[key]))
}

// Close frees every C string left.
func (n Names) Close() {
	for k := range n {
		n.Remove(k)
	}
}
