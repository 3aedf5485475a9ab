package deviceheartbeats

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
)

var at = timestamppb.New(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))

func TestEnricherForwardsAssignedHeartbeatsByCustomer(t *testing.T) {
	ctx := &heartbeats.HeartbeatEnricherContextFake{
		RecordKey:                    "42",
		JoinDeviceIDCustomerValue:    &deviceId.Customer{Id: 7},
		LookupCustomerIDDetailsTable: map[string]*customerId.Details{"7": {Name: "Acme"}},
	}
	if err := (Enricher{}).HandleDeviceIDHeartbeat(ctx, &deviceId.Heartbeat{Time: at, IsHealthy: true}); err != nil {
		t.Fatal(err)
	}
	enriched := ctx.OutputDeviceIDEnrichedHeartbeatRecords
	if len(enriched) != 1 || enriched[0].Key != "42" ||
		!proto.Equal(enriched[0].Value, &deviceId.EnrichedHeartbeat{Time: at, IsHealthy: true, CustomerId: 7, CustomerName: "Acme"}) {
		t.Errorf("enriched heartbeats %v", enriched)
	}
	byCustomer := ctx.OutputCustomerIDHeartbeatRecords
	if len(byCustomer) != 1 || byCustomer[0].Key != "7" ||
		!proto.Equal(byCustomer[0].Value, &customerId.Heartbeat{DeviceId: 42, Time: at, IsHealthy: true}) {
		t.Errorf("customer heartbeats %v", byCustomer)
	}
}

func TestEnricherUnassignedDevice(t *testing.T) {
	ctx := &heartbeats.HeartbeatEnricherContextFake{RecordKey: "42"}
	if err := (Enricher{}).HandleDeviceIDHeartbeat(ctx, &deviceId.Heartbeat{Time: at}); err != nil {
		t.Fatal(err)
	}
	if len(ctx.OutputDeviceIDEnrichedHeartbeatRecords) != 1 || ctx.OutputDeviceIDEnrichedHeartbeatRecords[0].Value.GetCustomerId() != 0 {
		t.Errorf("enriched heartbeats %v", ctx.OutputDeviceIDEnrichedHeartbeatRecords)
	}
	if len(ctx.OutputCustomerIDHeartbeatRecords) != 0 {
		t.Errorf("an unassigned device has no customer to forward to: %v", ctx.OutputCustomerIDHeartbeatRecords)
	}
}

func TestEnricherRefusesBadKeys(t *testing.T) {
	ctx := &heartbeats.HeartbeatEnricherContextFake{RecordKey: "device-42"}
	if err := (Enricher{}).HandleDeviceIDHeartbeat(ctx, &deviceId.Heartbeat{Time: at}); err == nil {
		t.Error("a key that is not a device id was enriched")
	}
}
