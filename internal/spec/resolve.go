package spec

import (
	"fmt"
	"path"
	"strings"
)

// resolver turns raw files into the model and tracks the topics every part
// declares.
type resolver struct {
	diags  *Diagnostics
	svc    *Service
	topics map[string]*topicState
	// order lists the topics in the order they were first named, so that
	// everything derived from them is deterministic.
	order []*topicState
	// where records, for every resolved entry, the part it belongs to and
	// where its ref was written, for messages.
	where map[*Entry]entryPlace
	// compat is the older kafmesh whose leniency applies (WithCompat).
	compat string
}

// entryPlace is what messages say about an entry: which part it belongs to
// and where its message ref was written.
type entryPlace struct {
	owner  string // e.g. `output of processor "enricher" in component "heartbeats"`
	refPos Position
}

func newResolver(diags *Diagnostics) *resolver {
	return &resolver{
		diags:  diags,
		topics: map[string]*topicState{},
		where:  map[*Entry]entryPlace{},
	}
}

func (r *resolver) errorf(pos Position, format string, args ...any) {
	*r.diags = append(*r.diags, Diagnostic{Severity: Error, Position: pos, Message: fmt.Sprintf(format, args...)})
}

func (r *resolver) warnf(pos Position, format string, args ...any) {
	*r.diags = append(*r.diags, Diagnostic{Severity: Warning, Position: pos, Message: fmt.Sprintf(format, args...)})
}

// service resolves the service-level settings.
func (r *resolver) service(raw rawService, defFile string) *Service {
	s := &Service{
		Name:        raw.name.Value,
		Description: raw.description.Value,
		File:        defFile,
		Framing:     raw.framing.Value,
		Pos:         raw.pos,
	}
	r.svc = s
	switch {
	case raw.name.Invalid || raw.keys.typo("name"):
	case !raw.name.Set || raw.name.Value == "":
		r.errorf(raw.pos, "the service definition needs a name; add name: <service name> (it prefixes topic and consumer group names)")
	default:
		if problem := nameProblem(raw.name.Value); problem != "" {
			r.errorf(raw.name.Pos, "service name %q cannot become a topic prefix: %s", raw.name.Value, problem)
		} else {
			s.TopicPrefix = lowerCamel(raw.name.Value)
		}
	}

	switch {
	case raw.keys.typo("output"):
	case !raw.hasOutput:
		r.errorf(raw.pos, "the service definition needs an output; add output: with package: (the Go package name) and path: (the directory, relative to the Go module root)")
	case !raw.output.ok:
		// not a mapping: reported.
	default:
		r.output(raw, s)
	}

	d := raw.defaults
	s.Defaults = Defaults{
		Partitions: int32(d.partition.Value),
		Replicas:   int16(d.replication.Value),
		Type:       TypeProtobuf,
		Retention:  d.retention.Value,
		Segment:    d.segment.Value,
	}
	if d.typ.Set {
		if t, ok := r.topicType(d.typ); ok {
			s.Defaults.Type = t
		}
	}
	return s
}

// output resolves the output settings (the module and directory need go.mod
// and are filled in by the loader).
func (r *resolver) output(raw rawService, s *Service) {
	s.Output.Package = raw.outputPackage.Value
	s.Output.Path = raw.outputPath.Value
	s.Output.Module = raw.outputModule.Value
	s.Output.Compat = raw.outputCompat.Value
	switch {
	case raw.outputPackage.Invalid || raw.output.typo("package"):
	case !raw.outputPackage.Set:
		r.errorf(raw.outputPos, "output needs a package; add package: <Go package name> under output")
	default:
		if problem := goPackageProblem(raw.outputPackage.Value); problem != "" {
			r.errorf(raw.outputPackage.Pos, "output package %q cannot be a Go package name: %s", raw.outputPackage.Value, problem)
		}
	}
	switch p := raw.outputPath.Value; {
	case raw.outputPath.Invalid || raw.output.typo("path"):
	case !raw.outputPath.Set || p == "":
		r.errorf(raw.outputPos, "output needs a path; add path: <directory> under output (relative to the Go module root)")
	case path.IsAbs(p) || strings.HasPrefix(p, `\`) || (len(p) > 1 && p[1] == ':'):
		r.errorf(raw.outputPath.Pos, "output path %q must be relative to the Go module root (the nearest go.mod above the definition)", p)
	case cleanSlash(p) == ".." || strings.HasPrefix(cleanSlash(p), "../"):
		r.errorf(raw.outputPath.Pos, "output path %q leaves the Go module root; generated code must be inside the module that imports it", p)
	}
	if raw.outputModule.Set && raw.outputModule.Value == "" {
		r.errorf(raw.outputModule.Pos, "output module is empty; remove it to use the module of go.mod, or write the module path")
	}
}

func cleanSlash(p string) string {
	return path.Clean(strings.ReplaceAll(p, `\`, "/"))
}

// topicType checks a type value.
func (r *resolver) topicType(v opt[string]) (TopicType, bool) {
	switch TopicType(v.Value) {
	case TypeProtobuf, TypeRaw:
		return TopicType(v.Value), true
	}
	types := []string{string(TypeProtobuf), string(TypeRaw)}
	if best := closest(v.Value, types, 1); len(best) > 0 {
		r.errorf(v.Pos, "unknown type %q; did you mean %q? (the types are protobuf and raw)", v.Value, best[0])
	} else {
		r.errorf(v.Pos, "unknown type %q; the types are protobuf (protobuf messages) and raw (bytes kafmesh does not interpret)", v.Value)
	}
	return "", false
}

// component resolves one component and registers its topics.
func (r *resolver) component(raw rawComponent) {
	c := &Component{
		Name:        raw.name.Value,
		Description: raw.description.Value,
		Package:     raw.name.Value,
		GoName:      partGoName(raw.name.Value),
		File:        raw.file,
		Pos:         raw.pos,
	}
	switch {
	case raw.name.Invalid || raw.keys.typo("name"):
	case !raw.name.Set || raw.name.Value == "":
		r.errorf(raw.pos, "the component needs a name; add name: <component name> (it names the generated Go package and is part of group names)")
	default:
		if problem := goPackageProblem(raw.name.Value); problem != "" {
			r.errorf(raw.name.Pos, "component name %q cannot be a Go package name: %s", raw.name.Value, problem)
		}
	}
	r.svc.Components = append(r.svc.Components, c)
	in := fmt.Sprintf("in component %q", c.Name)

	for _, re := range raw.sources {
		if e := r.entry(re, "source "+in); e != nil {
			c.Sources = append(c.Sources, &Source{GoName: e.GoName, Entry: e})
		}
	}
	for _, rp := range raw.processors {
		c.Processors = append(c.Processors, r.processor(rp, c))
	}
	for _, re := range raw.sinks {
		if s := r.sink(re, c); s != nil {
			c.Sinks = append(c.Sinks, s)
		}
	}
	for _, re := range raw.views {
		if e := r.entry(re, "view "+in); e != nil {
			c.Views = append(c.Views, &View{GoName: e.GoName, Entry: e})
		}
	}
	for _, re := range raw.viewSources {
		name, goName := r.optionalName(re, "view source")
		if e := r.entry(re, fmt.Sprintf("view source %q %s", name, in)); e != nil {
			c.ViewSources = append(c.ViewSources, &ViewSource{Name: name, Description: re.description.Value, GoName: orDefault(goName, e.GoName), Entry: e})
		}
	}
	for _, re := range raw.viewSinks {
		name, goName := r.optionalName(re, "view sink")
		if e := r.entry(re, fmt.Sprintf("view sink %q %s", name, in)); e != nil {
			c.ViewSinks = append(c.ViewSinks, &ViewSink{Name: name, Description: re.description.Value, GoName: orDefault(goName, e.GoName), Entry: e})
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// optionalName reads the name of a view source or view sink. Without one,
// the generated code is named after the message, as the 2021 tool's files
// without names still generated.
func (r *resolver) optionalName(re rawEntry, what string) (name, goName string) {
	if re.name.Invalid || re.keys.typo("name") {
		return "", ""
	}
	if !re.name.Set || re.name.Value == "" {
		r.warnf(re.pos, "%s has no name, so its generated code is named after its message; add name: to choose the name", what)
		return "", ""
	}
	if problem := nameProblem(re.name.Value); problem != "" {
		r.errorf(re.name.Pos, "%s name %q cannot become a Go identifier: %s", what, re.name.Value, problem)
		return re.name.Value, ""
	}
	return re.name.Value, partGoName(re.name.Value)
}

// processor resolves a processor and its entries.
func (r *resolver) processor(raw rawProcessor, c *Component) *Processor {
	p := &Processor{
		Name:        raw.name.Value,
		Description: raw.description.Value,
		Pos:         raw.pos,
	}
	switch {
	case raw.name.Invalid || raw.keys.typo("name"):
	case !raw.name.Set || raw.name.Value == "":
		r.errorf(raw.pos, "processor needs a name; add name: <processor name> (it names the generated Go type and the consumer group)")
	default:
		if problem := nameProblem(raw.name.Value); problem != "" {
			r.errorf(raw.name.Pos, "processor name %q cannot become a Go identifier: %s", raw.name.Value, problem)
		} else {
			p.GoName = partGoName(raw.name.Value)
		}
	}
	switch {
	case raw.groupName.Set && raw.groupName.Value == "":
		r.errorf(raw.groupName.Pos, "groupName is empty; remove it to use the default group name or write one")
	case raw.groupName.Set:
		p.Group = raw.groupName.Value
	default:
		p.Group = r.svc.TopicPrefix + "." + componentGroupWord(c.Name) + "." + lowerCamel(p.Name)
	}
	if raw.persistence != nil {
		p.StateTopic = p.Group + "-table"
	}
	p.DeadLetterTopic = p.Group + "-dlq"

	if len(raw.inputs) == 0 && !raw.inputsInvalid && !raw.keys.typo("inputs") {
		where := raw.pos
		if raw.inputsPos.Line > 0 {
			where = raw.inputsPos
		}
		r.errorf(where, "processor %q has no inputs; list at least one topic under inputs: (a processor runs on the messages of its inputs)", p.Name)
	}
	of := fmt.Sprintf("of processor %q in component %q", p.Name, c.Name)
	p.Inputs = r.entries(raw.inputs, "input "+of)
	p.Joins = r.entries(raw.joins, "join "+of)
	p.Lookups = r.entries(raw.lookups, "lookup "+of)
	p.Outputs = r.entries(raw.outputs, "output "+of)
	if raw.persistence != nil {
		st := *raw.persistence
		if st.topic.Set {
			r.warnf(st.topic.Pos, "topic is ignored in persistence: the state topic is always the group name followed by -table (%q); remove it", p.StateTopic)
			st.topic = opt[string]{}
		}
		if st.compact.Set && !st.compact.Value {
			r.warnf(st.compact.Pos, "compact: false is ignored: state topics are always compacted; remove it")
			st.compact = opt[bool]{}
		}
		p.Persistence = r.entryWithTopic(st, "persistence "+of, p.StateTopic)
	}
	return p
}

func (r *resolver) entries(raws []rawEntry, owner string) []*Entry {
	var out []*Entry
	for _, re := range raws {
		if e := r.entry(re, owner); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// sink resolves a sink.
func (r *resolver) sink(raw rawEntry, c *Component) *Sink {
	s := &Sink{Name: raw.name.Value, Description: raw.description.Value}
	switch {
	case raw.name.Invalid || raw.keys.typo("name"):
	case !raw.name.Set || raw.name.Value == "":
		r.errorf(raw.pos, "sink needs a name; add name: <sink name> (it names the generated Go type and the consumer group)")
	default:
		if problem := nameProblem(raw.name.Value); problem != "" {
			r.errorf(raw.name.Pos, "sink name %q cannot become a Go identifier: %s", raw.name.Value, problem)
		} else {
			s.GoName = partGoName(raw.name.Value)
		}
	}
	s.Group = r.svc.Name + "." + c.Name + "." + strings.ToLower(s.GoName) + "-sink"
	s.Entry = r.entry(raw, fmt.Sprintf("sink %q in component %q", s.Name, c.Name))
	if s.Entry == nil {
		return nil
	}
	return s
}

// hasProtobufEntries reports whether any entry needs a protobuf message.
func (r *resolver) hasProtobufEntries() bool {
	for _, c := range r.svc.Components {
		for _, e := range componentEntries(c) {
			if e.Type == TypeProtobuf {
				return true
			}
		}
	}
	return false
}
