// goroutine_fault: a C string freed and then read by C, with both the free and the read
// made from a goroutine that is not main (started with go, joined with a WaitGroup).
// "bug" frees first and reads after (heap-use-after-free in read_first_byte, called by
// main.readInGoroutine); "ok" (the correct twin) reads first, then frees.
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
	"sync"
	"unsafe"
)

func main() {
	mode := "bug"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if mode != "bug" && mode != "ok" {
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
	p := C.CString("hello, goroutine") // 16 bytes + NUL = 17
	showPtr(mode, uintptr(unsafe.Pointer(p)))
	var wg sync.WaitGroup
	results := make(chan int, 1)
	wg.Add(1)
	go readInGoroutine(mode, p, results, &wg)
	wg.Wait()
	fmt.Printf("first=%c\n", rune(<-results))
}

// readInGoroutine runs on its own goroutine: the access stack of the finding must name it
// and end at runtime.goexit (a goroutine's outermost frame), not at main.main.
//
//go:noinline
func readInGoroutine(mode string, p *C.char, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	switch mode {
	case "ok":
		out <- int(C.read_first_byte(p))
		C.free(unsafe.Pointer(p))
	case "bug":
		C.free(unsafe.Pointer(p))
		out <- int(C.read_first_byte(p)) // use after free
	}
}

// showPtr prints the address a finding must name; the correct twin ("ok") prints none.
func showPtr(mode string, p uintptr) {
	if mode != "ok" {
		fmt.Printf("ptr=0x%x\n", p)
	}
}
