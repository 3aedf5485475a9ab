package deviceheartbeats

import (
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
)

// Health is processor "health": it keeps the last heartbeat of each of a
// customer's devices in its state and writes the customer's current health
// (how many devices are healthy) after every heartbeat that changes it.
// Heartbeats older than the device's last one are ignored, so a late
// duplicate cannot flip a device back.
type Health struct{}

var _ heartbeats.Health = Health{}

// HandleCustomerIDHeartbeat counts one heartbeat.
func (Health) HandleCustomerIDHeartbeat(ctx heartbeats.HealthContext, msg *customerId.Heartbeat) error {
	state, _ := ctx.State()
	if state == nil {
		state = &customerId.HealthState{}
	}
	if state.Devices == nil {
		state.Devices = map[int64]*customerId.DeviceHealth{}
	}
	if last := state.Devices[msg.GetDeviceId()]; last != nil && last.GetTime().AsTime().After(msg.GetTime().AsTime()) {
		return nil
	}
	state.Devices[msg.GetDeviceId()] = &customerId.DeviceHealth{IsHealthy: msg.GetIsHealthy(), Time: msg.GetTime()}
	ctx.SaveState(state)
	ctx.OutputCustomerIDCurrentHealth(ctx.Key(), currentHealth(state))
	return nil
}

// currentHealth counts the devices of a state; its time is the latest
// heartbeat's.
func currentHealth(state *customerId.HealthState) *customerId.CurrentHealth {
	out := &customerId.CurrentHealth{}
	for _, d := range state.GetDevices() {
		if d.GetIsHealthy() {
			out.HealthyDevices++
		} else {
			out.UnhealthyDevices++
		}
		if out.Time == nil || d.GetTime().AsTime().After(out.GetTime().AsTime()) {
			out.Time = d.GetTime()
		}
	}
	return out
}
