module cgosan.test/map_grow_concurrent

go 1.19
