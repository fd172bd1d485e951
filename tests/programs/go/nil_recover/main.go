// nil_recover: Go's own SIGSEGV handling must be unchanged under the preload.
// "recover": a nil dereference in Go code becomes a panic that recover() catches (x100).
// "crash": the same dereference not recovered: Go's panic output, exit 2.
// "cnull": a NULL dereference in C code: Go's "unexpected signal" fatal error, exit 2.
// Uses cgo (a Go binary without cgo is static and ignores LD_PRELOAD).
package main

/*
__attribute__((noinline)) int c_add(int a, int b) { return a + b; }
__attribute__((noinline)) int c_null_read(volatile int *p) { return *p; }
*/
import "C"

import (
	"fmt"
	"os"
)

type node struct {
	next  *node
	value int
}

//go:noinline
func deref(n *node) int {
	return n.value
}

func tryDeref(n *node) (v int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return deref(n), nil
}

func main() {
	mode := "recover"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	fmt.Println("c_add:", C.c_add(2, 3))
	switch mode {
	case "recover":
		var first error
		count := 0
		for i := 0; i < 100; i++ {
			_, err := tryDeref(nil)
			if err != nil {
				count++
				if first == nil {
					first = err
				}
			}
		}
		fmt.Println("recovered:", first)
		fmt.Println("count:", count)
		v, err := tryDeref(&node{value: 7})
		fmt.Println("value:", v, err)
	case "crash":
		fmt.Println(deref(nil))
	case "cnull":
		fmt.Println(C.c_null_read(nil))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
}
