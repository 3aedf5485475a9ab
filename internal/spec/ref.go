package spec

import (
	"fmt"
	"strings"
)

// messageRef is a parsed message ref such as "deviceId.heartbeat".
type messageRef struct {
	frags []string
}

// parseRef splits a ref into its fragments. It returns a problem, worded for
// the user, when the ref is not usable.
func parseRef(ref string) (messageRef, string) {
	frags := strings.Split(ref, ".")
	if len(frags) < 2 {
		return messageRef{}, fmt.Sprintf("message ref %q has one fragment; write the package and the message, e.g. \"deviceId.heartbeat\"", ref)
	}
	for _, f := range frags {
		if problem := protoIdentProblem(f); problem != "" {
			return messageRef{}, fmt.Sprintf("message ref %q has an invalid fragment %q: %s", ref, f, problem)
		}
	}
	return messageRef{frags: frags}, ""
}

// protoIdentProblem checks one fragment of a ref: a protobuf identifier.
func protoIdentProblem(f string) string {
	if f == "" {
		return "it is empty (two dots in a row, or a dot at an end)"
	}
	for i, r := range f {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case r >= '0' && r <= '9':
			if i == 0 {
				return "a protobuf name cannot start with a digit"
			}
		default:
			return "a protobuf name holds only ASCII letters, digits and '_'"
		}
	}
	return ""
}

// fullName is the ref with every fragment lowerCamel, prefixed with the
// service prefix when the ref has exactly two fragments (a message of this
// service); refs of three or more fragments are used as written. It is the
// default topic name: "deviceId.heartbeat" → "kafmesh.deviceId.heartbeat".
func (r messageRef) fullName(servicePrefix string) string {
	parts := make([]string, 0, len(r.frags)+1)
	if len(r.frags) == 2 {
		parts = append(parts, servicePrefix)
	}
	for _, f := range r.frags {
		parts = append(parts, lowerCamel(f))
	}
	return strings.Join(parts, ".")
}

// protoPackage is the protobuf package of the message: the full name without
// its last fragment ("kafmesh.deviceId").
func (r messageRef) protoPackage(servicePrefix string) string {
	full := r.fullName(servicePrefix)
	return full[:strings.LastIndexByte(full, '.')]
}

// protoName is the short protobuf message name: the last fragment in
// UpperCamel ("enrichedHeartbeat" → "EnrichedHeartbeat").
func (r messageRef) protoName() string {
	return upperCamel(r.frags[len(r.frags)-1])
}

// goName is the Go name derived from the ref as written: every fragment
// UpperCamel, joined, with Id→ID and Api→API
// ("deviceId.enrichedHeartbeat" → "DeviceIDEnrichedHeartbeat").
func (r messageRef) goName() string {
	var b strings.Builder
	for _, f := range r.frags {
		b.WriteString(upperCamel(f))
	}
	return fixInitialisms(b.String())
}
