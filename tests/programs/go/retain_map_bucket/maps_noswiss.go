//go:build !goexperiment.swissmap

package main

// swissMaps: this build uses the bucket maps of Go <= 1.23 (or GOEXPERIMENT=noswissmap).
const swissMaps = false
