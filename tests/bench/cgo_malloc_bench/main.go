// cgo_malloc_bench: the C malloc/free-heavy workload called from Go, for scripts/bench (not
// a test). Two goroutines each make N/chunk cgo calls; each call runs `chunk` iterations of
// tests/bench/malloc_bench.c's loop in C (free the block in a random slot of a ring, malloc
// a new one of 16 B .. 64 KiB, mostly small, touch its first and last byte). The C code's
// blocks are allocated under a cgo call (origin under-go), the case guard=cgo samples.
// usage: cgo_malloc_bench [iterations per goroutine] [live blocks per goroutine]
package main

/*
#cgo CFLAGS: -I${SRCDIR}/..
#include <stdint.h>
#include <stdlib.h>

#include "random_sizes.h"

typedef struct {
	uint64_t state;
	unsigned char **slots;
	int nslots;
	unsigned long checksum;
} ring;

static ring *ring_new(int id, int nslots) {
	ring *r = calloc(1, sizeof(ring));
	r->state = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	r->slots = calloc(nslots, sizeof(unsigned char *));
	r->nslots = nslots;
	return r;
}

static void ring_churn(ring *r, long iterations) {
	for (long i = 0; i < iterations; i++) {
		int s = (int)(next_random(&r->state) % (uint64_t)r->nslots);
		if (r->slots[s]) r->checksum += r->slots[s][0];
		free(r->slots[s]);
		size_t n = random_size(&r->state);
		r->slots[s] = malloc(n);
		if (!r->slots[s]) abort();
		r->slots[s][0] = (unsigned char)i;
		r->slots[s][n - 1] = (unsigned char)i;
	}
}

static unsigned long ring_free(ring *r) {
	for (int s = 0; s < r->nslots; s++) free(r->slots[s]);
	unsigned long sum = r->checksum;
	free(r->slots);
	free(r);
	return sum;
}
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

const chunk = 1000 // iterations per cgo call

func arg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	n, err := strconv.Atoi(os.Args[i])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "usage: cgo_malloc_bench [iterations per goroutine] [live blocks per goroutine]")
		os.Exit(2)
	}
	return n
}

func main() {
	iterations := arg(1, 200000)
	slots := arg(2, 1024)
	var wg sync.WaitGroup
	sums := make([]uint64, 2)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := C.ring_new(C.int(g), C.int(slots))
			for done := 0; done < iterations; done += chunk {
				n := chunk
				if iterations-done < n {
					n = iterations - done
				}
				C.ring_churn(r, C.long(n))
			}
			sums[g] = uint64(C.ring_free(r))
		}(g)
	}
	wg.Wait()
	fmt.Printf("cgo_malloc_bench: 2 goroutines x %d iterations, %d live blocks each, checksum %d\n",
		iterations, slots, sums[0]+sums[1])
}
