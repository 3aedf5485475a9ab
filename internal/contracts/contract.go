// Package contracts finds breaking changes between the protobuf schemas the
// parts of a kafmesh mesh use on each topic.
//
// A [Contract] is what one side knows about the topics it uses: for every
// topic, whether it writes or reads it, the message of its values, the
// encoding (protobuf or raw), the partition count and whether the topic is
// co-partitioned; plus the protobuf descriptors that declare the messages.
// [Compare] checks a changed contract (the "after": a service's new
// definition and .proto files) against other contracts (the "before": the
// same service at a git ref or in a descriptor set, or the services running
// in a mesh) and returns every [Finding].
//
// The rules follow protobuf wire compatibility in both directions of a
// topic: for every topic the changed side writes and another side reads,
// the new bytes must be readable by the older reader; for every topic the
// changed side reads and another writes, the other writer's bytes must be
// readable by the new reader. A baseline of the same service (Side.Both)
// stands for every part built with the older schema (rolling deploys, data
// already in the topic, readers the checker does not know) and is checked
// in both directions.
//
// Findings are grouped in three categories, in the spirit of buf breaking:
//   - WIRE: the binary encoding breaks (a reader fails or reads wrong
//     values or silent zeros);
//   - WIRE_JSON: the binary encoding still works but the protobuf JSON
//     mapping breaks (names, string/bytes, enums as names);
//   - TOPIC: the topic's contract outside the message changes (its value
//     message, encoding or partitioning).
//
// The rules are listed in [Rules]; docs/contracts.md explains each.
package contracts

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Category groups rules by what breaks.
type Category string

// The categories of findings.
const (
	// Wire findings break the binary protobuf encoding.
	Wire Category = "WIRE"
	// WireJSON findings break only the protobuf JSON mapping.
	WireJSON Category = "WIRE_JSON"
	// Topic findings change the topic's contract outside the message.
	Topic Category = "TOPIC"
)

// Finding is one breaking change.
type Finding struct {
	Category Category `json:"category"`
	// Rule is the rule id, for example FIELD_TYPE_CHANGED.
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Topic is the Kafka topic on which the change breaks a reader or a
	// writer.
	Topic string `json:"topic"`
	// Other is the side that breaks: a service (with its pods when known)
	// or the baseline ("git:main", a descriptor set file).
	Other string `json:"other"`
	// Direction is "writes-to" when the changed side writes what Other
	// reads, "reads-from" when it reads what Other writes, "" for topic
	// settings.
	Direction string `json:"direction,omitempty"`
	// File, Line and Col locate the change in the changed .proto (or the
	// definition for topic findings); Line and Col are 0 when unknown.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String formats the finding as "file:line:col: CATEGORY RULE: message (topic …, other …)".
func (f Finding) String() string {
	pos := f.File
	if pos == "" {
		pos = "-"
	}
	if f.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Col)
	}
	return fmt.Sprintf("%s: %s %s: %s (topic %s, %s %s)", pos, f.Category, f.Rule, f.Message, f.Topic, directionWord(f.Direction), f.Other)
}

func directionWord(d string) string {
	switch d {
	case "writes-to":
		return "read by"
	case "reads-from":
		return "written by"
	}
	return "vs"
}

// Resolver finds descriptors by full name; *protoregistry.Files and a
// compiled set's files satisfy it.
type Resolver interface {
	FindDescriptorByName(protoreflect.FullName) (protoreflect.Descriptor, error)
}

// Contract is one side: the topics it uses and the descriptors of their
// messages.
type Contract struct {
	// Name names the side in findings: "service kafmesh (pods a, b)",
	// "git:main".
	Name string
	// Service is the kafmesh service name, "" when unknown.
	Service string
	// Both marks a baseline of the changed service: every topic it uses is
	// treated as both read and written by parts built with this schema.
	Both bool
	// Topics are the topics the side uses, by name.
	Topics map[string]*TopicUse
	// Descriptors resolve the messages; nil when the side reported none
	// (then only topic rules apply).
	Descriptors Resolver
	// DisplayPath maps a .proto file's name ("kafmesh/a.proto") to the path
	// shown in findings; nil shows the name.
	DisplayPath func(string) string
}

// TopicUse is how a side uses one topic.
type TopicUse struct {
	Topic string
	// Message is the full name of the value message.
	Message string
	// Raw is true when the values are bytes that are not protobuf.
	Raw bool
	// Reads and Writes say whether some part of the side consumes or
	// produces the topic.
	Reads, Writes bool
	// Partitions is the declared or observed partition count, 0 when
	// unknown.
	Partitions int32
	// CoPartitioned is true when a processor reads the topic together with
	// other topics partition by partition (inputs, joins and state of a
	// processor with joins or state).
	CoPartitioned bool
	// Parts names the parts that use the topic ("heartbeats/enricher
	// input"), for messages.
	Parts []string
	// File, Line and Col locate the topic's declaration (the definition
	// entry), for topic findings.
	File      string
	Line, Col int
}

func (c *Contract) message(name string) protoreflect.MessageDescriptor {
	if c.Descriptors == nil || name == "" {
		return nil
	}
	d, err := c.Descriptors.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil
	}
	md, _ := d.(protoreflect.MessageDescriptor)
	return md
}

func (c *Contract) display(file string) string {
	if c.DisplayPath != nil {
		if p := c.DisplayPath(file); p != "" {
			return p
		}
	}
	return file
}

// Compare returns every breaking change between after (the changed side)
// and each of others, for the topics they share, sorted by file, position,
// rule and other side. Topics only one side uses are not compared.
func Compare(after *Contract, others ...*Contract) []Finding {
	var out []Finding
	seen := map[string]bool{}
	add := func(f Finding) {
		k := f.String() + "|" + f.Direction
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	for _, name := range sortedKeys(after.Topics) {
		au := after.Topics[name]
		for _, other := range others {
			ou, ok := other.Topics[name]
			if !ok {
				continue
			}
			p := pair{after: after, other: other, au: au, ou: ou, add: add}
			p.compareTopic()
		}
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(
			strings.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			strings.Compare(a.Rule, b.Rule),
			strings.Compare(a.Topic, b.Topic),
			strings.Compare(a.Other, b.Other),
			strings.Compare(a.Direction, b.Direction),
			strings.Compare(a.Message, b.Message),
		)
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pair compares one topic as the changed side and one other side use it.
type pair struct {
	after, other *Contract
	au, ou       *TopicUse
	add          func(Finding)
}

func (p *pair) topicFinding(cat Category, rule, msg string) {
	p.add(Finding{Category: cat, Rule: rule, Message: msg, Topic: p.au.Topic, Other: p.other.Name,
		File: p.au.File, Line: p.au.Line, Col: p.au.Col})
}

func (p *pair) compareTopic() {
	au, ou := p.au, p.ou
	if au.Partitions > 0 && ou.Partitions > 0 && au.Partitions != ou.Partitions && (au.CoPartitioned || ou.CoPartitioned) {
		p.topicFinding(Topic, "PARTITIONS_CHANGED", fmt.Sprintf(
			"partition count %d, %s has %d; the topic is co-partitioned, so a record of one key would meet its joins and state on another partition",
			au.Partitions, p.other.Name, ou.Partitions))
	}
	if au.Raw != ou.Raw {
		p.topicFinding(Topic, "TOPIC_TYPE_CHANGED", fmt.Sprintf("values are %s, %s uses %s", encoding(au.Raw), p.other.Name, encoding(ou.Raw)))
		return
	}
	if au.Raw {
		return
	}
	am := p.after.message(au.Message)
	om := p.other.message(ou.Message)
	if au.Message != ou.Message {
		switch {
		case am != nil && p.after.message(ou.Message) == nil && om != nil && sameShape(am, om):
			p.messageFinding(am, Topic, "MESSAGE_RENAMED", "", fmt.Sprintf(
				"the topic's value message %s was renamed to %s; %s still uses %s (the bytes are the same; names in JSON type URLs, schema registries and discovery change)",
				ou.Message, au.Message, p.other.Name, ou.Message))
		default:
			p.topicFinding(Topic, "TOPIC_VALUE_TYPE_CHANGED", fmt.Sprintf(
				"the topic's value message is %s, %s uses %s", au.Message, p.other.Name, ou.Message))
		}
	}
	if am == nil || om == nil {
		return
	}
	writes := au.Writes || p.other.Both
	reads := au.Reads || p.other.Both
	if writes && (ou.Reads || p.other.Both) {
		w := walker{p: p, dir: "writes-to", afterIsWriter: true, seen: map[[2]protoreflect.FullName]bool{}}
		w.messages(am, om, string(am.Name()))
	}
	if reads && (ou.Writes || p.other.Both) {
		w := walker{p: p, dir: "reads-from", afterIsWriter: false, seen: map[[2]protoreflect.FullName]bool{}}
		w.messages(om, am, string(am.Name()))
	}
}

func encoding(raw bool) string {
	if raw {
		return "raw bytes"
	}
	return "protobuf"
}

// messageFinding records a finding positioned at a descriptor of the
// changed side.
func (p *pair) messageFinding(at protoreflect.Descriptor, cat Category, rule, dir, msg string) {
	f := Finding{Category: cat, Rule: rule, Message: msg, Topic: p.au.Topic, Other: p.other.Name, Direction: dir}
	at = mapField(at)
	if at != nil {
		file := at.ParentFile()
		if file != nil {
			f.File = p.after.display(file.Path())
			loc := file.SourceLocations().ByDescriptor(at)
			if loc.StartLine >= 0 && (loc.StartLine > 0 || loc.StartColumn > 0 || loc.EndLine > 0) {
				f.Line, f.Col = loc.StartLine+1, loc.StartColumn+1
			}
		}
	}
	p.add(f)
}

// sameShape reports whether two messages have the same field numbers with
// wire-compatible types: a rename rather than a new message.
func sameShape(a, b protoreflect.MessageDescriptor) bool {
	af, bf := a.Fields(), b.Fields()
	if af.Len() != bf.Len() {
		return false
	}
	for i := range af.Len() {
		x := af.Get(i)
		y := bf.ByNumber(x.Number())
		if y == nil || !wireCompatible(x, y) {
			return false
		}
	}
	return true
}

// mapField returns, for a field of a synthetic map entry (which has no
// source position), the map field that declares the entry; else at.
func mapField(at protoreflect.Descriptor) protoreflect.Descriptor {
	entry, ok := at.(protoreflect.MessageDescriptor)
	if f, isField := at.(protoreflect.FieldDescriptor); isField {
		entry, ok = f.ContainingMessage(), true
	}
	if !ok || entry == nil || !entry.IsMapEntry() {
		return at
	}
	parent, ok := entry.Parent().(protoreflect.MessageDescriptor)
	if !ok {
		return at
	}
	fields := parent.Fields()
	for i := range fields.Len() {
		if fields.Get(i).Message() == entry {
			return fields.Get(i)
		}
	}
	return at
}
