//go:build goexperiment.swissmap

package main

// swissMaps: this build uses Go 1.24's Swiss-table maps (internal/runtime/maps).
const swissMaps = true
