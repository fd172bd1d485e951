module example.com/uafpkg

go 1.19
