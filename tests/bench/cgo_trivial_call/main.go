// cgo_trivial_call: N cgo calls of a trivial C function and nothing else, for
// scripts/bench: the wall-time difference with and without cgosan, divided by N, is what
// cgosan adds to one cgo call (its call interception thunk).
// usage: cgo_trivial_call [iterations]
package main

/*
static int add(int a, int b) { return a + b; }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	iterations := 5000000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "usage: cgo_trivial_call [iterations]")
			os.Exit(2)
		}
		iterations = n
	}
	sum := C.int(0)
	for i := 0; i < iterations; i++ {
		sum = C.add(sum, 1)
	}
	fmt.Printf("cgo_trivial_call: %d calls, checksum %d\n", iterations, int(sum))
}
