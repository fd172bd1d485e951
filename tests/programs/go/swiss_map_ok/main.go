// swiss_map_ok: the correct twin of swiss_map_uaf. Before the map grows, group 0 of the
// table's group array is copied into C memory (C.CBytes) and C keeps a pointer into the
// copy; the map then grows and splits exactly as in swiss_map_uaf, two GCs run, and
// read_kept reads the copy: no fault, no finding, exit 0. The output holds no addresses
// (it is compared with a run without cgosan).
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
		fmt.Fprintln(os.Stderr, "swiss_map_ok needs Go 1.24 Swiss maps")
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
	// Copy group 0 while the array is live: the table's field, read as a pointer.
	live := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(ts[0]), unsafe.Offsetof(ts[0].groups)))
	group0 := unsafe.Slice((*byte)(live), groupSize)
	want := *(*uint64)(unsafe.Pointer(&group0[elemSlot0]))
	copied := C.CBytes(group0)
	C.keep(C.uintptr_t(uintptr(copied) + elemSlot0))

	// Grow and split as swiss_map_uaf does.
	for i := startCount; len(m) < 2000 || inUse(mp, base); i++ {
		m[i] = val(i) // GROW
	}
	fmt.Printf("grown: len=%d\n", len(m))
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
