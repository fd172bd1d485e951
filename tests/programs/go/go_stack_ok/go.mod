module cgosan.test/go_stack_ok

go 1.19
