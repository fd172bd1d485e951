// leak_under_go: C code called from Go allocates blocks and drops them (origin under-go:
// unguarded with guard=cgo, so their allocation stacks take the path that walks the Go part
// once per cgo call). Mode "leak": main.first's call leaks 10 blocks of 21 bytes from
// leak_a, main.second's call 10 blocks of 34 bytes from leak_b: two leak findings, each
// naming its own C function and Go caller (a Go part reused from the previous call would
// name main.first twice). Mode "ok": the same calls free what they allocate: no finding.
package main

/*
#include <stdlib.h>

static void* volatile sink;  // keeps the compiler from dropping the mallocs

static void churn(int n, size_t size, int keep) {
	for (int i = 0; i < n; i++) {
		char* p = malloc(size);
		p[0] = 1;
		sink = p;
		if (!keep) free(p);
	}
	sink = 0;
}

__attribute__((noinline)) void leak_a(int keep) { churn(10, 21, keep); }
__attribute__((noinline)) void leak_b(int keep) { churn(10, 34, keep); }
*/
import "C"

import (
	"fmt"
	"os"
)

//go:noinline
func first(keep C.int) {
	C.leak_a(keep) // LEAK_A
}

//go:noinline
func second(keep C.int) {
	C.leak_b(keep) // LEAK_B
}

func main() {
	keep := C.int(0)
	if os.Args[1] == "leak" {
		keep = 1
	}
	first(keep)
	second(keep)
	fmt.Println("done")
}
