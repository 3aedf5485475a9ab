module example.com/golden/compat2021

go 1.26
