package contracts

import (
	"fmt"
	"sort"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FromService builds the contract of a loaded definition: every topic its
// parts use, with the roles, partition counts and positions the definition
// declares, resolved against the compiled .proto files (set may be nil:
// then only topic rules apply).
func FromService(name string, svc *spec.Service, set *protoc.Set) *Contract {
	c := &Contract{Name: name, Service: svc.Name, Topics: map[string]*TopicUse{}}
	if set != nil {
		c.Descriptors = setResolver{set}
		c.DisplayPath = set.SourcePath
	}
	use := func(e *spec.Entry, part string, coPartitioned bool) {
		u := c.Topics[e.Topic]
		if u == nil {
			u = &TopicUse{Topic: e.Topic, Message: e.Message, Raw: e.IsRaw(), File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col}
			c.Topics[e.Topic] = u
		}
		if e.Owns() {
			u.Writes = true
		} else {
			u.Reads = true
		}
		if e.Role == spec.RoleState {
			u.Reads = true // a processor restores its state from the topic
		}
		u.CoPartitioned = u.CoPartitioned || coPartitioned
		u.Parts = append(u.Parts, fmt.Sprintf("%s %s", part, e.Role))
	}
	for _, comp := range svc.Components {
		for _, s := range comp.Sources {
			use(s.Entry, comp.Name+"/source", false)
		}
		for _, p := range comp.Processors {
			co := len(p.Joins) > 0 || p.Persistence != nil
			for _, e := range p.Entries() {
				copart := co && (e.Role == spec.RoleInput || e.Role == spec.RoleJoin || e.Role == spec.RoleState)
				use(e, comp.Name+"/"+p.Name, copart)
			}
		}
		for _, s := range comp.Sinks {
			use(s.Entry, comp.Name+"/"+s.Name, false)
		}
		for _, v := range comp.Views {
			use(v.Entry, comp.Name+"/view", false)
		}
		for _, v := range comp.ViewSources {
			use(v.Entry, comp.Name+"/"+v.Name, false)
		}
		for _, v := range comp.ViewSinks {
			use(v.Entry, comp.Name+"/"+v.Name, false)
		}
	}
	for _, t := range svc.Topics {
		if u := c.Topics[t.Name]; u != nil {
			u.Partitions = t.Settings.Partitions
			sort.Strings(u.Parts)
		}
	}
	return c
}

// setResolver resolves names in a compiled set (messages only, which is
// all the engine looks up).
type setResolver struct{ set *protoc.Set }

func (r setResolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	md, ok := r.set.Message(string(name))
	if !ok {
		return nil, fmt.Errorf("message %s not found", name)
	}
	return md, nil
}
