package handlers2021

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"example.com/golden/compat2021/internal/definitions"
	"example.com/golden/compat2021/internal/definitions/assignments"
	"example.com/golden/compat2021/internal/definitions/details"
	"example.com/golden/compat2021/internal/definitions/models/kafmesh/customerId"
	"example.com/golden/compat2021/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// The whole 2021-style service on the in-memory driver: sources emit, the
// processor joins, looks up and counts in its state (State() starts as an
// empty message), the sink collects and flushes, the view answers.
func TestServiceWrittenFor2021(t *testing.T) {
	d := kafmeshtest.NewDriver(t, 4)
	svc := d.Service(definitions.Definition())
	warehouse := &Warehouse{}
	customers := &CustomerDatabase{Customers: map[string]*customerId.Details{"c9": {Id: "c9"}}}
	status := &StatusPage{}
	audit := &Audit{}
	p, err := Register(svc, warehouse, audit, customers, status)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The view source reports the customer database; the view sink copies
	// the current health table.
	ctx := context.Background()
	must(d.SyncViewSources(ctx))
	synced := false
	for _, r := range d.Records("kafmesh.customerId.details") {
		synced = synced || string(r.Key) == "c9"
	}
	if !synced {
		t.Error("the view source's customer c9 is not in kafmesh.customerId.details")
	}
	health, _ := proto.Marshal(&customerId.CurrentHealth{Id: "c1", TimeUnixMs: 7})
	must(d.SendRaw("kafmesh.customerId.currentHealth", []byte("c1"), health))
	must(d.SyncViewSinks(ctx))
	if h := status.Health["c1"]; h.GetTimeUnixMs() != 7 || len(status.Health) != 1 {
		t.Errorf("the view sink copied %v; want c1 with time 7", status.Health)
	}
	must(p.Customers.Emit(assignments.CustomerIDDetails_Source_Message{Key: "c1", Value: &customerId.Details{Id: "c1"}}))
	must(p.Assignments.Emit(assignments.DeviceIDCustomer_Source_Message{Key: "d1", Value: &deviceId.Customer{Id: "c1"}}))
	must(p.Details.Emit(details.DeviceIDDetails_Source_Message{Key: "d1", Value: &deviceId.Details{Id: "d1"}}))
	must(p.Details.Emit(details.DeviceIDDetails_Source_Message{Key: "d1", Value: &deviceId.Details{Id: "d1"}}))
	must(p.Details.Emit(details.DeviceIDDetails_Source_Message{Key: "d2", Value: &deviceId.Details{Id: "d2"}})) // unassigned

	got, err := p.Enriched.Get("d1")
	if err != nil || got.GetId() != "c1" || got.GetTimeUnixMs() != 2 {
		t.Fatalf("view d1: %v, %v; want customer c1 counted twice", got, err)
	}
	if missing, err := p.Enriched.Get("d2"); err != nil || missing != nil {
		t.Errorf("view d2: %v, %v; want nil", missing, err)
	}
	if keys, err := p.Enriched.Keys(); err != nil || len(keys) != 1 {
		t.Errorf("view keys %v, %v", keys, err)
	}
	if row := warehouse.Rows["d1"]; row.GetTimeUnixMs() != 2 {
		t.Errorf("warehouse row %v; want count 2", row)
	}
	must(d.SendRaw("kafmesh.deviceId.audit", []byte("d1"), []byte("seen")))
	if len(audit.Flushed) != 1 || audit.Flushed[0] != "d1=seen" {
		t.Errorf("the raw audit sink flushed %q; want [d1=seen]", audit.Flushed)
	}
	if len(warehouse.Topics) != 1 || !warehouse.Topics["kafmesh.deviceId.enrichedDetails"] {
		t.Errorf("the sink's message contexts named topics %v; want kafmesh.deviceId.enrichedDetails", warehouse.Topics)
	}
}

// A handler unit test in the 2021 style: a hand-written context.
type fakeContext struct {
	details.Enricher_ProcessorContext
	key      string
	customer *deviceId.Customer
	state    *deviceId.EnrichedDetailsState
	outputs  []*deviceId.EnrichedDetails
}

func (f *fakeContext) Key() string                               { return f.key }
func (f *fakeContext) Join_DeviceIDCustomer() *deviceId.Customer { return f.customer }
func (f *fakeContext) Lookup_CustomerIDDetails(string) *customerId.Details {
	return &customerId.Details{}
}
func (f *fakeContext) State() *deviceId.EnrichedDetailsState      { return f.state }
func (f *fakeContext) SaveState(s *deviceId.EnrichedDetailsState) { f.state = s }
func (f *fakeContext) Output_DeviceIDEnrichedDetails(_ string, m *deviceId.EnrichedDetails) {
	f.outputs = append(f.outputs, m)
}

func TestEnricherCounts(t *testing.T) {
	ctx := &fakeContext{key: "d1", customer: &deviceId.Customer{Id: "c1"}, state: &deviceId.EnrichedDetailsState{TimeUnixMs: 4}}
	if err := (&Enricher{}).HandleDeviceIDDetails(ctx, &deviceId.Details{}); err != nil {
		t.Fatal(err)
	}
	if ctx.state.TimeUnixMs != 5 || len(ctx.outputs) != 1 || ctx.outputs[0].TimeUnixMs != 5 {
		t.Errorf("state %v outputs %v", ctx.state, ctx.outputs)
	}
}
