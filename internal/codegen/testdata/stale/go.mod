module example.com/golden/stale

go 1.26
