// map_grow_bench: N small maps, each filled with 9 entries: the 9th insert grows the map
// once (one runtime.hashGrow call, or one Swiss table growth on Go 1.24), so with cgosan's
// runtime hooks on, each iteration is one hook hit. scripts/bench runs it with hooks on and
// off (go_hooks=0): the wall-time difference divided by N is the cost of one hit.
// usage: map_grow_bench [iterations]
package main

/*
static int nothing(void) { return 0; }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
)

var sink map[int]int

func main() {
	iterations := 200000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "usage: map_grow_bench [iterations]")
			os.Exit(2)
		}
		iterations = n
	}
	C.nothing() // a cgo program: cgosan attaches only to dynamically linked Go
	total := 0
	for i := 0; i < iterations; i++ {
		m := make(map[int]int)
		for k := 0; k < 9; k++ {
			m[k] = k
		}
		sink = m
		total += len(m)
	}
	fmt.Printf("map_grow_bench: %d maps, %d entries\n", iterations, total)
}
