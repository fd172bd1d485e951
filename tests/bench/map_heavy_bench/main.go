// map_heavy_bench: a map-heavy Go program for scripts/bench (not a test). 4 goroutines
// insert N keys in total into maps that grow large: each goroutine fills one map after
// another, cycling through sizes of 3000, 30000 and 150000 entries and two map types
// (map[int]int and map[uint64][2]uint64), reads every key back and drops the map, so the
// GC frees the old bucket (group) arrays. Arrays above 32 KiB are the ones cgosan's map
// growth hooks trap on: a map[int]int's from about 833 entries on, so every map here passes
// through several trapped growths (one per doubling). Prints a checksum that depends only on
// N, so runs with and without cgosan can be compared.
// usage: map_heavy_bench [total inserts]
package main

/*
static int nothing(void) { return 0; }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

const goroutines = 4

var sizes = []int{3000, 30000, 150000}

var sinkInt map[int]int
var sinkPair map[uint64][2]uint64
var sinkMu sync.Mutex

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// fillInt inserts n keys into a fresh map[int]int and returns the sum of what it reads back.
func fillInt(seed uint64, n int) uint64 {
	m := make(map[int]int)
	for i := 0; i < n; i++ {
		k := int(mix(seed + uint64(i)))
		m[k] = i
	}
	var sum uint64
	for i := 0; i < n; i++ {
		sum += uint64(m[int(mix(seed+uint64(i)))])
	}
	sinkMu.Lock()
	sinkInt = m // kept until the next map of this type replaces it
	sinkMu.Unlock()
	return sum
}

func fillPair(seed uint64, n int) uint64 {
	m := make(map[uint64][2]uint64)
	for i := 0; i < n; i++ {
		k := mix(seed + uint64(i))
		m[k] = [2]uint64{uint64(i), k}
	}
	var sum uint64
	for i := 0; i < n; i++ {
		v := m[mix(seed+uint64(i))]
		sum += v[0] + v[1]
	}
	sinkMu.Lock()
	sinkPair = m
	sinkMu.Unlock()
	return sum
}

func main() {
	total := 6000000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "usage: map_heavy_bench [total inserts]")
			os.Exit(2)
		}
		total = n
	}
	C.nothing() // a cgo program: cgosan attaches only to dynamically linked Go

	sums := make([]uint64, goroutines)
	counts := make([]int, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			left := total / goroutines
			for round := 0; left > 0; round++ {
				n := sizes[round%len(sizes)]
				if n > left {
					n = left
				}
				seed := uint64(g)<<40 | uint64(round)<<20
				if round%2 == 0 {
					sums[g] += fillInt(seed, n)
				} else {
					sums[g] += fillPair(seed, n)
				}
				counts[g]++
				left -= n
			}
		}(g)
	}
	wg.Wait()
	var sum uint64
	maps := 0
	for g := 0; g < goroutines; g++ {
		sum += sums[g]
		maps += counts[g]
	}
	fmt.Printf("map_heavy_bench: %d inserts into %d maps, checksum %x\n",
		total/goroutines*goroutines, maps, sum)
}
