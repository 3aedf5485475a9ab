package export

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	backstageUnsafe = regexp.MustCompile(`[^a-zA-Z0-9\-_.]+`)
	backstageRuns   = regexp.MustCompile(`[\-_.]{2,}`)
)

// entityName makes s a valid Backstage entity name: letters, digits and
// -_. only, no two separators in a row, starting and ending with a letter
// or digit, at most 63 characters (a longer name keeps its start and a
// hash of the whole).
func entityName(s string) string {
	n := backstageUnsafe.ReplaceAllString(s, "-")
	n = backstageRuns.ReplaceAllStringFunc(n, func(r string) string { return r[:1] })
	n = strings.Trim(n, "-_.")
	if n == "" {
		n = "x"
	}
	if len(n) > 63 {
		sum := sha1.Sum([]byte(s))
		n = strings.TrimRight(n[:54], "-_.") + "-" + hex.EncodeToString(sum[:4])
	}
	return n
}

func apiName(service string) string { return entityName(service + "-events") }

// Backstage returns the Backstage catalog of m as YAML documents: a
// Component (type service) per service, an API (type asyncapi, with the
// service's AsyncAPI document as its definition) per service, and a
// Resource (type kafka-topic) per topic. A component providesApi its own
// API, consumesApis the APIs of the services whose topics it reads, and
// dependsOn the topics it uses and the components it reads from.
func Backstage(m *Mesh, opts Options) ([]byte, error) {
	opts = opts.withDefaults()
	var docs []map[string]any
	specBase := func(typ string) map[string]any {
		s := map[string]any{"type": typ, "owner": opts.Owner, "lifecycle": opts.Lifecycle}
		if opts.System != "" {
			s["system"] = opts.System
		}
		return s
	}
	for _, svc := range m.Services {
		var consumes, depends []string
		for _, t := range svc.TopicNames() {
			depends = append(depends, "resource:"+entityName(t))
			if svc.uses(t, false) {
				for _, w := range m.Writers(t) {
					if w != svc.Name {
						consumes = append(consumes, apiName(w))
						depends = append(depends, "component:"+entityName(w))
					}
				}
			}
		}
		spec := specBase("service")
		spec["providesApis"] = []string{apiName(svc.Name)}
		if c := uniqueSorted(consumes); len(c) > 0 {
			spec["consumesApis"] = c
		}
		if d := uniqueSorted(depends); len(d) > 0 {
			spec["dependsOn"] = d
		}
		meta := map[string]any{"name": entityName(svc.Name), "title": svc.Name, "tags": []string{"kafmesh", "kafka"}}
		if svc.Description != "" {
			meta["description"] = svc.Description
		}
		ann := map[string]string{"kafmesh.io/service": svc.Name}
		var groups []string
		for _, c := range svc.Components {
			for _, p := range c.Parts {
				if p.Group != "" {
					groups = append(groups, p.Group)
				}
			}
		}
		if g := uniqueSorted(groups); len(g) > 0 {
			ann["kafmesh.io/consumer-groups"] = strings.Join(g, ",")
		}
		if len(svc.Pods) > 0 {
			ann["kafmesh.io/pods"] = strings.Join(svc.Pods, ",")
		}
		meta["annotations"] = ann
		docs = append(docs, map[string]any{"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": meta, "spec": spec})

		doc, err := AsyncAPI(m, svc.Name, opts)
		if err != nil {
			return nil, err
		}
		def, err := MarshalJSON(doc)
		if err != nil {
			return nil, err
		}
		apiSpec := specBase("asyncapi")
		apiSpec["definition"] = string(def)
		docs = append(docs, map[string]any{
			"apiVersion": "backstage.io/v1alpha1", "kind": "API",
			"metadata": map[string]any{"name": apiName(svc.Name), "title": svc.Name + " events",
				"description": "The Kafka topics " + svc.Name + " reads and writes.", "tags": []string{"kafmesh", "kafka"}},
			"spec": apiSpec,
		})
	}
	names := make([]string, 0, len(m.Topics))
	for n := range m.Topics {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := m.Topics[n]
		ann := map[string]string{"kafmesh.io/topic": t.Name}
		if t.Message != "" && !t.Raw {
			ann["kafmesh.io/message"] = t.Message
		}
		if t.Partitions > 0 {
			ann["kafmesh.io/partitions"] = strconv.Itoa(int(t.Partitions))
		}
		spec := specBase("kafka-topic")
		delete(spec, "lifecycle") // Resources have no lifecycle
		var deps []string
		for _, w := range m.Writers(n) {
			deps = append(deps, "component:"+entityName(w))
		}
		if len(deps) > 0 {
			spec["dependencyOf"] = uniqueSorted(deps)
		}
		docs = append(docs, map[string]any{
			"apiVersion": "backstage.io/v1alpha1", "kind": "Resource",
			"metadata": map[string]any{"name": entityName(n), "title": n, "annotations": ann, "tags": []string{"kafmesh", "kafka"}},
			"spec":     spec,
		})
	}
	var buf bytes.Buffer
	for _, d := range docs {
		buf.WriteString("---\n")
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func uniqueSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
