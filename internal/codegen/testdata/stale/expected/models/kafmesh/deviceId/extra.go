package deviceId

// Key is hand-written in the models folder: gen keeps it.
func (x *Details) Key() string { return x.GetId() }
