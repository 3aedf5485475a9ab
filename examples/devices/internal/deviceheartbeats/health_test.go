package deviceheartbeats

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
)

func heartbeat(device int64, healthy bool, after time.Duration) *customerId.Heartbeat {
	return &customerId.Heartbeat{DeviceId: device, IsHealthy: healthy, Time: timestamppb.New(at.AsTime().Add(after))}
}

func TestHealthCountsDevices(t *testing.T) {
	ctx := &heartbeats.HealthContextFake{RecordKey: "7"}
	for _, hb := range []*customerId.Heartbeat{
		heartbeat(1, true, 0),
		heartbeat(2, false, time.Second),
		heartbeat(1, false, 2*time.Second), // device 1 turns unhealthy
		heartbeat(3, true, 3*time.Second),
	} {
		if err := (Health{}).HandleCustomerIDHeartbeat(ctx, hb); err != nil {
			t.Fatal(err)
		}
	}
	out := ctx.OutputCustomerIDCurrentHealthRecords
	if len(out) != 4 {
		t.Fatalf("%d outputs, want one per heartbeat", len(out))
	}
	last := out[3]
	want := &customerId.CurrentHealth{HealthyDevices: 1, UnhealthyDevices: 2, Time: timestamppb.New(at.AsTime().Add(3 * time.Second))}
	if last.Key != "7" || !proto.Equal(last.Value, want) {
		t.Errorf("last output %v, want %v", last, want)
	}
	if n := len(ctx.StateValue.GetDevices()); n != 3 || ctx.StateValue.GetDevices()[1].GetIsHealthy() {
		t.Errorf("state %v", ctx.StateValue)
	}
}

func TestHealthIgnoresOlderHeartbeats(t *testing.T) {
	ctx := &heartbeats.HealthContextFake{
		RecordKey: "7",
		StateValue: &customerId.HealthState{Devices: map[int64]*customerId.DeviceHealth{
			1: {IsHealthy: true, Time: timestamppb.New(at.AsTime().Add(time.Minute))},
		}},
	}
	if err := (Health{}).HandleCustomerIDHeartbeat(ctx, heartbeat(1, false, 0)); err != nil {
		t.Fatal(err)
	}
	if len(ctx.OutputCustomerIDCurrentHealthRecords) != 0 || !ctx.StateValue.GetDevices()[1].GetIsHealthy() {
		t.Errorf("a late heartbeat changed the health: outputs %v, state %v", ctx.OutputCustomerIDCurrentHealthRecords, ctx.StateValue)
	}
}
