// retain_transient: the correct twin of retain_global. C keeps the Go pointer only while
// the call runs: it stores it in a C global and in a malloc'd block, uses it, and clears
// both before returning; meanwhile other goroutines make cgo calls with Go pointers of
// their own (so audits run while calls are in progress). No finding, exit status 0.
package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

void *current[4];  // one per calling goroutine

__attribute__((noinline)) int use(int g, void *p) {
	current[g] = p;
	void **slot = malloc(sizeof(void *));
	*slot = p;
	struct timespec ts = {0, 30 * 1000 * 1000};  // stays in the call across an audit
	nanosleep(&ts, NULL);
	int v = *(volatile unsigned char *)*slot;
	*slot = NULL;
	free(slot);
	current[g] = NULL;
	return v;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

func main() {
	var wg sync.WaitGroup
	total := 0
	var mu sync.Mutex
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				buf := make([]byte, 64)
				buf[0] = byte(g + i)
				v := int(C.use(C.int(g), unsafe.Pointer(&buf[0])))
				mu.Lock()
				total += v
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	fmt.Printf("total=%d\n", total)
}
