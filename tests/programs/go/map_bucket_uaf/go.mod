module cgosan.test/map_bucket_uaf

go 1.19
