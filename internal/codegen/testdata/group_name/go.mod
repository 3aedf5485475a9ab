module example.com/golden/group_name

go 1.26
