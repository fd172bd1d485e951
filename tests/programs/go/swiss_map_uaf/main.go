// swiss_map_uaf: C keeps a pointer into a Swiss-table map's group array (the value of slot 0
// of group 0) while Go keeps inserting; the table grows (a new, larger group array; the old
// table and its array become garbage) and later splits; two GCs free the old array. C then
// reads through the kept pointer in read_kept (a map use after relocation).
// map[int][128]byte: 128-byte values are the largest a Swiss map stores in its slots (larger
// ones are stored indirectly), a group is 8 + 8*(8+128) = 1096 bytes, and with 300 entries
// the table has 512 slots: a 70144-byte group array, a large object that
// GODEBUG=efence=1 faults when it is freed.
// Go 1.24 Swiss maps only (internal/runtime/maps layout below). Twin: swiss_map_ok.
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

// swissMap mirrors the start of internal/runtime/maps.Map (Go 1.24).
type swissMap struct {
	used   uint64
	seed   uintptr
	dirPtr unsafe.Pointer // *[dirLen]*table once the map has tables
	dirLen int
}

// swissTable mirrors internal/runtime/maps.table (Go 1.24).
type swissTable struct {
	used       uint16
	capacity   uint16
	growthLeft uint16
	localDepth uint8
	index      int
	groups     uintptr // uintptr, not a pointer: nothing here keeps an array alive
	lengthMask uint64
}

type value [128]byte

const (
	slotSize   = 8 + 128
	groupSize  = 8 + 8*slotSize // control word, 8 slots
	elemSlot0  = 8 + 8          // control word, key of slot 0
	startCount = 300
)

// sink makes the map escape: a map header on the goroutine stack would move with it.
var sink map[int]value

func header(m map[int]value) *swissMap {
	return *(**swissMap)(unsafe.Pointer(&m))
}

func tables(mp *swissMap) []*swissTable {
	if mp.dirLen == 0 {
		return nil // a small map: dirPtr is a single group
	}
	return unsafe.Slice((**swissTable)(mp.dirPtr), mp.dirLen)
}

// inUse: does a table of the map still use the group array at base?
func inUse(mp *swissMap, base uintptr) bool {
	for _, t := range tables(mp) {
		if t.groups == base {
			return true
		}
	}
	return false
}

func val(i int) value {
	var v value
	*(*uint64)(unsafe.Pointer(&v[0])) = uint64(i)
	return v
}

func main() {
	if !swissMaps {
		fmt.Fprintln(os.Stderr, "swiss_map_uaf needs Go 1.24 Swiss maps")
		os.Exit(3)
	}
	m := make(map[int]value)
	sink = m
	for i := 0; i < startCount; i++ {
		m[i] = val(i)
	}
	mp := header(m)
	ts := tables(mp)
	if len(ts) != 1 || ts[0].capacity != 512 || ts[0].lengthMask != 63 {
		fmt.Fprintf(os.Stderr, "unexpected map state: dirLen=%d\n", mp.dirLen)
		os.Exit(3)
	}
	base := ts[0].groups
	ptr := base + elemSlot0
	fmt.Printf("map=0x%x\nbase=0x%x\nsize=%d\nptr=0x%x\n", uintptr(unsafe.Pointer(mp)), base,
		uintptr(ts[0].capacity/8)*groupSize, ptr)
	C.keep(C.uintptr_t(ptr))

	// 512 slots hold 448 entries; then the table grows to 1024 slots (a new array) and
	// later splits. Go on until no table uses the kept array.
	for i := startCount; len(m) < 2000 || inUse(mp, base); i++ {
		m[i] = val(i) // GROW
	}
	fmt.Printf("grown: len=%d\n", len(m))
	runtime.GC()
	runtime.GC()
	fmt.Printf("value=%d\n", uint64(C.read_kept()))
	runtime.KeepAlive(m)
}
