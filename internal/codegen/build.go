package codegen

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go/token"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// reserved are names the templates use for imports and locals; an import
// alias must not shadow them.
var reservedNames = []string{
	// imports
	"context", "time", "kgo", "runner", "maps", "slices", "protoreflect",
	// parameters and locals
	"ctx", "msg", "key", "keys", "h", "svc", "c", "p", "f", "fn", "opts", "records",
	"state", "up", "view", "k", "v", "ok", "found", "err", "m",
}

// builder turns the resolved service into template data, collecting every
// problem that would make the generated code invalid.
type builder struct {
	svc   *spec.Service
	set   *protoc.Set
	types map[string]protoc.GoType // nil when the service has no .proto files
	diags spec.Diagnostics
}

func (b *builder) errorf(pos spec.Position, format string, args ...any) {
	b.diags = append(b.diags, spec.Diagnostic{Severity: spec.Error, Position: pos, Message: fmt.Sprintf(format, args...)})
}

// decls records the package-level identifiers of one generated package, to
// report two parts that would declare the same one.
type decls struct {
	b     *builder
	pkg   string
	names map[string]declOwner
}

type declOwner struct {
	what string
	pos  spec.Position
}

// add declares names for one part; names another part declared already are
// reported once per other part.
func (d *decls) add(what string, pos spec.Position, names ...string) {
	var clashes []string
	var first declOwner
	for _, name := range names {
		owner, ok := d.names[name]
		switch {
		case !ok:
			d.names[name] = declOwner{what, pos}
		case len(clashes) == 0 || owner == first:
			first = owner
			clashes = append(clashes, name)
		}
	}
	if len(clashes) > 0 {
		them := "them"
		if len(clashes) == 1 {
			them = "it"
		}
		d.b.errorf(pos, "%s would declare %s in generated package %s, but %s (at %s) declares %s too; rename one of them",
			what, strings.Join(clashes, ", "), d.pkg, first.what, first.pos, them)
	}
}

func (d *decls) has(name string) bool {
	_, ok := d.names[name]
	return ok || slices.Contains(reservedNames, name)
}

// component builds the data of one component package.
func (b *builder) component(c *spec.Component) *componentData {
	cd := &componentData{
		Name:        c.Name,
		Description: strings.TrimSpace(c.Description),
		Package:     c.Package,
		Source:      relSource(b.svc.ModuleRoot, c.File),
		GoName:      c.GoName,
		ImportPath:  path.Join(b.svc.Output.ImportPath, c.Package),
	}
	if c.Package == "models" {
		b.errorf(c.Pos, "component %q would be generated into %s/models, where the models are generated; rename the component", c.Name, b.svc.Output.Path)
	}
	d := &decls{b: b, pkg: c.Package, names: map[string]declOwner{}}
	what := func(kind, name string) string { return fmt.Sprintf("%s %q", kind, name) }

	// Names of every part first: codec variables and import aliases must
	// not take them.
	for _, s := range c.Sources {
		sd := &sourceData{Component: c.Name, Type: s.GoName + "Source"}
		sd.Fake = sd.Type + "Fake"
		w := what("source", s.Entry.Ref)
		d.add(w, s.Entry.Pos, sd.Type, sd.Fake, sd.Type+"Spec", "Register"+sd.Type)
		cd.Sources = append(cd.Sources, sd)
	}
	for _, p := range c.Processors {
		pd := &processorData{
			Component: c.Name, Name: p.Name, Description: strings.TrimSpace(p.Description), Group: p.Group, StateTopic: p.StateTopic,
			Type: p.GoName, Context: p.GoName + "Context", Adapter: lowerFirst(p.GoName) + "Context", Fake: p.GoName + "ContextFake",
		}
		w := what("processor", p.Name)
		d.add(w, p.Pos, pd.Type, pd.Context, pd.Adapter, pd.Fake, pd.Type+"Spec", "Register"+pd.Type)
		b.checkMembers(p)
		cd.Processors = append(cd.Processors, pd)
	}
	for _, s := range c.Sinks {
		sd := &sinkData{Component: c.Name, Name: s.Name, GoName: s.GoName, Description: strings.TrimSpace(s.Description), Group: s.Group, Type: withSuffix(s.GoName, "Sink")}
		w := what("sink", s.Name)
		d.add(w, s.Entry.Pos, sd.Type, sd.Type+"Spec", "Register"+sd.Type)
		cd.Sinks = append(cd.Sinks, sd)
	}
	if len(c.Sinks) > 0 {
		cd.SinkContextFake = "SinkContextFake"
		d.add("the fake sink context (generated for the sinks)", c.Sinks[0].Entry.Pos, cd.SinkContextFake)
	}
	for _, v := range c.Views {
		vd := &viewData{Component: c.Name, Type: v.GoName + "View"}
		vd.Fake = vd.Type + "Fake"
		w := what("view", v.Entry.Ref)
		d.add(w, v.Entry.Pos, vd.Type, vd.Fake, vd.Type+"Spec", "Register"+vd.Type)
		cd.Views = append(cd.Views, vd)
	}
	for _, v := range c.ViewSources {
		vd := &viewSourceData{Component: c.Name, Name: v.Name, GoName: v.GoName, Description: strings.TrimSpace(v.Description), Type: withSuffix(v.GoName, "ViewSource")}
		vd.Fake = strings.TrimSuffix(vd.Type, "ViewSource") + "UpdaterFake"
		w := what("view source", orRef(v.Name, v.Entry))
		d.add(w, v.Entry.Pos, vd.Type, vd.Fake, vd.Type+"Spec", "Register"+vd.Type)
		cd.ViewSources = append(cd.ViewSources, vd)
	}
	for _, v := range c.ViewSinks {
		vd := &viewSinkData{Component: c.Name, Name: v.Name, GoName: v.GoName, Description: strings.TrimSpace(v.Description), Type: withSuffix(v.GoName, "ViewSink")}
		vd.Fake = strings.TrimSuffix(vd.Type, "ViewSink") + "ReaderFake"
		w := what("view sink", orRef(v.Name, v.Entry))
		d.add(w, v.Entry.Pos, vd.Type, vd.Fake, vd.Type+"Spec", "Register"+vd.Type)
		cd.ViewSinks = append(cd.ViewSinks, vd)
	}

	// Codecs, one per Go type, named after the first entry of that type.
	type pendingCodec struct {
		name, message string
		gt            protoc.GoType
		raw           bool
	}
	var pending []pendingCodec
	codecOf := map[string]string{}
	goTypes := map[string]protoc.GoType{}
	for _, e := range c.Entries() {
		id, gt, ok := b.typeID(e)
		if !ok || codecOf[id] != "" {
			continue
		}
		base := lowerFirst(e.GoName)
		if e.IsRaw() {
			base = "raw"
		}
		name := base + "Codec"
		for i := 2; d.has(name); i++ {
			name = fmt.Sprintf("%s%dCodec", base, i)
		}
		d.add("a codec", e.Pos, name)
		codecOf[id] = name
		pending = append(pending, pendingCodec{name: name, message: e.Message, gt: gt, raw: e.IsRaw()})
		if !e.IsRaw() {
			goTypes[id] = gt
		}
	}

	// Import aliases of the model packages.
	var paths []string
	names := map[string]string{}
	for _, gt := range goTypes {
		if !slices.Contains(paths, gt.ImportPath) {
			paths = append(paths, gt.ImportPath)
			names[gt.ImportPath] = gt.PackageName
		}
	}
	slices.Sort(paths)
	cd.imports = aliases(paths, names, d.has)

	entry := func(e *spec.Entry) entryData {
		ed := entryData{GoName: e.GoName, Topic: e.Topic, Raw: e.IsRaw(), Description: strings.TrimSpace(e.Description), Pos: e.Pos, Type: "[]byte"}
		id, gt, ok := b.typeID(e)
		if !ok {
			return ed
		}
		ed.Codec = codecOf[id]
		if !e.IsRaw() {
			ed.Message = e.Message
			ed.Type = "*" + cd.imports[gt.ImportPath] + "." + gt.Name
		}
		return ed
	}
	entries := func(es []*spec.Entry) []entryData {
		var out []entryData
		for _, e := range es {
			out = append(out, entry(e))
		}
		return out
	}
	for i, s := range c.Sources {
		cd.Sources[i].Entry = entry(s.Entry)
	}
	for i, p := range c.Processors {
		pd := cd.Processors[i]
		pd.Inputs, pd.Joins, pd.Lookups, pd.Outputs = entries(p.Inputs), entries(p.Joins), entries(p.Lookups), entries(p.Outputs)
		if p.Persistence != nil {
			st := entry(p.Persistence)
			pd.State = &st
		}
	}
	for i, s := range c.Sinks {
		cd.Sinks[i].Entry = entry(s.Entry)
	}
	for i, v := range c.Views {
		cd.Views[i].Entry = entry(v.Entry)
	}
	for i, v := range c.ViewSources {
		cd.ViewSources[i].Entry = entry(v.Entry)
	}
	for i, v := range c.ViewSinks {
		cd.ViewSinks[i].Entry = entry(v.Entry)
	}
	for _, pc := range pending {
		if pc.raw {
			cd.Codecs = append(cd.Codecs, codecData{Var: pc.name, Expr: "runner.Raw()", What: "raw bytes"})
			continue
		}
		cd.Codecs = append(cd.Codecs, codecData{Var: pc.name, Expr: fmt.Sprintf("runner.Proto[%s.%s]()", cd.imports[pc.gt.ImportPath], pc.gt.Name), What: pc.message})
	}
	slices.SortFunc(cd.Codecs, func(a, b codecData) int { return strings.Compare(a.Var, b.Var) })
	return cd
}

// typeID identifies the Go type of an entry's values: "raw", or the import
// path and type name. It reports a protobuf entry whose message has no Go
// type.
func (b *builder) typeID(e *spec.Entry) (string, protoc.GoType, bool) {
	if e.IsRaw() {
		return "raw", protoc.GoType{}, true
	}
	gt, ok := b.types[e.Message]
	if !ok {
		b.errorf(e.Pos, "message %s has no generated Go type: it is not in the compiled .proto files", e.Message)
		return "", gt, false
	}
	return gt.ImportPath + "." + gt.Name, gt, true
}

func orRef(name string, e *spec.Entry) string {
	if name != "" {
		return name
	}
	return e.Ref
}

// checkMembers reports a processor whose context methods and fake fields
// would clash: the fake has fields Join<X>Value, Lookup<X>Table and
// Output<X>Records next to the methods Join<X>, Lookup<X> and Output<X>.
func (b *builder) checkMembers(p *spec.Processor) {
	members := map[string]bool{}
	for _, n := range []string{"Context", "Key", "Timestamp", "Headers", "Ctx", "RecordKey", "RecordTimestamp", "RecordHeaders"} {
		members[n] = true
	}
	if p.Persistence != nil {
		for _, n := range []string{"State", "SaveState", "DeleteState", "StateValue"} {
			members[n] = true
		}
	}
	add := func(e *spec.Entry, names ...string) {
		for _, n := range names {
			if members[n] {
				b.errorf(e.Pos, "%s %q of processor %q gives the generated member %s, which the processor's context or its fake already has; use another spelling of the ref", e.Role, e.Ref, p.Name, n)
				return
			}
			members[n] = true
		}
	}
	for _, e := range p.Joins {
		add(e, "Join"+e.GoName, "Join"+e.GoName+"Value")
	}
	for _, e := range p.Lookups {
		add(e, "Lookup"+e.GoName, "Lookup"+e.GoName+"Table")
	}
	for _, e := range p.Outputs {
		add(e, "Output"+e.GoName, "Output"+e.GoName+"Records")
	}
}

// service builds the data of the service package.
func (b *builder) service(components []*componentData) *serviceData {
	s := b.svc
	sd := &serviceData{
		Name:        s.Name,
		Description: strings.TrimSpace(s.Description),
		Package:     s.Output.Package,
		Source:      relSource(s.ModuleRoot, s.File),
		Components:  components,
		Framing:     s.Framing,
	}
	sinks := map[string]int{}
	for _, c := range components {
		for _, k := range c.Sinks {
			sinks[k.GoName]++
		}
	}
	for n, count := range sinks {
		if count > 1 {
			if sd.SharedSinkNames == nil {
				sd.SharedSinkNames = map[string]bool{}
			}
			sd.SharedSinkNames[n] = true
		}
	}
	for _, t := range s.Topics {
		if t.Framing != "" {
			sd.TopicFramings = append(sd.TopicFramings, topicFraming{t.Name, t.Framing})
		}
	}
	for _, t := range s.OwnedTopics() {
		td := topicData{Name: t.Name}
		st := t.Settings
		if st.Partitions != 0 {
			td.Settings = append(td.Settings, fmt.Sprintf("Partitions: %d", st.Partitions))
		}
		if st.Replicas != 0 {
			td.Settings = append(td.Settings, fmt.Sprintf("Replicas: %d", st.Replicas))
		}
		if st.Compact {
			td.Settings = append(td.Settings, "Compact: true")
		}
		if st.Retention != 0 {
			td.Settings = append(td.Settings, "Retention: "+durationExpr(st.Retention))
		}
		if st.Segment != 0 {
			td.Settings = append(td.Settings, "Segment: "+durationExpr(st.Segment))
		}
		sd.Topics = append(sd.Topics, td)
	}

	// The file descriptor of every message used, by .proto path.
	type fileVar struct{ protoPath, importPath, pkg, name string }
	files := map[string]fileVar{}
	for _, c := range s.Components {
		for _, e := range c.Entries() {
			if e.IsRaw() || b.set == nil {
				continue
			}
			gt, ok := b.types[e.Message]
			f, found := b.set.FileOf(e.Message)
			if !ok || !found {
				continue // reported by the component
			}
			files[f.Path()] = fileVar{f.Path(), gt.ImportPath, gt.PackageName, fileDescriptorVar(f.Path())}
		}
	}
	var paths []string
	names := map[string]string{}
	for _, f := range files {
		if !slices.Contains(paths, f.importPath) {
			paths = append(paths, f.importPath)
			names[f.importPath] = f.pkg
		}
	}
	slices.Sort(paths)
	taken := func(n string) bool {
		return slices.Contains(reservedNames, n) || n == "Definition" || n == "NewService" || n == "Topics"
	}
	sd.imports = aliases(paths, names, taken)
	for _, c := range sd.Components {
		c.Alias = c.Package
		for taken(c.Alias) || slices.Contains(slices.Collect(maps.Values(sd.imports)), c.Alias) {
			c.Alias += "Component"
		}
	}
	var protoPaths []string
	for p := range files {
		protoPaths = append(protoPaths, p)
	}
	slices.Sort(protoPaths)
	for _, p := range protoPaths {
		f := files[p]
		sd.Files = append(sd.Files, sd.imports[f.importPath]+"."+f.name)
	}
	return sd
}

// fileDescriptorVar is the name protoc-gen-go gives the file descriptor
// variable of a .proto file: "File_" and the path with every character that
// is not a letter or digit replaced by '_' ("kafmesh/deviceId/heartbeat.proto"
// → "File_kafmesh_deviceId_heartbeat_proto").
func fileDescriptorVar(protoPath string) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, protoPath)
	if r, _ := utf8.DecodeRuneInString(s); token.Lookup(s).IsKeyword() || !unicode.IsLetter(r) {
		s = "_" + s
	}
	return "File_" + s
}
