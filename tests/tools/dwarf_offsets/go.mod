module cgosan.test/dwarf_offsets

go 1.19
