// retain_freed_holder: a correct program whose freed C blocks still hold Go pointers. Each
// call stores its Go pointer (a fresh Go object each time, all kept alive) in a block it
// mallocs, stays in C for a millisecond, and frees the block before returning: the freed
// block waits in cgosan's quarantine with the pointer still in it. A 32 MB live C heap
// makes each audit pass long, so blocks that were live when a pass took its snapshot are
// freed by the time the pass reads them. No finding, exit status 0.
package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void **heap;
void *volatile last_block;  // the block escapes: the compiler keeps its malloc and free

static void free_heap(int blocks) {
	for (int i = 0; i < blocks; i++) free(heap[i]);
	free(heap);
}

static void build_heap(int blocks, int size) {
	heap = malloc(blocks * sizeof(void *));
	for (int i = 0; i < blocks; i++) {
		heap[i] = malloc(size);
		memset(heap[i], 1, size);
	}
}

__attribute__((noinline)) int stash(void *p) {
	void **block = malloc(64);
	last_block = block;
	block[0] = p;  // kept only while the call runs: freed below with the pointer in it
	struct timespec ts = {0, 1000 * 1000};
	nanosleep(&ts, NULL);
	int v = *(volatile unsigned char *)block[0];
	free(block);
	return v;
}
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

func main() {
	C.build_heap(4096, 8192) // 32 MB
	var objects [][]byte
	total := 0
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		buf := make([]byte, 64)
		buf[0] = 1
		objects = append(objects, buf) // stays live: the pointer in the freed block points at a live object
		total += int(C.stash(unsafe.Pointer(&buf[0])))
	}
	C.free_heap(4096)
	fmt.Printf("calls ok: %v, objects live: %v\n", total == len(objects), len(objects) > 0)
}
