module cgosan.test/retain_transient

go 1.19
