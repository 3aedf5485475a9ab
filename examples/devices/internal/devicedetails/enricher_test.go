package devicedetails

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/details"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
)

var at = timestamppb.New(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))

func TestEnricherAddsTheAssignedCustomer(t *testing.T) {
	ctx := &details.EnricherContextFake{
		RecordKey:                    "42",
		JoinDeviceIDCustomerValue:    &deviceId.Customer{Id: 7},
		LookupCustomerIDDetailsTable: map[string]*customerId.Details{"7": {Name: "Acme"}},
	}
	if err := (Enricher{}).HandleDeviceIDDetails(ctx, &deviceId.Details{Name: "sensor", Time: at}); err != nil {
		t.Fatal(err)
	}
	want := &deviceId.EnrichedDetails{Name: "sensor", Time: at, CustomerId: 7, CustomerName: "Acme"}
	out := ctx.OutputDeviceIDEnrichedDetailsRecords
	if len(out) != 1 || out[0].Key != "42" || !proto.Equal(out[0].Value, want) {
		t.Fatalf("outputs %v, want %v under key 42", out, want)
	}
	if !proto.Equal(ctx.StateValue, &deviceId.EnrichedDetailsState{Last: want, Versions: 1}) {
		t.Errorf("state %v", ctx.StateValue)
	}
}

func TestEnricherWithoutAssignment(t *testing.T) {
	ctx := &details.EnricherContextFake{RecordKey: "42"}
	if err := (Enricher{}).HandleDeviceIDDetails(ctx, &deviceId.Details{Name: "sensor", Time: at}); err != nil {
		t.Fatal(err)
	}
	out := ctx.OutputDeviceIDEnrichedDetailsRecords
	if len(out) != 1 || out[0].Value.GetCustomerId() != 0 || out[0].Value.GetName() != "sensor" {
		t.Errorf("outputs %v: an unassigned device keeps its details, with customer 0", out)
	}
}

func TestEnricherWritesOnlyChanges(t *testing.T) {
	last := &deviceId.EnrichedDetails{Name: "sensor", Time: at, CustomerId: 7, CustomerName: "Acme"}
	ctx := &details.EnricherContextFake{
		RecordKey:                    "42",
		JoinDeviceIDCustomerValue:    &deviceId.Customer{Id: 7},
		LookupCustomerIDDetailsTable: map[string]*customerId.Details{"7": {Name: "Acme"}},
		StateValue:                   &deviceId.EnrichedDetailsState{Last: last, Versions: 3},
	}
	later := timestamppb.New(at.AsTime().Add(time.Minute))
	if err := (Enricher{}).HandleDeviceIDDetails(ctx, &deviceId.Details{Name: "sensor", Time: later}); err != nil {
		t.Fatal(err)
	}
	if len(ctx.OutputDeviceIDEnrichedDetailsRecords) != 0 || ctx.StateValue.GetVersions() != 3 {
		t.Errorf("the same details again: outputs %v, state %v; want nothing written", ctx.OutputDeviceIDEnrichedDetailsRecords, ctx.StateValue)
	}

	// The customer was renamed: a new version.
	ctx.LookupCustomerIDDetailsTable["7"] = &customerId.Details{Name: "Acme Corp"}
	if err := (Enricher{}).HandleDeviceIDDetails(ctx, &deviceId.Details{Name: "sensor", Time: later}); err != nil {
		t.Fatal(err)
	}
	out := ctx.OutputDeviceIDEnrichedDetailsRecords
	if len(out) != 1 || out[0].Value.GetCustomerName() != "Acme Corp" || ctx.StateValue.GetVersions() != 4 {
		t.Errorf("after the rename: outputs %v, state %v", out, ctx.StateValue)
	}
}
