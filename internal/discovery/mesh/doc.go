// Package mesh is the model of the kafmesh mesh as discovery sees it.
//
// A pod's GetServiceInfo answer is turned into a Tree: nodes (the service,
// its components, their parts and the topics they use) and edges between
// them (HAS_COMPONENT, HAS_PART, READS, WRITES, JOINS, LOOKS_UP,
// PERSISTS_TO). Every node has a stable id derived from its names, so the
// same service reported by many pods, across restarts of discovery and
// across stores, maps to the same ids.
//
// A Graph is the union of every pod's tree plus the pods themselves and the
// record of which pod reported which node. Everything derived (service and
// component dependencies, topic producers and consumers, message schemas)
// is computed from a Graph, so stores keep only what pods reported.
package mesh
