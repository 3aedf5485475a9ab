module example.com/golden/framing

go 1.26
