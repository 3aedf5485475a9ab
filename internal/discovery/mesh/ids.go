package mesh

import (
	"net/url"
	"strings"
)

// Kind is the kind of a node; it is also the node's label in Neo4j and the
// GraphQL type that shows it.
type Kind string

// The node kinds.
const (
	KindService    Kind = "Service"
	KindComponent  Kind = "Component"
	KindProcessor  Kind = "Processor"
	KindSource     Kind = "Source"
	KindSink       Kind = "Sink"
	KindView       Kind = "View"
	KindViewSource Kind = "ViewSource"
	KindViewSink   Kind = "ViewSink"
	KindTopic      Kind = "Topic"
	KindPod        Kind = "Pod"
)

// PartKinds are the six kinds of component parts.
var PartKinds = []Kind{KindProcessor, KindSource, KindSink, KindView, KindViewSource, KindViewSink}

// NodeKinds are the kinds a Tree holds (every kind but Pod).
var NodeKinds = []Kind{KindService, KindComponent, KindProcessor, KindSource, KindSink, KindView, KindViewSource, KindViewSink, KindTopic}

// IsPart reports whether k is one of the six part kinds.
func (k Kind) IsPart() bool {
	for _, p := range PartKinds {
		if p == k {
			return true
		}
	}
	return false
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	return k == KindPod || k == KindService || k == KindComponent || k == KindTopic || k.IsPart()
}

// Rel is the type of an edge; it is also the relationship type in Neo4j.
type Rel string

// The edge types. Structure: HAS_COMPONENT (service → component), HAS_PART
// (component → part). Data flow, part → topic: READS (processor inputs,
// sinks, views, view sinks), WRITES (processor outputs, sources, view
// sources), JOINS, LOOKS_UP, PERSISTS_TO (a processor's state table).
const (
	RelHasComponent Rel = "HAS_COMPONENT"
	RelHasPart      Rel = "HAS_PART"
	RelReads        Rel = "READS"
	RelWrites       Rel = "WRITES"
	RelJoins        Rel = "JOINS"
	RelLooksUp      Rel = "LOOKS_UP"
	RelPersistsTo   Rel = "PERSISTS_TO"
)

// Rels lists every edge type a Tree holds.
var Rels = []Rel{RelHasComponent, RelHasPart, RelReads, RelWrites, RelJoins, RelLooksUp, RelPersistsTo}

// Valid reports whether r is a known edge type.
func (r Rel) Valid() bool {
	for _, x := range Rels {
		if x == r {
			return true
		}
	}
	return false
}

// Consumes reports whether r is an edge through which a part reads a topic.
func (r Rel) Consumes() bool { return r == RelReads || r == RelJoins || r == RelLooksUp }

// Produces reports whether r is an edge through which a part writes a topic.
func (r Rel) Produces() bool { return r == RelWrites || r == RelPersistsTo }

// An id is "<Kind>:<path>", the path being the names that make the node
// unique, each URL-path-escaped and joined with "/". For example
// "Processor:devices/heartbeats/enricher" or "Topic:kafmesh.deviceId.details".
// Ids depend on names only, so they are stable across scrapes, restarts and
// stores.
func makeID(kind Kind, names ...string) string {
	var b strings.Builder
	b.WriteString(string(kind))
	b.WriteByte(':')
	for i, n := range names {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(n))
	}
	return b.String()
}

// ServiceID is the id of the service named service.
func ServiceID(service string) string { return makeID(KindService, service) }

// ComponentID is the id of a component of a service.
func ComponentID(service, component string) string {
	return makeID(KindComponent, service, component)
}

// PartID is the id of a part of a component. name is the part's name;
// sources and views have none and are named by their topic.
func PartID(kind Kind, service, component, name string) string {
	return makeID(kind, service, component, name)
}

// TopicID is the id of a Kafka topic.
func TopicID(topic string) string { return makeID(KindTopic, topic) }

// PodID is the id of a pod. Kubernetes pods are namespace/name/uid, so a pod
// re-created under the same name is a new pod; static targets use their
// address as name and an empty namespace and uid.
func PodID(namespace, name, uid string) string {
	if namespace == "" && uid == "" {
		return makeID(KindPod, "static", name)
	}
	return makeID(KindPod, namespace, name, uid)
}

// KindOf returns the kind an id names, or "" when id is not a mesh id.
func KindOf(id string) Kind {
	i := strings.IndexByte(id, ':')
	if i <= 0 {
		return ""
	}
	k := Kind(id[:i])
	if !k.Valid() {
		return ""
	}
	return k
}

// EdgeID is the stable id of an edge, used by the GraphQL types that stand
// for an edge (ProcessorInput, ProcessorJoin, ProcessorLookup,
// ProcessorOutput).
func EdgeID(e Edge) string { return string(e.Rel) + ":" + e.From + "->" + e.To }
