// Package devicedetails holds the hand-written parts of component details:
// the enricher processor and the enriched detail warehouse sink.
package devicedetails

import (
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/details"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
)

// Enricher is processor "enricher": it adds the assigned customer to the
// details a device reports, and writes the result only when the name or
// the customer changed since the last version it wrote (kept in its
// state), so repeated reports of the same details cost nothing downstream.
type Enricher struct{}

var _ details.Enricher = Enricher{}

// HandleDeviceIDDetails enriches one report. A device without an
// assignment gets customer id 0; a customer without details an empty name.
func (Enricher) HandleDeviceIDDetails(ctx details.EnricherContext, msg *deviceId.Details) error {
	enriched := &deviceId.EnrichedDetails{Name: msg.GetName(), Time: msg.GetTime()}
	if customer := ctx.JoinDeviceIDCustomer().GetId(); customer != 0 {
		enriched.CustomerId = customer
		enriched.CustomerName = ctx.LookupCustomerIDDetails(keys.Format(customer)).GetName()
	}
	state, _ := ctx.State()
	if last := state.GetLast(); last != nil && last.GetName() == enriched.GetName() &&
		last.GetCustomerId() == enriched.GetCustomerId() && last.GetCustomerName() == enriched.GetCustomerName() {
		return nil
	}
	ctx.SaveState(&deviceId.EnrichedDetailsState{Last: enriched, Versions: state.GetVersions() + 1})
	ctx.OutputDeviceIDEnrichedDetails(ctx.Key(), enriched)
	return nil
}
