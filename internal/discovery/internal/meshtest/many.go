package meshtest

import (
	"fmt"
	"testing"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
)

// ServeMany starts n targets, each a distinct service shaped like Devices
// (2 components, 6 parts of all kinds, its own topics plus the shared
// enriched topic), and returns their addresses. For benchmarks of whole
// meshes.
func ServeMany(tb testing.TB, n int) []string {
	tb.Helper()
	addrs := make([]string, 0, n)
	for i := 0; i < n; i++ {
		addrs = append(addrs, Serve(tb, Numbered(i)).Addr)
	}
	return addrs
}

// Numbered is Devices renamed service-NNN, with topics of its own (but the
// enriched topic, which every one of them writes).
func Numbered(i int) *discoveryv1.Service {
	svc := Devices()
	svc.Name = fmt.Sprintf("service-%03d", i)
	rename := func(td *discoveryv1.TopicDefinition) {
		if td.Topic != TopicEnriched {
			td.Topic = svc.Name + "." + td.Topic
		}
	}
	for _, c := range svc.Components {
		for _, s := range c.Sources {
			rename(s.Topic)
		}
		for _, p := range c.Processors {
			for _, x := range p.Inputs {
				rename(x.Topic)
			}
			for _, x := range p.Joins {
				rename(x.Topic)
			}
			for _, x := range p.Lookups {
				rename(x.Topic)
			}
			rename(p.Persistence.Topic)
		}
		for _, v := range c.Views {
			rename(v.Topic)
		}
		for _, v := range c.ViewSources {
			rename(v.Topic)
		}
		for _, v := range c.ViewSinks {
			rename(v.Topic)
		}
	}
	return svc
}
