// map_bucket_uaf: C keeps a pointer into a Go map's bucket array (a value slot of bucket 0)
// while Go keeps inserting; the map grows, evacuation finishes, the old array becomes
// garbage and two GCs free it. C then reads through the kept pointer in read_kept (a
// map-bucket use after relocation). With 2000 entries the array has B = 9 (78336 bytes):
// a large object, so GODEBUG=efence=1 faults it when it is freed.
// Bucket maps only (Go <= 1.23, or 1.24 built with GOEXPERIMENT=noswissmap): the hmap
// layout below is theirs. Twin: map_bucket_ok.
package main

/*
#include <stdint.h>

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

// arraySize is makeBucketArray's size for 2^b buckets (with its overflow buckets).
func arraySize(b uint8) uintptr {
	n := uintptr(1) << b
	if b >= 4 {
		n += uintptr(1) << (b - 4)
	}
	return n * bucketSize
}

func main() {
	if swissMaps {
		fmt.Fprintln(os.Stderr, "map_bucket_uaf needs bucket maps (GOEXPERIMENT=noswissmap)")
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
	ptr := base + valueSlot0
	fmt.Printf("map=0x%x\nbase=0x%x\nsize=%d\nptr=0x%x\n", uintptr(unsafe.Pointer(h)), base,
		arraySize(h.B), ptr)
	C.keep(C.uintptr_t(ptr))

	// Grow twice (len 2000 -> 8000: B 9 -> 10 -> 11); evacuation advances only on writes,
	// so go on until the last old array is dropped as well.
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
	fmt.Printf("value=%d\n", uint64(C.read_kept()))
	runtime.KeepAlive(m)
}
