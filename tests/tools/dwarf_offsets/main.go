// dwarf_offsets prints the layout of Go runtime types from a binary's DWARF, for the unit
// tests that check cgosan's per-version layout tables against real binaries:
//
//	dwarf_offsets BINARY TYPE...
//
// prints "TYPE size N" and "TYPE.FIELD OFFSET SIZE" for every field of each named struct.
package main

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: dwarf_offsets BINARY TYPE...")
		os.Exit(2)
	}
	f, err := elf.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	d, err := f.DWARF()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	want := map[string]bool{}
	for _, w := range os.Args[2:] {
		want[w] = true
	}
	r := d.Reader()
	for len(want) > 0 {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		if !want[name] {
			r.SkipChildren()
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			continue
		}
		st, ok := t.(*dwarf.StructType)
		if !ok {
			continue
		}
		fmt.Printf("%s size %d\n", name, st.ByteSize)
		for _, fl := range st.Field {
			fmt.Printf("%s.%s %d %d\n", name, fl.Name, fl.ByteOffset, fl.Type.Size())
		}
		delete(want, name)
		r.SkipChildren()
	}
}
