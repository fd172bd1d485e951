module cgosan.test/go_slice_uaf

go 1.19
