module example.com/golden/stateless

go 1.26
