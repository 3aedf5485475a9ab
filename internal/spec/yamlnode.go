package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// opt is a value read from YAML with the place it was written. Set is false
// when the key is absent or null, or when the value was invalid (then
// Invalid is true and the problem has been reported).
type opt[T any] struct {
	Value   T
	Set     bool
	Invalid bool
	Pos     Position
}

// invalid is an opt whose problem was reported.
func invalid[T any]() opt[T] { return opt[T]{Invalid: true} }

// field is one key of a mapping.
type field struct {
	key   string
	keyAt *yaml.Node
	value *yaml.Node
}

// parser turns yaml.v3 nodes of one file into raw values, reporting every
// problem into diags with its position.
type parser struct {
	file  string
	diags *Diagnostics
	// compat is the older kafmesh whose leniency applies (WithCompat).
	compat string
}

func (p *parser) at(n *yaml.Node) Position {
	return Position{File: p.file, Line: n.Line, Col: n.Column}
}

func (p *parser) errorf(pos Position, format string, args ...any) {
	*p.diags = append(*p.diags, Diagnostic{Severity: Error, Position: pos, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(pos Position, format string, args ...any) {
	*p.diags = append(*p.diags, Diagnostic{Severity: Warning, Position: pos, Message: fmt.Sprintf(format, args...)})
}

// maxAliasDepth bounds alias chains (an alias of an alias is not valid YAML,
// but the parser is not trusted to prevent it).
const maxAliasDepth = 16

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node is, for messages: "a list", "a mapping", or the
// scalar quoted.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

// mapping returns the fields of a mapping node in order. what names the
// mapping in messages ("processor"). Keys not in allowed are reported as
// unknown, with a suggestion; repeated keys are reported. Neither is
// returned. A null node yields no fields and ok true; a node of another
// kind is reported and yields ok false.
func (p *parser) mapping(n *yaml.Node, what string, allowed []string) (fields []field, ok bool) {
	m := p.mappingTypos(n, what, allowed)
	return m.fields, m.ok
}

// keys is a parsed mapping: its fields, and the known keys suggested for
// unknown ones (a missing required key that was suggested is a typo already
// reported, not a second problem).
type keys struct {
	fields    []field
	suggested []string
	ok        bool
}

func (k keys) typo(key string) bool { return contains(k.suggested, key) }

func (p *parser) mappingTypos(n *yaml.Node, what string, allowed []string) keys {
	return p.mappingAt(n, what, allowed, 0)
}

// maxMergeDepth bounds merge keys that merge mappings that merge mappings
// (and anchors that merge themselves).
const maxMergeDepth = 8

func (p *parser) mappingAt(n *yaml.Node, what string, allowed []string, depth int) (out keys) {
	n = deref(n)
	if isNull(n) {
		return keys{ok: true}
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(p.at(n), "%s must be a mapping of keys to values, found %s", what, describe(n))
		return keys{}
	}
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			p.errorf(p.at(n.Content[i]), "a key in %s must be a plain word, found %s", what, describe(n.Content[i]))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if !contains(allowed, k.Value) {
			msg, suggestion := unknownKeyMessage(k.Value, what, allowed)
			if p.compat == CompatKafmesh2021 {
				// kafmesh 2021 ignored keys it did not know.
				p.warnf(p.at(k), "%s (kafmesh 2021 ignored it; remove it, or run kafmesh migrate)", msg)
				continue
			}
			p.errorf(p.at(k), "%s", msg)
			if suggestion != "" {
				out.suggested = append(out.suggested, suggestion)
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errorf(p.at(k), "key %q is repeated in %s (first set at line %d); remove one of them", k.Value, what, first.Line)
			continue
		}
		seen[k.Value] = k
		out.fields = append(out.fields, field{key: k.Value, keyAt: k, value: v})
	}
	// A merge key (<<: *anchor) brings in the keys of other mappings that
	// this one does not set itself; of several merged mappings the first
	// wins, as in YAML 1.1 (and yaml.v3's decoding, which the 2021 tool
	// used).
	for _, m := range merges {
		if depth >= maxMergeDepth {
			p.errorf(p.at(m), "merge keys (<<) nest more than %d deep in %s; flatten them", maxMergeDepth, what)
			break
		}
		for _, src := range p.mergeSources(m, what) {
			sub := p.mappingAt(src, what, allowed, depth+1)
			out.suggested = append(out.suggested, sub.suggested...)
			for _, f := range sub.fields {
				if _, set := seen[f.key]; !set {
					seen[f.key] = f.keyAt
					out.fields = append(out.fields, f)
				}
			}
		}
	}
	out.ok = true
	return out
}

// mergeSources returns the mappings a merge key names: one mapping, or a
// list of them.
func (p *parser) mergeSources(m *yaml.Node, what string) []*yaml.Node {
	m = deref(m)
	switch {
	case m != nil && m.Kind == yaml.MappingNode:
		return []*yaml.Node{m}
	case m != nil && m.Kind == yaml.SequenceNode:
		var out []*yaml.Node
		for _, item := range m.Content {
			if it := deref(item); it != nil && it.Kind == yaml.MappingNode {
				out = append(out, it)
			} else {
				p.errorf(p.at(item), "a merge key (<<) in %s takes mappings, found %s", what, describe(item))
			}
		}
		return out
	}
	p.errorf(p.at(m), "a merge key (<<) in %s takes a mapping or a list of mappings, found %s", what, describe(m))
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// article returns "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// readOnlyNouns are the entries that read a topic and take no creation
// settings.
var readOnlyNouns = []string{"input", "join", "lookup", "sink"}

// unknownKeyMessage words the error for an unknown key and returns the
// suggested key, if any.
func unknownKeyMessage(key, what string, allowed []string) (msg, suggestion string) {
	if contains(creationKeys, key) && contains(readOnlyNouns, what) {
		return fmt.Sprintf("unknown key %q in %s: %s %s only reads its topic; set %s where the topic is created (its source, output, persistence or view source)", key, what, article(what), what, key), ""
	}
	if best := closest(key, allowed, 1); len(best) > 0 {
		return fmt.Sprintf("unknown key %q in %s; did you mean %q?", key, what, best[0]), best[0]
	}
	return fmt.Sprintf("unknown key %q in %s; the keys of %s are %s", key, what, what, strings.Join(allowed, ", ")), ""
}

// list returns the items of a sequence node. A null node is an empty list.
// ok is false when the node is not a list (reported).
func (p *parser) list(f field) (items []*yaml.Node, ok bool) {
	n := deref(f.value)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(p.at(n), "%s must be a list (each item on a line starting with \"- \"), found %s", f.key, describe(n))
		return nil, false
	}
	return n.Content, true
}

// scalar returns the node when it is a non-null scalar. A null node gives
// nil and bad false; other kinds are reported and give bad true.
func (p *parser) scalar(f field, n *yaml.Node) (node *yaml.Node, bad bool) {
	n = deref(n)
	if isNull(n) {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(p.at(n), "%s must be a single value, found %s", f.key, describe(n))
		return nil, true
	}
	return n, false
}

func (p *parser) str(f field) opt[string] {
	n, bad := p.scalar(f, f.value)
	if n == nil {
		return opt[string]{Invalid: bad}
	}
	return opt[string]{Value: n.Value, Set: true, Pos: p.at(n)}
}

// strList reads a list of single values.
func (p *parser) strList(f field) []opt[string] {
	var out []opt[string]
	items, _ := p.list(f)
	for _, item := range items {
		n, _ := p.scalar(f, item)
		if n == nil {
			if isNull(deref(item)) {
				p.errorf(p.at(item), "%s has an empty item; remove it or write a value", f.key)
			}
			continue
		}
		out = append(out, opt[string]{Value: n.Value, Set: true, Pos: p.at(n)})
	}
	return out
}

// integer reads a whole number in [lo, hi].
func (p *parser) integer(f field, lo, hi int64) opt[int64] {
	n, bad := p.scalar(f, f.value)
	if n == nil {
		return opt[int64]{Invalid: bad}
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil {
		p.errorf(p.at(n), "%s must be a whole number, found %q", f.key, n.Value)
		return invalid[int64]()
	}
	if v < lo || v > hi {
		p.errorf(p.at(n), "%s must be between %d and %d, found %d", f.key, lo, hi, v)
		return invalid[int64]()
	}
	return opt[int64]{Value: v, Set: true, Pos: p.at(n)}
}

// boolean reads true or false (YAML 1.1 spellings such as yes/no included,
// as yaml.v3 accepts them for bool fields).
func (p *parser) boolean(f field) opt[bool] {
	n, bad := p.scalar(f, f.value)
	if n == nil {
		return opt[bool]{Invalid: bad}
	}
	switch n.Value {
	case "true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON":
		return opt[bool]{Value: true, Set: true, Pos: p.at(n)}
	case "false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF":
		return opt[bool]{Value: false, Set: true, Pos: p.at(n)}
	}
	p.errorf(p.at(n), "%s must be true or false, found %q", f.key, n.Value)
	return invalid[bool]()
}

// duration reads a Go duration ("24h", "90m"). Negative durations other than
// -1ms (Kafka's "no limit") are rejected; allowForever permits -1ms.
func (p *parser) duration(f field, allowForever bool) opt[time.Duration] {
	n, bad := p.scalar(f, f.value)
	if n == nil {
		return opt[time.Duration]{Invalid: bad}
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.errorf(p.at(n), "%s must be a Go duration such as \"24h\" or \"90m\", found %q", f.key, n.Value)
		return invalid[time.Duration]()
	}
	if d < 0 && !(allowForever && d == -time.Millisecond) {
		if allowForever {
			p.errorf(p.at(n), "%s cannot be negative, found %q; use -1ms to keep records forever", f.key, n.Value)
		} else {
			p.errorf(p.at(n), "%s cannot be negative, found %q", f.key, n.Value)
		}
		return invalid[time.Duration]()
	}
	return opt[time.Duration]{Value: d, Set: true, Pos: p.at(n)}
}

// Bounds of the numeric settings: Kafka's partition count is an int32 and
// the replication factor an int16.
const (
	maxPartitions = math.MaxInt32
	maxReplicas   = math.MaxInt16
)
