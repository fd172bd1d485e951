// map_bucket_ok: the correct twin of map_bucket_uaf. Before the map grows, bucket 0 is
// copied into C memory (C.CBytes) and C keeps a pointer into the copy; the map then grows
// exactly as in map_bucket_uaf, two GCs run, and read_kept reads the copy: no fault, no
// finding, exit 0. The output holds no addresses (it is compared with a run without cgosan).
package main

/*
#include <stdint.h>
#include <stdlib.h>

static uintptr_t kept_addr;

__attribute__((noinline)) void keep(uintptr_t p) { kept_addr = p; }

__attribute__((noinline)) uint64_t read_kept(void) {
	return *(volatile uint64_t *)kept_addr;
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

// hmapHeader mirrors the start of runtime.hmap (the same in 1.19-1.24 noswissmap).
type hmapHeader struct {
	count      int
	flags      uint8
	B          uint8
	noverflow  uint16
	hash0      uint32
	buckets    uintptr // uintptr, not a pointer: nothing here keeps an array alive
	oldbuckets uintptr
	nevacuate  uintptr
}

const (
	bucketSize = 8 + 8*8 + 8*8 + 8 // tophash, keys, values, overflow (map[int]int)
	valueSlot0 = 8 + 8*8           // first value of a bucket
)

// sink makes the map escape: a map header on the goroutine stack would move with it.
var sink map[int]int

func header(m map[int]int) *hmapHeader {
	return *(**hmapHeader)(unsafe.Pointer(&m))
}

func main() {
	if swissMaps {
		fmt.Fprintln(os.Stderr, "map_bucket_ok needs bucket maps (GOEXPERIMENT=noswissmap)")
		os.Exit(3)
	}
	m := make(map[int]int)
	sink = m
	for i := 0; i < 2000; i++ {
		m[i] = i
	}
	h := header(m)
	if h.B < 8 || h.oldbuckets != 0 {
		fmt.Fprintf(os.Stderr, "unexpected map state: B=%d oldbuckets=%#x\n", h.B, h.oldbuckets)
		os.Exit(3)
	}
	base := h.buckets
	// Copy bucket 0 while the array is live (m is used below, so it is).
	live := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(h), unsafe.Offsetof(h.buckets)))
	bucket0 := unsafe.Slice((*byte)(live), bucketSize)
	want := *(*uint64)(unsafe.Pointer(&bucket0[valueSlot0]))
	copied := C.CBytes(bucket0)
	C.keep(C.uintptr_t(uintptr(copied) + valueSlot0))

	// Grow twice (len 2000 -> 8000: B 9 -> 10 -> 11), as map_bucket_uaf does.
	for i := 2000; len(m) < 8000 || h.oldbuckets != 0; i++ {
		m[i] = i // GROW
	}
	if h.buckets == base {
		fmt.Fprintln(os.Stderr, "the map did not move its buckets")
		os.Exit(3)
	}
	fmt.Printf("grown: len=%d B=%d\n", len(m), h.B)
	runtime.GC()
	runtime.GC()
	got := uint64(C.read_kept())
	C.free(copied)
	fmt.Printf("match=%v\n", got == want)
	if got != want {
		os.Exit(1)
	}
	runtime.KeepAlive(m)
}
