//go:build !go1.21

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "retain_pinned needs runtime.Pinner (Go 1.21)")
	os.Exit(3)
}
