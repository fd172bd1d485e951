module cgosan.test/retain_map_bucket

go 1.19
