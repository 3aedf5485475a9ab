package codegen

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// snake turns a Go identifier into a file name stem: words split at case
// changes, initialisms kept together ("DeviceIDHeartbeatSource" →
// "device_id_heartbeat_source").
func snake(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// lowerFirst makes an exported identifier unexported the way Go code is
// written by hand: a leading initialism is lower-cased as a whole
// ("HeartbeatEnricher" → "heartbeatEnricher", "IDMapper" → "idMapper",
// "ID" → "id").
func lowerFirst(name string) string {
	rs := []rune(name)
	n := 0
	for n < len(rs) && unicode.IsUpper(rs[n]) {
		n++
	}
	switch {
	case n == 0:
		return name
	case n == 1 || n == len(rs):
		// One capital, or all capitals: lower every leading one.
	default:
		n-- // the last capital starts the next word ("IDMapper": keep "M").
	}
	for i := range n {
		rs[i] = unicode.ToLower(rs[i])
	}
	return string(rs)
}

// withSuffix appends suffix unless name already ends with it, so a sink
// named "warehouse sink" gives WarehouseSink, not WarehouseSinkSink.
func withSuffix(name, suffix string) string {
	if strings.HasSuffix(name, suffix) {
		return name
	}
	return name + suffix
}

// durationExpr writes d as a Go expression of package time, in the largest
// unit that divides it ("24 * time.Hour", "time.Millisecond").
func durationExpr(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{time.Hour, "time.Hour"}, {time.Minute, "time.Minute"}, {time.Second, "time.Second"}, {time.Millisecond, "time.Millisecond"}}
	for _, u := range units {
		if d%u.d != 0 {
			continue
		}
		switch n := d / u.d; n {
		case 1:
			return u.name
		case -1:
			return "-" + u.name
		default:
			return fmt.Sprintf("%d * %s", n, u.name)
		}
	}
	return fmt.Sprintf("%d", int64(d)) // nanoseconds: an untyped constant converts.
}

// comment formats text as // comment lines (without a trailing newline),
// so that descriptions written over several YAML lines stay comments.
func comment(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			lines[i] = "//"
			continue
		}
		lines[i] = "// " + l
	}
	return strings.Join(lines, "\n")
}

// sentence returns text with its first line trimmed and a final period
// added when it ends without punctuation, for use inside a doc sentence.
func sentence(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return ""
	}
	if r := text[len(text)-1]; r != '.' && r != '!' && r != '?' {
		text += "."
	}
	return text
}
