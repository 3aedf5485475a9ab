package export

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// ProtobufSchemaFormat is the AsyncAPI schemaFormat of message payloads
// given as .proto source.
const ProtobufSchemaFormat = "application/vnd.google.protobuf;version=3"

// kafkaBindingVersion is the version of the AsyncAPI Kafka bindings used.
const kafkaBindingVersion = "0.5.0"

// Options tune the exports.
type Options struct {
	// Version is info.version of AsyncAPI documents (default "0.0.0":
	// kafmesh does not know the service's version).
	Version string
	// Owner, Lifecycle and System are the Backstage spec fields (defaults
	// "unknown", "production", none).
	Owner, Lifecycle, System string
	// KafkaNamespace is the OpenLineage dataset namespace of the topics,
	// kafka://host:port of a bootstrap broker (default "kafka://kafmesh").
	KafkaNamespace string
	// JobNamespace is the OpenLineage job namespace (default "kafmesh").
	JobNamespace string
}

func (o Options) withDefaults() Options {
	if o.Version == "" {
		o.Version = "0.0.0"
	}
	if o.Owner == "" {
		o.Owner = "unknown"
	}
	if o.Lifecycle == "" {
		o.Lifecycle = "production"
	}
	if o.KafkaNamespace == "" {
		o.KafkaNamespace = "kafka://kafmesh"
	}
	if o.JobNamespace == "" {
		o.JobNamespace = "kafmesh"
	}
	return o
}

var unsafeID = regexp.MustCompile(`[^a-zA-Z0-9.\-_]+`)

// componentKey makes s a valid AsyncAPI component or channel key.
func componentKey(s string) string { return unsafeID.ReplaceAllString(s, "_") }

// AsyncAPI returns the AsyncAPI 3.0 document of one service of m: a
// channel per topic it uses, a send or receive operation per use by a part,
// a message per topic value with its protobuf schema (and a JSON Schema
// rendering in components.schemas) and Kafka bindings. An unknown service
// is an error.
func AsyncAPI(m *Mesh, service string, opts Options) (map[string]any, error) {
	opts = opts.withDefaults()
	var svc *Service
	for _, s := range m.Services {
		if s.Name == service {
			svc = s
		}
	}
	if svc == nil {
		return nil, fmt.Errorf("no service %q in the mesh", service)
	}
	channels := map[string]any{}
	operations := map[string]any{}
	messages := map[string]any{}
	schemas := map[string]any{}
	msgIDs := map[string]string{}
	for _, name := range svc.TopicNames() {
		t := m.Topics[name]
		if t == nil {
			t = &Topic{Name: name}
		}
		mid := messageKey(t)
		msgIDs[name] = mid
		if _, ok := messages[mid]; !ok {
			messages[mid] = asyncMessage(svc, t, schemas)
		}
		binding := map[string]any{"topic": t.Name, "bindingVersion": kafkaBindingVersion}
		if t.Partitions > 0 {
			binding["partitions"] = t.Partitions
		}
		if t.Replicas > 0 {
			binding["replicas"] = t.Replicas
		}
		if t.Compact {
			binding["topicConfiguration"] = map[string]any{"cleanup.policy": []any{"compact"}}
		}
		ch := map[string]any{
			"address":  t.Name,
			"messages": map[string]any{mid: map[string]any{"$ref": "#/components/messages/" + mid}},
			"bindings": map[string]any{"kafka": binding},
		}
		var desc []string
		if w := m.Writers(name); len(w) > 0 {
			desc = append(desc, "Written by "+strings.Join(w, ", ")+".")
		}
		if r := m.Readers(name); len(r) > 0 {
			desc = append(desc, "Read by "+strings.Join(r, ", ")+".")
		}
		if len(desc) > 0 {
			ch["description"] = strings.Join(desc, " ")
		}
		channels[componentKey(name)] = ch
	}
	for _, c := range svc.Components {
		for _, p := range c.Parts {
			for _, u := range p.Uses {
				cid := componentKey(u.Topic)
				action := "receive"
				if u.Writes {
					action = "send"
				}
				op := map[string]any{
					"action":   action,
					"channel":  map[string]any{"$ref": "#/channels/" + cid},
					"messages": []any{map[string]any{"$ref": "#/channels/" + cid + "/messages/" + msgIDs[u.Topic]}},
					"title":    fmt.Sprintf("%s %s %s %s", c.Name, p.Kind, p.Name, u.Role),
					"summary":  fmt.Sprintf("The %s %q of component %s %s %s as %s.", p.Kind, p.Name, c.Name, verb(u.Writes), u.Topic, u.Role),
				}
				if p.Description != "" {
					op["description"] = p.Description
				}
				if p.Group != "" && !u.Writes {
					op["bindings"] = map[string]any{"kafka": map[string]any{
						"groupId":        map[string]any{"type": "string", "enum": []any{p.Group}},
						"bindingVersion": kafkaBindingVersion,
					}}
				}
				id := fmt.Sprintf("%s.%s.%s.%s.%s", c.Name, p.Kind, p.Name, u.Role, u.Topic)
				if p.Name == u.Topic {
					id = fmt.Sprintf("%s.%s.%s", c.Name, p.Kind, u.Topic)
				}
				operations[componentKey(id)] = op
			}
		}
	}
	info := map[string]any{"title": svc.Name, "version": opts.Version}
	if svc.Description != "" {
		info["description"] = svc.Description
	}
	components := map[string]any{"messages": messages}
	if len(schemas) > 0 {
		components["schemas"] = schemas
	}
	return map[string]any{
		"asyncapi":           "3.0.0",
		"id":                 "urn:kafmesh:service:" + componentKey(svc.Name),
		"info":               info,
		"defaultContentType": "application/x-protobuf",
		"channels":           channels,
		"operations":         operations,
		"components":         components,
	}, nil
}

func verb(writes bool) string {
	if writes {
		return "writes"
	}
	return "reads"
}

func messageKey(t *Topic) string {
	if t.Raw {
		return componentKey(t.Name + ".raw")
	}
	if t.Message == "" {
		return componentKey(t.Name + ".value")
	}
	return componentKey(t.Message)
}

func asyncMessage(svc *Service, t *Topic, schemas map[string]any) map[string]any {
	msg := map[string]any{
		"name": t.Message,
		"bindings": map[string]any{"kafka": map[string]any{
			"key":            map[string]any{"type": "string"},
			"bindingVersion": kafkaBindingVersion,
		}},
	}
	if t.Raw {
		msg["name"] = t.Name + " value"
		msg["contentType"] = "application/octet-stream"
		msg["payload"] = map[string]any{"type": "string", "format": "binary"}
		return msg
	}
	msg["contentType"] = "application/x-protobuf"
	md := svc.message(t.Message)
	if md == nil {
		msg["summary"] = "protobuf message " + t.Message + " (no descriptors reported)"
		return msg
	}
	msg["title"] = string(md.Name())
	msg["payload"] = map[string]any{"schemaFormat": ProtobufSchemaFormat, "schema": protoText(md)}
	jsonSchemas(md, schemas)
	msg["x-json-schema"] = map[string]any{"$ref": "#/components/schemas/" + string(md.FullName())}
	return msg
}

// MarshalJSON renders a document as indented JSON with a final newline.
func MarshalJSON(doc any) ([]byte, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
