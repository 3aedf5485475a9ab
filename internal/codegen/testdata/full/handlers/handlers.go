// Package handlers is hand-written code of the full golden case: one
// handler per part kind, written against the generated interfaces, so that
// TestGoldenBuilds also runs their tests against the generated fakes.
package handlers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"example.com/golden/full/internal/definitions/assignments"
	"example.com/golden/full/internal/definitions/details"
	"example.com/golden/full/internal/definitions/heartbeats"
	"example.com/golden/full/internal/definitions/models/kafmesh/customerId"
	"example.com/golden/full/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/runner"
)

// Enricher stamps details with the assigned customer, counting updates in
// its state.
type Enricher struct{}

var _ details.Enricher = Enricher{}

func (Enricher) HandleDeviceIDDetails(ctx details.EnricherContext, msg *deviceId.Details) error {
	customer := ctx.JoinDeviceIDCustomer()
	if customer == nil {
		return nil
	}
	if ctx.LookupCustomerIDDetails(customer.GetId()) == nil {
		return fmt.Errorf("customer %s of device %s has no details", customer.GetId(), ctx.Key())
	}
	state, _ := ctx.State()
	ctx.SaveState(&deviceId.EnrichedDetailsState{Id: ctx.Key(), TimeUnixMs: state.GetTimeUnixMs() + 1})
	ctx.OutputDeviceIDEnrichedDetails(ctx.Key(), &deviceId.EnrichedDetails{Id: customer.GetId(), TimeUnixMs: msg.GetTimeUnixMs()})
	return nil
}

// Assign emits an assignment through any source of device customers.
func Assign(ctx context.Context, s assignments.DeviceIDCustomerSource, device, customer string) error {
	if customer == "" {
		return s.Delete(ctx, device)
	}
	return s.Emit(ctx, device, &deviceId.Customer{Id: customer})
}

// Customers lists the customers of devices that a view knows.
func Customers(v assignments.DeviceIDCustomerView) ([]string, error) {
	seen := map[string]bool{}
	err := v.Range(func(_ string, c *deviceId.Customer) bool {
		seen[c.GetId()] = true
		return true
	})
	return slices.Sorted(maps.Keys(seen)), err
}

// CustomerTable is a view source over a map.
type CustomerTable map[string]string

func (t CustomerTable) Sync(ctx context.Context, up runner.Updater[*customerId.Details]) error {
	for _, id := range slices.Sorted(maps.Keys(t)) {
		if err := up.Update(id, &customerId.Details{Id: t[id]}); err != nil {
			return err
		}
	}
	return nil
}

// HealthPage is a view sink into a map.
type HealthPage struct{ Rows map[string]int64 }

func (p *HealthPage) Sync(ctx context.Context, view runner.Reader[*customerId.CurrentHealth]) error {
	rows := map[string]int64{}
	if err := view.Range(func(key string, h *customerId.CurrentHealth) bool {
		rows[key] = h.GetTimeUnixMs()
		return true
	}); err != nil {
		return err
	}
	p.Rows = rows
	return nil
}

// Warehouse is a sink into a map, upserting by key on Flush.
type Warehouse struct {
	batch  map[string]*deviceId.EnrichedHeartbeat
	Stored map[string]int64
}

var _ heartbeats.EnrichedHeartbeatWarehouseSink = (*Warehouse)(nil)

func (w *Warehouse) Collect(ctx runner.SinkContext, key string, msg *deviceId.EnrichedHeartbeat) error {
	if w.batch == nil {
		w.batch = map[string]*deviceId.EnrichedHeartbeat{}
	}
	w.batch[key] = msg
	return nil
}

func (w *Warehouse) Flush(ctx context.Context) error {
	if w.Stored == nil {
		w.Stored = map[string]int64{}
	}
	for k, m := range w.batch {
		if m == nil {
			delete(w.Stored, k)
			continue
		}
		w.Stored[k] = m.GetTimeUnixMs()
	}
	w.batch = nil
	return nil
}
