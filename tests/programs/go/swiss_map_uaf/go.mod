module cgosan.test/swiss_map_uaf

go 1.19
