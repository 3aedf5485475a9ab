package runner

// topicRole is how a part uses a topic; it labels edges in the discovery
// graph and drives topic checks.
type topicRole string

const (
	roleSource     topicRole = "source"
	roleInput      topicRole = "input"
	roleJoin       topicRole = "join"
	roleLookup     topicRole = "lookup"
	roleOutput     topicRole = "output"
	roleState      topicRole = "state"
	roleView       topicRole = "view"
	roleSink       topicRole = "sink"
	roleViewSource topicRole = "viewSource"
	roleViewSink   topicRole = "viewSink"
	roleDeadLetter topicRole = "deadLetter"
)

// topicUse is one topic a part touches.
type topicUse struct {
	ref   TopicRef
	role  topicRole
	owned bool // the service creates it
	table bool // read as a table: should be compacted
	// copartition names the processor whose inputs, joins and state must
	// have equal partition counts ("" when not co-partitioned).
	copartition string
}
