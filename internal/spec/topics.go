package spec

import (
	"fmt"
	"slices"
	"strings"
)

// topicState is a topic being collected: its model and the settings
// declared so far by the parts that own it.
type topicState struct {
	topic    *Topic
	declared []declaration // at most one per setting key, in declaration order
	framing  opt[string]   // the first framing: written for the topic
	framedBy *Entry
}

// find returns the declaration of a setting key.
func (ts *topicState) find(key string) (declaration, bool) {
	for _, d := range ts.declared {
		if d.key == key {
			return d, true
		}
	}
	return declaration{}, false
}

// declaration is one explicitly declared creation setting.
type declaration struct {
	key   string // "partitions", "compact", ...
	value string // as compared and shown: "10", "true", "24h0m0s"
	pos   Position
	entry *Entry
	note  string // why the value is implied, when it was not written
	apply func(*TopicSettings)
}

// use records that an entry names its topic, and the settings it declares
// when it owns the topic.
func (r *resolver) use(e *Entry, raw rawEntry) {
	ts, ok := r.topics[e.Topic]
	if !ok {
		ts = &topicState{topic: &Topic{Name: e.Topic}}
		r.topics[e.Topic] = ts
		r.order = append(r.order, ts)
	}
	ts.topic.Uses = append(ts.topic.Uses, e)
	if f := raw.framing; f.Set {
		switch {
		case !ts.framing.Set:
			ts.framing, ts.framedBy, ts.topic.Framing = f, e, f.Value
		case ts.framing.Value != f.Value:
			r.errorf(f.Pos, "topic %q has conflicting framing: %s here (%s) but %s at %s (%s); a topic has one framing: make them equal or write it in one place only",
				ts.topic.Name, f.Value, r.where[e].owner, ts.framing.Value, ts.framing.Pos, r.where[ts.framedBy].owner)
		}
	}
	if !e.Owns() {
		return
	}
	ts.topic.Owned = true
	r.declare(ts, e, "partitions", raw.partitions.Set, fmt.Sprint(raw.partitions.Value), raw.partitions.Pos, "",
		func(s *TopicSettings) { s.Partitions = int32(raw.partitions.Value) })
	r.declare(ts, e, "replicas", raw.replicas.Set, fmt.Sprint(raw.replicas.Value), raw.replicas.Pos, "",
		func(s *TopicSettings) { s.Replicas = int16(raw.replicas.Value) })
	r.declare(ts, e, "retention", raw.retention.Set, raw.retention.Value.String(), raw.retention.Pos, "",
		func(s *TopicSettings) { s.Retention = raw.retention.Value })
	r.declare(ts, e, "segment", raw.segment.Set, raw.segment.Value.String(), raw.segment.Pos, "",
		func(s *TopicSettings) { s.Segment = raw.segment.Value })
	compact := func(s *TopicSettings) { s.Compact = raw.compact.Value }
	switch {
	case e.Role == RoleState:
		r.declare(ts, e, "compact", true, "true", e.Pos, "state topics are always compacted", setCompact)
	case e.Role == RoleViewSource:
		if raw.compact.Set && !raw.compact.Value {
			r.warnf(raw.compact.Pos, "compact: false is ignored: view source topics are always compacted; remove it")
		}
		r.declare(ts, e, "compact", true, "true", e.Pos, "view source topics are always compacted", setCompact)
	default:
		r.declare(ts, e, "compact", raw.compact.Set, fmt.Sprint(raw.compact.Value), raw.compact.Pos, "", compact)
	}
}

func setCompact(s *TopicSettings) { s.Compact = true }

// declare records one explicitly declared setting of an owned topic, and
// reports a conflict with an earlier declaration.
func (r *resolver) declare(ts *topicState, e *Entry, key string, set bool, value string, pos Position, note string, apply func(*TopicSettings)) {
	if !set {
		return
	}
	prev, ok := ts.find(key)
	if !ok {
		ts.declared = append(ts.declared, declaration{key: key, value: value, pos: pos, entry: e, note: note, apply: apply})
		return
	}
	if prev.value == value {
		return
	}
	why := ""
	if prev.note != "" {
		why = "; " + prev.note
	}
	here := r.where[e].owner
	if note != "" {
		here += "; " + note
	}
	r.errorf(pos, "topic %q has conflicting %s: %s here (%s) but %s at %s (%s%s); every part that creates a topic must declare the same settings: make them equal or write the setting in one place only",
		ts.topic.Name, key, value, here, prev.value, prev.pos, r.where[prev.entry].owner, why)
}

// finish computes the settings of every owned topic (declared values, else
// the defaults), links entries to them and sorts the topics.
func (r *resolver) finish() {
	d := r.svc.Defaults
	for _, ts := range r.order {
		t := ts.topic
		if t.Owned {
			t.Settings = TopicSettings{
				Partitions: d.Partitions,
				Replicas:   d.Replicas,
				Retention:  d.Retention,
				Segment:    d.Segment,
			}
			for _, d := range ts.declared {
				d.apply(&t.Settings)
			}
			for _, e := range t.Uses {
				e.Settings = &t.Settings
			}
		}
		r.svc.Topics = append(r.svc.Topics, t)
	}
	slices.SortFunc(r.svc.Topics, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
}
