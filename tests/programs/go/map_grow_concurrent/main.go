// map_grow_concurrent: a stress program without a bug. 16 goroutines each grow their own
// maps to 100000 entries, several rounds (every growth relocates a bucket array or group
// array, most of them large objects), clear them (a range-and-delete loop, which the
// compiler turns into a map clear; clear() would need go 1.21) and refill them, with cgo
// calls (C.CString, a C read, C.free) in between. Under cgosan: no crash, no finding,
// exit 0, the same output as without it.
package main

/*
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) size_t c_length(const char *s) { return strlen(s); }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"unsafe"
)

const (
	workers = 16
	rounds  = 4
	entries = 100000
)

// cRoundTrip sends a string through C memory and back.
func cRoundTrip(s string) int {
	cs := C.CString(s)
	n := int(C.c_length(cs))
	C.free(unsafe.Pointer(cs))
	return n
}

func work(id int) error {
	for round := 0; round < rounds; round++ {
		m := make(map[int]int) // no size hint: grows through every size
		for i := 0; i < entries; i++ {
			m[i*workers+id] = i
			if i%10000 == 0 {
				s := strconv.Itoa(i)
				if n := cRoundTrip(s); n != len(s) {
					return fmt.Errorf("worker %d: strlen %d, want %d", id, n, len(s))
				}
			}
		}
		if len(m) != entries {
			return fmt.Errorf("worker %d: len %d", id, len(m))
		}
		for k := range m { // compiled to a map clear: the arrays are reused
			delete(m, k)
		}
		for i := 0; i < entries/2; i++ {
			m[i] = -i
		}
		for i := 0; i < entries/2; i += 997 {
			if m[i] != -i {
				return fmt.Errorf("worker %d: m[%d] = %d", id, i, m[i])
			}
		}
		if round%2 == 1 { // odd rounds also delete one by one and regrow in a second map
			m2 := make(map[int]int)
			for k, v := range m {
				m2[k] = v
				delete(m, k)
			}
			if len(m) != 0 || len(m2) != entries/2 {
				return fmt.Errorf("worker %d: len %d, %d", id, len(m), len(m2))
			}
		}
		cRoundTrip("round " + strconv.Itoa(round))
	}
	return nil
}

func main() {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for id := 0; id < workers; id++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			if err := work(id); err != nil {
				errs <- err
			}
		}(id)
	}
	wg.Wait()
	close(errs)
	failed := false
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
	fmt.Printf("ok: %d workers, %d rounds, %d entries\n", workers, rounds, entries)
}
