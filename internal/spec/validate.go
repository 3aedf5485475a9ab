package spec

import (
	"fmt"
	"strings"
)

// validate runs the checks that need the whole service resolved.
func (r *resolver) validate() {
	r.checkComponentNames()
	for _, c := range r.svc.Components {
		r.checkParts(c)
	}
	r.checkGroups()
	r.checkCoPartitioning()
	r.checkTables()
}

// firstSeen remembers the first part of a name, to report later ones.
type firstSeen struct {
	name string
	pos  Position
}

// checkComponentNames reports components that share a name: each names a
// generated Go package.
func (r *resolver) checkComponentNames() {
	seen := map[string]firstSeen{}
	firsts := map[string]*Component{}
	kept := r.svc.Components[:0]
	for _, c := range r.svc.Components {
		if c.Name == "" {
			kept = append(kept, c)
			continue
		}
		if first, ok := firsts[c.Name]; ok && r.compat == CompatKafmesh2021 {
			// kafmesh 2021 generated one package per component name,
			// whatever the files: the parts join the first file's.
			r.warnf(c.Pos, "component %q continues here from %s (kafmesh 2021 merged them); move its parts into one file, or run kafmesh migrate", c.Name, first.Pos)
			first.Sources = append(first.Sources, c.Sources...)
			first.Processors = append(first.Processors, c.Processors...)
			first.Sinks = append(first.Sinks, c.Sinks...)
			first.Views = append(first.Views, c.Views...)
			first.ViewSources = append(first.ViewSources, c.ViewSources...)
			first.ViewSinks = append(first.ViewSinks, c.ViewSinks...)
			continue
		}
		kept = append(kept, c)
		firsts[c.Name] = c
		if first, ok := seen[c.Name]; ok {
			r.errorf(c.Pos, "component %q is declared twice (first at %s); component names must be unique because each names a generated Go package: rename one of them", c.Name, first.pos)
			continue
		}
		seen[c.Name] = firstSeen{c.Name, c.Pos}
	}
	r.svc.Components = kept
}

// checkParts reports parts of one kind that share a Go name within a
// component, and entries listed twice within a processor: the generated
// code would declare the same identifier twice.
func (r *resolver) checkParts(c *Component) {
	in := fmt.Sprintf("in component %q", c.Name)
	sources := map[string]firstSeen{}
	for _, s := range c.Sources {
		r.uniqueRef(sources, s.Entry, "source", in)
	}
	views := map[string]firstSeen{}
	for _, v := range c.Views {
		r.uniqueRef(views, v.Entry, "view", in)
	}
	procs := map[string]firstSeen{}
	for _, p := range c.Processors {
		r.uniqueName(procs, p.GoName, p.Name, p.Pos, "processor", in)
		of := fmt.Sprintf("in processor %q", p.Name)
		for _, list := range [][]*Entry{p.Inputs, p.Joins, p.Lookups, p.Outputs} {
			seen := map[string]firstSeen{}
			for _, e := range list {
				r.uniqueRef(seen, e, entryNoun(e.Role), of)
			}
		}
	}
	sinks := map[string]firstSeen{}
	for _, s := range c.Sinks {
		r.uniqueName(sinks, s.GoName, s.Name, s.Entry.Pos, "sink", in)
	}
	viewSources := map[string]firstSeen{}
	for _, v := range c.ViewSources {
		r.uniqueName(viewSources, v.GoName, orDefault(v.Name, v.Entry.Ref), v.Entry.Pos, "view source", in)
	}
	viewSinks := map[string]firstSeen{}
	for _, v := range c.ViewSinks {
		r.uniqueName(viewSinks, v.GoName, orDefault(v.Name, v.Entry.Ref), v.Entry.Pos, "view sink", in)
	}
}

func (r *resolver) uniqueName(seen map[string]firstSeen, goName, name string, pos Position, what, in string) {
	if goName == "" {
		return
	}
	first, ok := seen[goName]
	if !ok {
		seen[goName] = firstSeen{name, pos}
		return
	}
	if first.name == name {
		r.errorf(pos, "%s %q is declared twice %s (first at %s); rename or remove one of them", what, name, in, first.pos)
		return
	}
	r.errorf(pos, "%s %q has the same Go name %s as %s %q %s (at %s); rename one of them", what, name, goName, what, first.name, in, first.pos)
}

func (r *resolver) uniqueRef(seen map[string]firstSeen, e *Entry, what, in string) {
	first, ok := seen[e.GoName]
	if !ok {
		seen[e.GoName] = firstSeen{e.Ref, e.Pos}
		return
	}
	if first.name == e.Ref {
		r.errorf(e.Pos, "%s %q is listed twice %s (first at %s); remove one of them", what, e.Ref, in, first.pos)
		return
	}
	r.errorf(e.Pos, "%s %q has the same Go name %s as %s %q %s (at %s); use one spelling of the ref", what, e.Ref, e.GoName, what, first.name, in, first.pos)
}

// checkGroups reports processors and sinks that share a consumer group.
func (r *resolver) checkGroups() {
	type groupUser struct {
		desc string
		pos  Position
		// same identifies the part: two parts reported as duplicates
		// already share their group as a consequence.
		same string
	}
	seen := map[string]groupUser{}
	add := func(group, desc, same string, pos Position) {
		if group == "" {
			return
		}
		if first, ok := seen[group]; ok {
			if first.same == same {
				return
			}
			r.errorf(pos, "consumer group %q of %s is also the group of %s (at %s); every processor and sink needs its own group: change groupName or the name", group, desc, first.desc, first.pos)
			return
		}
		seen[group] = groupUser{desc, pos, same}
	}
	for _, c := range r.svc.Components {
		for _, p := range c.Processors {
			add(p.Group, fmt.Sprintf("processor %q in component %q", p.Name, c.Name), "processor "+c.Name+"."+p.GoName, p.Pos)
		}
		for _, s := range c.Sinks {
			add(s.Group, fmt.Sprintf("sink %q in component %q", s.Name, c.Name), "sink "+c.Name+"."+s.GoName, s.Entry.Pos)
		}
	}
}

// checkCoPartitioning reports processors whose inputs, joins and state
// topics have different partition counts where this service declares them:
// one member of the group must own partition i of all of them.
func (r *resolver) checkCoPartitioning() {
	for _, c := range r.svc.Components {
		for _, p := range c.Processors {
			entries := append(append([]*Entry{}, p.Inputs...), p.Joins...)
			if p.Persistence != nil {
				entries = append(entries, p.Persistence)
			}
			var first *Entry
			for _, e := range entries {
				if e.Settings == nil || e.Settings.Partitions == 0 {
					continue // declared elsewhere or left to the broker: checked at start.
				}
				if first == nil {
					first = e
					continue
				}
				if e.Settings.Partitions != first.Settings.Partitions {
					r.errorf(e.Pos, "processor %q is not co-partitioned: %s topic %q has %d partitions but %s topic %q (at %s) has %d; a processor's inputs, joins and state must have the same partition count: set the same partitions where these topics are created",
						p.Name, entryNoun(e.Role), e.Topic, e.Settings.Partitions, entryNoun(first.Role), first.Topic, first.Pos, first.Settings.Partitions)
				}
			}
		}
	}
}

// checkTables warns about tables (read by joins, lookups, views and view
// sinks) that this service creates without compaction.
func (r *resolver) checkTables() {
	for _, t := range r.svc.Topics {
		if !t.Owned || t.Settings.Compact {
			continue
		}
		var owner *Entry
		for _, e := range t.Uses {
			if e.Owns() {
				owner = e
				break
			}
		}
		for _, e := range t.Uses {
			switch e.Role {
			case RoleJoin, RoleLookup, RoleView, RoleViewSink:
				r.warnf(e.Pos, "%s topic %q is read as a table, but this service creates it without compaction (%s, at %s); add compact: true there so the latest value of every key is kept",
					entryNoun(e.Role), t.Name, r.where[owner].owner, owner.Pos)
			}
		}
	}
}

// checkRefs reports protobuf refs that name no known message.
func (r *resolver) checkRefs(msgs Messages) {
	var known []string
	for _, c := range r.svc.Components {
		for _, e := range componentEntries(c) {
			if e.Type != TypeProtobuf || msgs.Has(e.Message) {
				continue
			}
			place := r.where[e]
			if byDir, ok := msgs.(MessagesByDirectory); ok && r.compat == CompatKafmesh2021 {
				if file, pkg, ok := byDir.InDirectory(strings.ReplaceAll(e.ProtoPackage, ".", "/"), e.ProtoName); ok {
					r.warnf(place.refPos, "message %s (from ref %q) is message %s in %s, whose package line (%s) differs from its directory; kafmesh 2021 went by the directory: write package %s; in that file (the wire format does not change)",
						e.Message, e.Ref, e.ProtoName, file, pkg, e.ProtoPackage)
					continue
				}
			}
			if known == nil {
				known = msgs.Names()
			}
			if best := suggestMessages(e.Message, known); len(best) > 0 {
				r.errorf(place.refPos, "message %s (from ref %q) is not defined in the .proto files; did you mean %s?", e.Message, e.Ref, strings.Join(best, " or "))
			} else {
				r.errorf(place.refPos, "message %s (from ref %q) is not defined in the .proto files; define message %s in package %s, or fix the ref", e.Message, e.Ref, e.ProtoName, e.ProtoPackage)
			}
		}
	}
}

// componentEntries lists every entry of a component in definition order.
func componentEntries(c *Component) []*Entry {
	var out []*Entry
	for _, s := range c.Sources {
		out = append(out, s.Entry)
	}
	for _, p := range c.Processors {
		out = append(out, p.Entries()...)
	}
	for _, s := range c.Sinks {
		out = append(out, s.Entry)
	}
	for _, v := range c.Views {
		out = append(out, v.Entry)
	}
	for _, v := range c.ViewSources {
		out = append(out, v.Entry)
	}
	for _, v := range c.ViewSinks {
		out = append(out, v.Entry)
	}
	return out
}
