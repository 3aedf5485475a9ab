module example.com/golden/minimal

go 1.26
