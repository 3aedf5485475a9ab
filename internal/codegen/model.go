package codegen

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// The template data: everything a template prints is computed here, so the
// templates hold no naming logic.

// entryData is one topic a part uses, with its Go type and codec.
type entryData struct {
	// GoName is the entry's Go name ("DeviceIDHeartbeat").
	GoName string
	// Topic is the Kafka topic.
	Topic string
	// Message is the full protobuf message name, "" for raw topics.
	Message string
	// Raw is true for topics of uninterpreted bytes.
	Raw bool
	// Type is the Go type of a value: "*deviceId.Heartbeat" or "[]byte".
	Type string
	// Codec is the package-level codec variable of the type.
	Codec string
	// Description is the output's description, trimmed.
	Description string
	// Pos is where the entry is written.
	Pos spec.Position
}

// Ref returns the runner.TopicRef literal of the entry.
func (e entryData) Ref() string { return "runner.TopicRef" + e.Lit() }

// Lit returns the runner.TopicRef literal without its type, for slices.
func (e entryData) Lit() string {
	if e.Raw {
		return fmt.Sprintf("{Topic: %q, Type: runner.TopicRaw}", e.Topic)
	}
	return fmt.Sprintf("{Topic: %q, Message: %q, Type: runner.TopicProtobuf}", e.Topic, e.Message)
}

// What names the values for doc comments: the message, or "raw bytes".
func (e entryData) What() string {
	if e.Raw {
		return "raw bytes"
	}
	return e.Message
}

// codecData is one package-level codec variable.
type codecData struct {
	Var  string
	Expr string // runner.Proto[deviceId.Heartbeat]() or runner.Raw()
	What string
}

// componentData is one component package.
type componentData struct {
	Name        string
	Description string
	Package     string
	// Source is the component file, relative to the module root.
	Source      string
	Codecs      []codecData
	Sources     []*sourceData
	Processors  []*processorData
	Sinks       []*sinkData
	Views       []*viewData
	ViewSources []*viewSourceData
	ViewSinks   []*viewSinkData
	// SinkContextFake names the fake SinkContext, "" without sinks.
	SinkContextFake string
	// GoName is the component's name in UpperCamel; ImportPath its
	// package's import path and Alias the name the service package
	// imports it as (for the kafmesh 2021 names of output.compat).
	GoName     string
	ImportPath string
	Alias      string

	// imports maps the import path of each model package the component
	// uses to its alias.
	imports map[string]string
}

type sourceData struct {
	Component string
	Type      string // DeviceIDHeartbeatSource: the interface
	Fake      string
	Entry     entryData
}

type viewData struct {
	Component string
	Type      string // DeviceIDCustomerView: the interface
	Fake      string
	Entry     entryData
}

type processorData struct {
	Component   string
	Name        string
	Description string
	Group       string
	StateTopic  string
	Type        string // the handler interface, the processor's Go name
	Context     string // the context interface
	Adapter     string // the unexported context implementation
	Fake        string
	Inputs      []entryData
	Joins       []entryData
	Lookups     []entryData
	Outputs     []entryData
	State       *entryData
}

type sinkData struct {
	Component   string
	Name        string
	GoName      string // the spec's Go name as is (no suffix added or removed), for the 2021 compat names
	Description string
	Group       string
	Type        string // the handler interface
	Entry       entryData
}

type viewSourceData struct {
	Component   string
	Name        string
	GoName      string // the spec's Go name as is (no suffix added or removed), for the 2021 compat names
	Description string
	Type        string // the handler interface
	Fake        string // the fake Updater
	Entry       entryData
}

type viewSinkData struct {
	Component   string
	Name        string
	GoName      string // the spec's Go name as is (no suffix added or removed), for the 2021 compat names
	Description string
	Type        string // the handler interface
	Fake        string // the fake Reader
	Entry       entryData
}

// serviceData is the service package.
type serviceData struct {
	Name        string
	Description string
	Package     string
	// Source is the definition file, relative to the module root.
	Source     string
	Components []*componentData
	Topics     []topicData
	// Files are the file descriptor variables of every message used.
	Files []string
	// Framing is the service's framing: key ("" when not written);
	// TopicFramings the topics with their own, sorted by topic.
	Framing       string
	TopicFramings []topicFraming
	// SharedSinkNames are the sink Go names (sinkData.GoName) that
	// more than one component declares: the 2021 top-level name
	// Register_<Sink>_Sink has no component in it, so those get only the
	// component-qualified compat name.
	SharedSinkNames map[string]bool

	imports map[string]string
}

type topicFraming struct{ Topic, Framing string }

type topicData struct {
	Name     string
	Settings []string // "Partitions: 4", "Compact: true", ...
}

// modelTypes resolves messages to Go types and assigns import aliases.
type modelTypes struct {
	types map[string]protoc.GoType
}

// goType returns the Go type of a protobuf message.
func (m modelTypes) goType(e *spec.Entry) (protoc.GoType, error) {
	t, ok := m.types[e.Message]
	if !ok {
		return protoc.GoType{}, fmt.Errorf("%s: message %s is not among the compiled .proto files", e.Pos, e.Message)
	}
	return t, nil
}

// relSource returns file relative to root, slash-separated, for headers.
func relSource(root, file string) string {
	if rel, err := filepath.Rel(root, file); err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(file)
}

// aliases chooses an import alias for each path: the package name when it
// is free, else the parent directory joined to it, else a numbered one.
// Paths are taken in sorted order, so the choice is deterministic.
func aliases(paths []string, names map[string]string, taken func(string) bool) map[string]string {
	out := map[string]string{}
	used := map[string]bool{}
	free := func(a string) bool { return !used[a] && !taken(a) }
	for _, p := range paths {
		name := names[p]
		alias := name
		if !free(alias) {
			parent := filepath.Base(filepath.Dir(filepath.FromSlash(p)))
			alias = goIdent(lowerFirst(upperWords(parent)) + upperWords(name))
		}
		for i := 2; !free(alias); i++ {
			alias = fmt.Sprintf("%s%d", goIdent(name), i)
		}
		used[alias] = true
		out[p] = alias
	}
	return out
}

// upperWords makes s an UpperCamel identifier fragment: letters and digits
// kept, the letter after anything else upper-cased.
func upperWords(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			if up && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

// goIdent makes s a valid identifier start.
func goIdent(s string) string {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return "m" + s
	}
	return s
}
