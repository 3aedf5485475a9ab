package keys

import "testing"

func TestRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 62} {
		got, err := Parse(Format(id))
		if err != nil || got != id {
			t.Errorf("Parse(Format(%d)) = %d, %v", id, got, err)
		}
	}
	for _, bad := range []string{"", "0", "-3", "1e3", "abc", " 7"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}
