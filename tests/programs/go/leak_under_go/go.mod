module cgosan.test/leak_under_go

go 1.19
