package export

import (
	"crypto/sha1"
	"fmt"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Producer identifies kafmesh as the producer of OpenLineage events.
const Producer = "https://github.com/kafmesh/kafmesh"

const (
	runEventSchema     = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	schemaFacetURL     = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
	jobTypeFacetURL    = "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	docFacetURL        = "https://openlineage.io/spec/facets/1-0-1/DocumentationJobFacet.json#/$defs/DocumentationJobFacet"
	maxSchemaDepth     = 6
	openLineageRunning = "RUNNING"
)

// OpenLineage returns one OpenLineage run event per part of every service
// of m: the job is the part (namespace opts.JobNamespace, name
// "<service>.<component>.<part>", a jobType facet with processingType
// STREAMING), its inputs the topics it reads and its outputs the topics it
// writes, each dataset with a schema facet from the service's descriptors.
// Kafmesh parts run continuously, so eventType is RUNNING. runKey makes the
// run ids: the same key and job give the same id (a UUID derived from
// them), so a caller passes something that changes when the mesh does.
func OpenLineage(m *Mesh, at time.Time, runKey string, opts Options) []map[string]any {
	opts = opts.withDefaults()
	var events []map[string]any
	for _, svc := range m.Services {
		for _, c := range svc.Components {
			for _, p := range c.Parts {
				job := jobName(svc.Name, c.Name, p)
				var inputs, outputs []any
				seenIn, seenOut := map[string]bool{}, map[string]bool{}
				for _, u := range p.Uses {
					ds := dataset(svc, m.Topics[u.Topic], u.Topic, opts)
					if u.Writes {
						if !seenOut[u.Topic] {
							seenOut[u.Topic] = true
							outputs = append(outputs, ds)
						}
						if u.Role == "state" && !seenIn[u.Topic] {
							// A processor restores its state from the topic.
							seenIn[u.Topic] = true
							inputs = append(inputs, dataset(svc, m.Topics[u.Topic], u.Topic, opts))
						}
					} else if !seenIn[u.Topic] {
						seenIn[u.Topic] = true
						inputs = append(inputs, ds)
					}
				}
				jobFacets := map[string]any{
					"jobType": map[string]any{
						"_producer": Producer, "_schemaURL": jobTypeFacetURL,
						"processingType": "STREAMING", "integration": "KAFMESH", "jobType": jobType(p.Kind),
					},
				}
				if p.Description != "" {
					jobFacets["documentation"] = map[string]any{"_producer": Producer, "_schemaURL": docFacetURL, "description": p.Description}
				}
				if inputs == nil {
					inputs = []any{}
				}
				if outputs == nil {
					outputs = []any{}
				}
				events = append(events, map[string]any{
					"eventType": openLineageRunning,
					"eventTime": at.UTC().Format(time.RFC3339Nano),
					"producer":  Producer,
					"schemaURL": runEventSchema,
					"run":       map[string]any{"runId": runID(runKey, opts.JobNamespace+"/"+job)},
					"job":       map[string]any{"namespace": opts.JobNamespace, "name": job, "facets": jobFacets},
					"inputs":    inputs,
					"outputs":   outputs,
				})
			}
		}
	}
	return events
}

func jobType(kind string) string {
	switch kind {
	case KindViewSource:
		return "VIEW_SOURCE"
	case KindViewSink:
		return "VIEW_SINK"
	}
	out := []byte(kind)
	for i, c := range out {
		if c >= 'a' && c <= 'z' {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

// runID derives a UUID (version 5 layout, SHA-1) from key and job.
func runID(key, job string) string {
	sum := sha1.Sum([]byte(key + "\x00" + job))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func dataset(svc *Service, t *Topic, name string, opts Options) map[string]any {
	ds := map[string]any{"namespace": opts.KafkaNamespace, "name": name}
	if t == nil || t.Raw {
		return ds
	}
	md := svc.message(t.Message)
	if md == nil {
		return ds
	}
	ds["facets"] = map[string]any{"schema": map[string]any{
		"_producer": Producer, "_schemaURL": schemaFacetURL,
		"fields": schemaFields(md, 0),
	}}
	return ds
}

// schemaFields lists the fields of md as the OpenLineage schema facet has
// them, with nested message fields up to a depth (recursive messages stop
// there).
func schemaFields(md protoreflect.MessageDescriptor, depth int) []any {
	fields := md.Fields()
	out := make([]any, 0, fields.Len())
	for i := range fields.Len() {
		f := fields.Get(i)
		entry := map[string]any{"name": string(f.Name()), "type": fieldTypeName(f)}
		if f.Message() != nil && !f.IsMap() && wellKnown(f.Message()) == nil && depth < maxSchemaDepth {
			if nested := schemaFields(f.Message(), depth+1); len(nested) > 0 {
				entry["fields"] = nested
			}
		}
		out = append(out, entry)
	}
	return out
}

func fieldTypeName(f protoreflect.FieldDescriptor) string {
	var s string
	switch {
	case f.IsMap():
		return fmt.Sprintf("map<%s, %s>", fieldTypeName(f.MapKey()), fieldTypeName(f.MapValue()))
	case f.Message() != nil:
		s = string(f.Message().FullName())
	case f.Enum() != nil:
		s = string(f.Enum().FullName())
	default:
		s = f.Kind().String()
	}
	if f.Cardinality() == protoreflect.Repeated {
		return "repeated " + s
	}
	return s
}

// jobName is "<service>.<component>.<part>", or, for parts named after
// their topic (sources, views), "<service>.<component>.<kind>.<topic>".
func jobName(service, component string, p *Part) string {
	for _, u := range p.Uses {
		if u.Topic == p.Name {
			return fmt.Sprintf("%s.%s.%s.%s", service, component, p.Kind, p.Name)
		}
	}
	return fmt.Sprintf("%s.%s.%s", service, component, p.Name)
}
