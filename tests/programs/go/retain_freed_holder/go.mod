module cgosan.test/retain_freed_holder

go 1.19
