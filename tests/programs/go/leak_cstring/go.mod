module cgosan.test/leak_cstring

go 1.19
