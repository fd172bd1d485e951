// retain_map_bucket: C keeps a pointer into a small Go map's bucket array (B = 3: 1152
// bytes, a small object that no page protection can isolate, so no fault is possible) in a
// block Go allocated with C.malloc (marked ALLOC); the map then grows (marked GROW). cgosan
// reports go-pointer-retained: object "bucket array of map[int]int", holder the C heap
// block allocated by C.malloc at the ALLOC line. Bucket maps only (Go <= 1.23, or 1.24
// built with GOEXPERIMENT=noswissmap).
package main

/*
#include <stdint.h>
#include <stdlib.h>

typedef struct { uintptr_t bucket; } holder;

__attribute__((noinline)) void keep_in(holder *h, uintptr_t p) { h->bucket = p; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"
)

type hmapHeader struct {
	count      int
	flags      uint8
	B          uint8
	noverflow  uint16
	hash0      uint32
	buckets    uintptr
	oldbuckets uintptr
	nevacuate  uintptr
}

var sink map[int]int

func main() {
	if swissMaps {
		fmt.Fprintln(os.Stderr, "retain_map_bucket needs bucket maps (GOEXPERIMENT=noswissmap)")
		os.Exit(3)
	}
	m := make(map[int]int)
	sink = m
	for i := 0; i < 40; i++ {
		m[i] = i
	}
	h := *(**hmapHeader)(unsafe.Pointer(&m))
	if h.B != 3 || h.oldbuckets != 0 {
		fmt.Fprintf(os.Stderr, "unexpected map state: B=%d oldbuckets=%#x\n", h.B, h.oldbuckets)
		os.Exit(3)
	}
	ptr := h.buckets + 8 + 8*8 // the first value slot of bucket 0
	fmt.Printf("map=0x%x\nbase=0x%x\nptr=0x%x\n", uintptr(unsafe.Pointer(h)), h.buckets, ptr)
	block := (*C.holder)(C.malloc(C.sizeof_holder)) // ALLOC
	fmt.Printf("holder=0x%x\n", uintptr(unsafe.Pointer(block)))
	C.keep_in(block, C.uintptr_t(ptr))
	for i := 40; i < 60; i++ {
		m[i] = i // GROW
	}
	time.Sleep(150 * time.Millisecond)
	C.free(unsafe.Pointer(block))
	runtime.KeepAlive(m)
	fmt.Println("done")
}
