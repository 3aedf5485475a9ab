module example.com/golden/foreign

go 1.26
