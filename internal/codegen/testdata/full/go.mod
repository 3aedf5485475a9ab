module example.com/golden/full

go 1.26
