// Package cbuf wraps a C buffer; Checksum reads it after freeing it.
package cbuf

/*
#include <stdlib.h>
static int sum_bytes(const char* p, int n) { int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }
*/
import "C"
import "unsafe"

func checksumFreed(s string) int {
	p := C.CString(s)
	C.free(unsafe.Pointer(p))
	return int(C.sum_bytes(p, C.int(len(s))))
}

// Checksum returns the byte sum of s.
func Checksum(s string) int { return checksumFreed(s) }
