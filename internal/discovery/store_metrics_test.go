package discovery_test

import (
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery"
)

// storeLatencyCounted checks, after TestStoreOutageServesTheLastGraphMarkedStale,
// that discover's own registry timed the store's operations: the scrape's
// write, the API's reads that answered and those that failed in the
// outage, and the readiness ping that failed.
func storeLatencyCounted(t *testing.T, svc *discovery.Service) {
	t.Helper()
	mfs, err := svc.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "kafmesh_discover_store_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var op, res string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "operation":
					op = l.GetValue()
				case "result":
					res = l.GetValue()
				}
			}
			counts[op+"/"+res] = m.GetHistogram().GetSampleCount()
		}
	}
	for _, k := range []string{"report/ok", "graph/ok", "graph/error", "ping/error"} {
		if counts[k] == 0 {
			t.Errorf("kafmesh_discover_store_duration_seconds{%s} counted nothing (all: %v)", k, counts)
		}
	}
}
