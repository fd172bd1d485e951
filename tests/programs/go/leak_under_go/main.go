// leak_under_go: C code called from Go allocates blocks and drops them (origin under-go:
// unguarded with guard=cgo, so their allocation stacks take the path that walks the Go part
// once per cgo call). Mode "leak": main.first's call leaks 10 blocks of 21 bytes from
// leak_a, main.second's call 10 blocks of 34 bytes from leak_b: two leak findings, each
// naming its own C function and Go caller (a Go part reused from the previous call would
// name main.first twice). Mode "pair": one cgo call leaks 10 blocks of 55 bytes through
// via_x and 10 through via_y, whose frames are the same size: the malloc calls have the same
// caller at the same depth, so only their stacks' contents tell them apart (a per-thread
// cache of allocation stacks must not give via_y's blocks via_x's stack): two findings.
// Mode "ok": the same calls free what they allocate: no finding.
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

static volatile int marker;  // after the calls: no tail call, and via_x and via_y differ

__attribute__((noinline)) static void churn_55(int keep) { churn(10, 55, keep); marker = 0; }
__attribute__((noinline)) static void via_x(int keep) { churn_55(keep); marker = 1; }
__attribute__((noinline)) static void via_y(int keep) { churn_55(keep); marker = 2; }
__attribute__((noinline)) void leak_pair(int keep) {
	via_x(keep);
	via_y(keep);
	marker = 3;
}
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
	switch os.Args[1] {
	case "leak":
		first(1)
		second(1)
	case "pair":
		C.leak_pair(1)
	default:
		first(0)
		second(0)
		C.leak_pair(0)
	}
	fmt.Println("done")
}
