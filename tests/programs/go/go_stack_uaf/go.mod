module cgosan.test/go_stack_uaf

go 1.19
