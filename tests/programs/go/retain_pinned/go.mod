module cgosan.test/retain_pinned

go 1.19
