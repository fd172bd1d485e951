module timeoutpkg

go 1.19
