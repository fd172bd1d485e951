module cgosan.test/map_bucket_ok

go 1.19
