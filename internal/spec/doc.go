// Package spec loads a kafmesh service definition and its component files,
// derives every name the generated code and the runtime need, and validates
// the whole service.
//
// # Loading
//
// [Load] reads the definition (docs/kafmesh/definition.yml by convention),
// expands its component globs (relative to the definition file; ** is
// supported), and parses every file with the yaml.v3 node API so that each
// value keeps its file, line and column. It reports every problem at once
// as [Diagnostics], sorted by file, line and column, each formatted as
// "file:line:col: message" (warnings as "file:line:col: warning: message").
// Files under the working directory are shown relative to it, others
// absolute.
//
//	svc, diags, err := spec.Load(ctx, "docs/kafmesh/definition.yml",
//		spec.WithMessageLoader(compile)) // or spec.WithMessages(set)
//	if err != nil {
//		return err // unreadable definition, cancelled context, loader failure
//	}
//	fmt.Fprint(os.Stderr, diags) // errors and warnings
//	if diags.HasErrors() {
//		return errors.New("invalid definition") // write nothing
//	}
//
// With [WithMessageLoader] (the CLI plugs in internal/protoc) or
// [WithMessages], every protobuf message ref is also checked against the
// messages that exist, with the closest names suggested.
//
// # The model
//
// A [Service] holds its [Component]s; each component holds its sources,
// processors, sinks, views, view sources and view sinks. Every topic a part
// uses is an [Entry] with all names resolved, so templates need no naming
// logic:
//
//	for _, c := range svc.Components {
//		// package c.Package, in svc.Output.Dir/c.Package
//		for _, p := range c.Processors {
//			// type p.GoName, consumer group p.Group, state p.StateTopic
//			for _, in := range p.Inputs {
//				// Go name in.GoName, topic in.Topic, message
//				// in.Message (in.ProtoPackage + "." + in.ProtoName),
//				// in.Type protobuf or raw
//			}
//		}
//	}
//	for _, t := range svc.OwnedTopics() {
//		// create t.Name with t.Settings (partitions, replicas, compact,
//		// retention, segment; defaults applied)
//	}
//
// # Names
//
// The names are those of the 2021 kafmesh, since existing deployments keep
// their data under them:
//
//   - service topic prefix: the service name in lowerCamel ("kafmesh");
//   - a message ref "deviceId.heartbeat" names topic
//     "kafmesh.deviceId.heartbeat" (two fragments get the prefix; three or
//     more are used as written), protobuf message
//     "kafmesh.deviceId.Heartbeat" and Go name "DeviceIDHeartbeat";
//   - an entry's topic: override is used as written;
//   - processor group: groupName as written, else
//     "<prefix>.<component>.<processor>" in lowerCamel; its state topic is
//     "<group>-table", always compacted;
//   - sink group: "<service name>.<component name>.<sink Go name in lower
//     case>-sink".
//
// # Ownership and settings
//
// Sources, outputs, persistence and view sources own (create and write)
// their topics; inputs, joins, lookups, sinks, views and view sinks only
// read. A topic's settings are what its owners declare (conflicting
// declarations are an error), else the service defaults; state and view
// source topics are always compacted. [Entry.Settings] is nil for a topic
// this service does not own.
package spec
