module cgosan.test/go_slice_ok

go 1.19
