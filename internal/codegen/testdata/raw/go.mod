module example.com/golden/raw

go 1.26
