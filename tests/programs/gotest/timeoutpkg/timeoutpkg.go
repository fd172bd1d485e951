// Package timeoutpkg: a cgo package whose test outlives `go test -timeout`, so the test
// binary panics with "test timed out" and its goroutine dump (tests/integration/test_behaviour.py).
package timeoutpkg

// #include <unistd.h>
// static void c_nap(void) { usleep(1000); }
import "C"

// Nap sleeps a millisecond in C.
func Nap() { C.c_nap() }
