module cgosan.test/retain_stack

go 1.19
