// Package handlers2021 is a service written against the names the 2021
// kafmesh generated, the way its README and examples wrote them:
// Register_<Component>_<Part>_Processor, <Part>_ProcessorContext with
// Join_, Lookup_, Output_ and a State() that is never nil, sources with
// Emit(<X>_Source_Message), a view whose Get waits for it, and sinks
// with Collect(runner.MessageContext, key, msg)/Flush (one named with a
// "sink" suffix, which 2021 kept in its names), wired with the 2021
// top-level names. TestGoldenBuilds compiles it unchanged against the
// output.compat: kafmesh2021 code and runs its tests.
package handlers2021

import (
	"errors"
	"sync"
	"time"

	"example.com/golden/compat2021/internal/definitions"
	"example.com/golden/compat2021/internal/definitions/assignments"
	"example.com/golden/compat2021/internal/definitions/details"
	"example.com/golden/compat2021/internal/definitions/heartbeats"
	"example.com/golden/compat2021/internal/definitions/models/kafmesh/customerId"
	"example.com/golden/compat2021/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/runner"
)

// Enricher stamps device details with the assigned customer and counts the
// updates of each device in its state.
type Enricher struct{}

func (e *Enricher) HandleDeviceIDDetails(ctx details.Enricher_ProcessorContext, message *deviceId.Details) error {
	customer := ctx.Join_DeviceIDCustomer()
	if customer == nil {
		return nil
	}
	if ctx.Lookup_CustomerIDDetails(customer.Id) == nil {
		return errors.New("customer " + customer.Id + " has no details")
	}
	state := ctx.State()
	state.Id = ctx.Key()
	state.TimeUnixMs++
	ctx.SaveState(state)
	ctx.Output_DeviceIDEnrichedDetails(ctx.Key(), &deviceId.EnrichedDetails{
		Id:         customer.Id,
		TimeUnixMs: state.TimeUnixMs,
	})
	return nil
}

// Warehouse is a sink that keeps the latest enriched details per device.
type Warehouse struct {
	mu      sync.Mutex
	pending map[string]*deviceId.EnrichedDetails
	Rows    map[string]*deviceId.EnrichedDetails
	Topics  map[string]bool // where the collected records came from
}

func (w *Warehouse) Collect(ctx runner.MessageContext, key string, message *deviceId.EnrichedDetails) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Topics == nil {
		w.Topics = map[string]bool{}
	}
	w.Topics[ctx.Topic] = true
	if w.pending == nil {
		w.pending = map[string]*deviceId.EnrichedDetails{}
	}
	w.pending[key] = message
	return nil
}

func (w *Warehouse) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Rows == nil {
		w.Rows = map[string]*deviceId.EnrichedDetails{}
	}
	for k, v := range w.pending {
		w.Rows[k] = v
	}
	w.pending = nil
	return nil
}

// Audit is a sink of raw records. Its part is named "raw audit sink", so
// 2021 named its handler RawAuditSink_Sink and its entry point
// Register_RawAuditSink_Sink: the name as written, suffix and all.
type Audit struct {
	mu      sync.Mutex
	pending []string
	Flushed []string // "key=value" of the flushed records, in order
}

var _ details.RawAuditSink_Sink = (*Audit)(nil)

func (a *Audit) Collect(_ runner.MessageContext, key string, message []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, key+"="+string(message))
	return nil
}

func (a *Audit) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Flushed = append(a.Flushed, a.pending...)
	a.pending = nil
	return nil
}

// CustomerDatabase is a view source: it reports every customer's details.
type CustomerDatabase struct {
	Customers map[string]*customerId.Details
}

func (c *CustomerDatabase) Sync(ctx assignments.CustomerDetails_ViewSource_Context) error {
	for id, d := range c.Customers {
		if err := ctx.Update(id, d); err != nil {
			return err
		}
	}
	return nil
}

// StatusPage is a view sink: it copies the current health of every
// customer.
type StatusPage struct {
	Health map[string]*customerId.CurrentHealth
}

func (s *StatusPage) Sync(ctx heartbeats.CurrentHealth_ViewSink_Context) error {
	keys, err := ctx.Keys()
	if err != nil {
		return err
	}
	s.Health = map[string]*customerId.CurrentHealth{}
	for _, k := range keys {
		h, err := ctx.Get(k)
		if err != nil {
			return err
		}
		s.Health[k] = h
	}
	return nil
}

// Parts are what the service's main wires up.
type Parts struct {
	Assignments assignments.DeviceIDCustomer_Source
	Customers   assignments.CustomerIDDetails_Source
	Details     details.DeviceIDDetails_Source
	Enriched    details.DeviceIDEnrichedDetails_View
}

// Register wires the parts, as the 2021 main.go did.
func Register(service *runner.Service, warehouse *Warehouse, audit *Audit, customers *CustomerDatabase, status *StatusPage) (*Parts, error) {
	var (
		p   Parts
		err error
	)
	if err = definitions.Register_Assignments_CustomerDetails_ViewSource(service, customers, time.Minute, 10*time.Second); err != nil {
		return nil, err
	}
	if err = definitions.Register_Heartbeats_CurrentHealth_ViewSink(service, status, time.Minute, 10*time.Second); err != nil {
		return nil, err
	}
	if err = definitions.Register_Details_Enricher_Processor(service, &Enricher{}); err != nil {
		return nil, err
	}
	if err = definitions.Register_EnrichedDetailWarehouse_Sink(service, warehouse, time.Second, 100); err != nil {
		return nil, err
	}
	if err = definitions.Register_RawAuditSink_Sink(service, audit, time.Second, 100); err != nil {
		return nil, err
	}
	if p.Assignments, err = definitions.New_Assignments_DeviceIDCustomer_Source(service); err != nil {
		return nil, err
	}
	if p.Customers, err = definitions.New_Assignments_CustomerIDDetails_Source(service); err != nil {
		return nil, err
	}
	if p.Details, err = definitions.New_Details_DeviceIDDetails_Source(service); err != nil {
		return nil, err
	}
	if p.Enriched, err = definitions.New_Details_DeviceIDEnrichedDetails_View(service); err != nil {
		return nil, err
	}
	return &p, nil
}
