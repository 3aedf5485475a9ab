// Package deviceheartbeats holds the hand-written parts of component
// heartbeats: the heartbeat enricher and health processors, the enriched
// heartbeat warehouse sink and the current health view sink.
package deviceheartbeats

import (
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
)

// Enricher is processor "heartbeat enricher": it adds the assigned
// customer to every heartbeat and, for assigned devices, forwards the
// heartbeat keyed by the customer, so that processor "health" sees all
// heartbeats of one customer in one partition.
type Enricher struct{}

var _ heartbeats.HeartbeatEnricher = Enricher{}

// HandleDeviceIDHeartbeat enriches one heartbeat. A key that is not a
// device id fails the record (the service dead-letters it).
func (Enricher) HandleDeviceIDHeartbeat(ctx heartbeats.HeartbeatEnricherContext, msg *deviceId.Heartbeat) error {
	device, err := keys.Parse(ctx.Key())
	if err != nil {
		return err
	}
	enriched := &deviceId.EnrichedHeartbeat{Time: msg.GetTime(), IsHealthy: msg.GetIsHealthy()}
	if customer := ctx.JoinDeviceIDCustomer().GetId(); customer != 0 {
		enriched.CustomerId = customer
		enriched.CustomerName = ctx.LookupCustomerIDDetails(keys.Format(customer)).GetName()
		ctx.OutputCustomerIDHeartbeat(keys.Format(customer), &customerId.Heartbeat{
			DeviceId: device, Time: msg.GetTime(), IsHealthy: msg.GetIsHealthy(),
		})
	}
	ctx.OutputDeviceIDEnrichedHeartbeat(ctx.Key(), enriched)
	return nil
}
