package graph

import "testing"

// The group lists are measured from the brokers, so the cost model bounds
// them by their `first` arguments: the defaults fit the limit on a big
// mesh, the largest pages multiplied together do not.
func TestGroupListsAreBoundedByFirst(t *testing.T) {
	g := bigMesh()
	small := cost(t, g, `{ groups { name lagHistory { at lag } partitions { topicName memberId lag } } topics { consumerGroups { name } } }`)
	if small > DefaultMaxComplexity/2 {
		t.Errorf("the default group pages cost %d", small)
	}
	if c := cost(t, g, `{ groups(first: 1) { partitions(first: 1) { lag } } }`); c > 10 {
		t.Errorf("one group's one partition costs %d", c)
	}
	if c := cost(t, g, `{ groups(first: 1000) { partitions(first: 1000) { lag memberId } } }`); c <= DefaultMaxComplexity {
		t.Errorf("1000 groups of 1000 partitions cost only %d", c)
	}
	if c := cost(t, g, `{ topics { consumerGroups(first: 1000) { partitions(first: 1000) { lag } } } }`); c <= DefaultMaxComplexity {
		t.Errorf("every topic's groups' partitions cost only %d", c)
	}
}
