module cgosan.test/swiss_map_ok

go 1.19
