// efence_getenv: prints the GODEBUG and CGOSAN_OPTIONS it was started with, and whether
// the runtime honours efence: a freed large object's pages are then PROT_NONE.
// Output lines: GODEBUG=<value or <unset>>, CGOSAN_OPTIONS=<...>, freed_large_perms=<rwxp>.
package main

// static int one(void) { return 1; }
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

func getenv(key string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return "<unset>"
}

// permsAt returns the permissions of the mapping holding addr, from /proc/self/maps.
func permsAt(addr uintptr) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return "?"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		bounds := strings.SplitN(fields[0], "-", 2)
		lo, _ := strconv.ParseUint(bounds[0], 16, 64)
		hi, _ := strconv.ParseUint(bounds[1], 16, 64)
		if uint64(addr) >= lo && uint64(addr) < hi {
			return fields[1]
		}
	}
	return "none"
}

//go:noinline
func largeAddress() uintptr {
	b := make([]byte, 1<<20)
	b[0] = 1
	return uintptr(unsafe.Pointer(&b[0]))
}

func main() {
	C.one()
	fmt.Printf("GODEBUG=%s\n", getenv("GODEBUG"))
	fmt.Printf("CGOSAN_OPTIONS=%s\n", getenv("CGOSAN_OPTIONS"))
	addr := largeAddress()
	runtime.GC() // the span is freed by the sweep that follows the cycle
	runtime.GC()
	fmt.Printf("freed_large_perms=%s\n", permsAt(addr))
}
