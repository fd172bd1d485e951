// efence_locked_thread_exit: goroutines that end while locked to their thread, so that the
// runtime destroys those threads (runtime.mexit). mexit blocks every signal and then frees
// the thread's signal stack; under GODEBUG=efence=1 that free faults the stack (from Go 1.23
// on through runtime.sysFaultOS), so a breakpoint there runs with SIGTRAP blocked.
// The same pattern as Go's own TestSetgidStress. Prints "ok" and exits 0 when all is well.
package main

// static int one(void) { return 1; }
import "C"

import (
	"fmt"
	"runtime"
)

func main() {
	const n = 50
	done := make(chan bool)
	for i := 0; i < n; i++ {
		go func() {
			C.one()
			done <- true
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		}()
	}
	for i := 0; i < n; i++ {
		<-done
	}
	for i := 0; i < 20; i++ {
		runtime.GC()
	}
	fmt.Println("ok")
}
