package spec

import (
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The keys each mapping of the definition format accepts.
var (
	serviceKeys    = []string{"name", "description", "output", "messages", "components", "defaults", "framing"}
	outputKeys     = []string{"package", "path", "module", "compat"}
	messagesKeys   = []string{"protobuf", "avro"}
	defaultsKeys   = []string{"partition", "replication", "type", "retention", "segment"}
	componentKeys  = []string{"name", "description", "sources", "processors", "sinks", "views", "viewSources", "viewSinks", "emitters"}
	processorKeys  = []string{"name", "groupName", "description", "inputs", "joins", "lookups", "outputs", "persistence"}
	readKeys       = []string{"message", "topic", "type", "framing"}
	creationKeys   = []string{"partitions", "replicas", "compact", "retention", "segment"}
	namedKeys      = []string{"name", "description"}
	descriptionKey = []string{"description"}
)

// entryKeys lists the keys of a topic entry in each role.
func entryKeys(r Role) []string {
	switch r {
	case RoleInput, RoleJoin, RoleLookup:
		return readKeys
	case RoleSink:
		return concat(namedKeys, readKeys)
	case RoleOutput:
		return concat(readKeys, descriptionKey, creationKeys)
	case RoleViewSource, RoleViewSink:
		return concat(namedKeys, readKeys, creationKeys)
	default: // source, view, persistence
		return concat(readKeys, creationKeys)
	}
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// entryNoun is how an entry in a role is named in messages.
func entryNoun(r Role) string {
	if r == RoleState {
		return "persistence"
	}
	return string(r)
}

type rawService struct {
	pos         Position
	keys        keys
	name        opt[string]
	description opt[string]

	hasOutput     bool
	output        keys
	outputPos     Position
	outputPackage opt[string]
	outputPath    opt[string]
	outputModule  opt[string]
	outputCompat  opt[string]

	messagesPos     Position
	protobufDirs    []opt[string]
	protobufInvalid bool

	hasComponents     bool
	componentsInvalid bool
	componentsPos     Position
	components        []opt[string]

	defaults rawDefaults
	framing  opt[string]
}

type rawDefaults struct {
	partition   opt[int64]
	replication opt[int64]
	typ         opt[string]
	retention   opt[time.Duration]
	segment     opt[time.Duration]
}

type rawComponent struct {
	file        string // absolute
	pos         Position
	keys        keys
	name        opt[string]
	description opt[string]
	sources     []rawEntry
	processors  []rawProcessor
	sinks       []rawEntry
	views       []rawEntry
	viewSources []rawEntry
	viewSinks   []rawEntry
}

type rawProcessor struct {
	pos           Position
	keys          keys
	inputsInvalid bool
	name          opt[string]
	groupName     opt[string]
	description   opt[string]
	inputsPos     Position // the inputs key, when written
	inputs        []rawEntry
	joins         []rawEntry
	lookups       []rawEntry
	outputs       []rawEntry
	persistence   *rawEntry
}

type rawEntry struct {
	role        Role
	pos         Position
	keys        keys
	name        opt[string]
	description opt[string]
	message     opt[string]
	topic       opt[string]
	typ         opt[string]
	partitions  opt[int64]
	replicas    opt[int64]
	compact     opt[bool]
	retention   opt[time.Duration]
	segment     opt[time.Duration]
	framing     opt[string]
}

func (p *parser) service(root *yaml.Node) rawService {
	s := rawService{pos: p.at(root)}
	s.keys = p.mappingTypos(root, "the service definition", serviceKeys)
	for _, f := range s.keys.fields {
		switch f.key {
		case "name":
			s.name = p.str(f)
		case "description":
			s.description = p.str(f)
		case "output":
			s.outputPos = p.at(f.keyAt)
			s.output = p.mappingTypos(f.value, "output", outputKeys)
			s.hasOutput = !isNull(deref(f.value))
			for _, o := range s.output.fields {
				switch o.key {
				case "package":
					s.outputPackage = p.str(o)
				case "path":
					s.outputPath = p.str(o)
				case "module":
					s.outputModule = p.str(o)
				case "compat":
					s.outputCompat = p.str(o)
					if c := s.outputCompat; c.Set && c.Value != CompatKafmesh2021 {
						p.errorf(c.Pos, "output compat %q is not known; the one compat output is %s", c.Value, CompatKafmesh2021)
						s.outputCompat = invalid[string]()
					}
				}
			}
		case "messages":
			s.messagesPos = p.at(f.keyAt)
			mf, _ := p.mapping(f.value, "messages", messagesKeys)
			for _, m := range mf {
				switch m.key {
				case "protobuf":
					if _, ok := p.list(m); !ok {
						s.protobufInvalid = true
						continue
					}
					s.protobufDirs = p.strList(m)
				case "avro":
					if len(p.strList(m)) > 0 {
						p.warnf(p.at(m.keyAt), "avro messages are not supported; the avro directories are ignored")
					}
				}
			}
		case "components":
			s.hasComponents = true
			s.componentsPos = p.at(f.keyAt)
			if _, ok := p.list(f); !ok {
				s.componentsInvalid = true
				continue
			}
			s.components = p.strList(f)
		case "framing":
			s.framing = p.framing(f)
		case "defaults":
			df, _ := p.mapping(f.value, "defaults", defaultsKeys)
			for _, d := range df {
				switch d.key {
				case "partition":
					s.defaults.partition = p.integer(d, 0, maxPartitions)
				case "replication":
					s.defaults.replication = p.integer(d, 0, maxReplicas)
				case "type":
					s.defaults.typ = p.str(d)
				case "retention":
					s.defaults.retention = p.duration(d, true)
				case "segment":
					s.defaults.segment = p.duration(d, false)
				}
			}
		}
	}
	return s
}

func (p *parser) component(root *yaml.Node, file string) rawComponent {
	c := rawComponent{file: file, pos: p.at(root)}
	c.keys = p.mappingTypos(root, "the component", componentKeys)
	for _, f := range c.keys.fields {
		switch f.key {
		case "name":
			c.name = p.str(f)
		case "description":
			c.description = p.str(f)
		case "sources":
			c.sources = p.entries(f, RoleSource)
		case "processors":
			items, _ := p.list(f)
			for _, item := range items {
				if proc, ok := p.processor(item); ok {
					c.processors = append(c.processors, proc)
				}
			}
		case "sinks":
			c.sinks = p.entries(f, RoleSink)
		case "views":
			c.views = p.entries(f, RoleView)
		case "viewSources":
			c.viewSources = p.entries(f, RoleViewSource)
		case "viewSinks":
			c.viewSinks = p.entries(f, RoleViewSink)
		case "emitters":
			p.warnf(p.at(f.keyAt), "emitters was renamed sources and is ignored; rename it")
		}
	}
	return c
}

func (p *parser) processor(n *yaml.Node) (rawProcessor, bool) {
	n = deref(n)
	proc := rawProcessor{pos: p.at(n)}
	if isNull(n) {
		p.errorf(p.at(n), "processors has an empty item; remove it or describe the processor")
		return proc, false
	}
	proc.keys = p.mappingTypos(n, "processor", processorKeys)
	if !proc.keys.ok {
		return proc, false
	}
	for _, f := range proc.keys.fields {
		switch f.key {
		case "name":
			proc.name = p.str(f)
		case "groupName":
			proc.groupName = p.str(f)
		case "description":
			proc.description = p.str(f)
		case "inputs":
			proc.inputsPos = p.at(f.keyAt)
			if _, ok := p.list(f); !ok {
				proc.inputsInvalid = true
				continue
			}
			proc.inputs = p.entries(f, RoleInput)
		case "joins":
			proc.joins = p.entries(f, RoleJoin)
		case "lookups":
			proc.lookups = p.entries(f, RoleLookup)
		case "outputs":
			proc.outputs = p.entries(f, RoleOutput)
		case "persistence":
			if isNull(deref(f.value)) {
				continue
			}
			if e, ok := p.entry(f.value, RoleState); ok {
				proc.persistence = &e
			}
		}
	}
	return proc, true
}

// entries reads a list of topic entries.
func (p *parser) entries(f field, role Role) []rawEntry {
	var out []rawEntry
	items, _ := p.list(f)
	for _, item := range items {
		if isNull(deref(item)) {
			p.errorf(p.at(item), "%s has an empty item; remove it or give it a message", f.key)
			continue
		}
		if e, ok := p.entry(item, role); ok {
			out = append(out, e)
		}
	}
	return out
}

func (p *parser) entry(n *yaml.Node, role Role) (rawEntry, bool) {
	n = deref(n)
	e := rawEntry{role: role, pos: p.at(n)}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		p.errorf(p.at(n), "each %s is a mapping, not a bare ref: write - message: %s", entryNoun(role), n.Value)
		return e, false
	}
	e.keys = p.mappingTypos(n, entryNoun(role), entryKeys(role))
	if !e.keys.ok {
		return e, false
	}
	for _, f := range e.keys.fields {
		switch f.key {
		case "name":
			e.name = p.str(f)
		case "description":
			e.description = p.str(f)
		case "message":
			e.message = p.str(f)
		case "topic":
			e.topic = p.str(f)
		case "type":
			e.typ = p.str(f)
		case "partitions":
			e.partitions = p.integer(f, 1, maxPartitions)
		case "replicas":
			e.replicas = p.integer(f, 1, maxReplicas)
		case "compact":
			e.compact = p.boolean(f)
		case "retention":
			e.retention = p.duration(f, true)
		case "segment":
			e.segment = p.duration(f, false)
		case "framing":
			e.framing = p.framing(f)
		}
	}
	return e, true
}

// Framings are the values of the framing key: how protobuf values are laid
// out in a topic (runner.Framing).
var Framings = []string{"plain", "confluent", "kafmesh2021", "auto"}

// framing reads a framing: key.
func (p *parser) framing(f field) opt[string] {
	v := p.str(f)
	if v.Set && !slices.Contains(Framings, v.Value) {
		p.errorf(v.Pos, "framing %q is not one of %s", v.Value, strings.Join(Framings, ", "))
		return invalid[string]()
	}
	return v
}
