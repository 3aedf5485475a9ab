// Package keys converts the ids of devices and customers to and from Kafka
// keys: the id in decimal, as the 2021 example service wrote them.
package keys

import (
	"fmt"
	"strconv"
)

// Format returns the key of an id.
func Format(id int64) string { return strconv.FormatInt(id, 10) }

// Parse returns the id of a key; it fails for anything but a positive
// decimal id.
func Parse(key string) (int64, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("key %q is not a positive decimal id", key)
	}
	return id, nil
}
