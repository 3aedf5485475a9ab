package handlers

import (
	"context"
	"errors"
	"slices"
	"testing"

	"example.com/golden/full/internal/definitions/assignments"
	"example.com/golden/full/internal/definitions/details"
	"example.com/golden/full/internal/definitions/heartbeats"
	"example.com/golden/full/internal/definitions/models/kafmesh/customerId"
	"example.com/golden/full/internal/definitions/models/kafmesh/deviceId"
)

func TestEnricherWithTheContextFake(t *testing.T) {
	ctx := &details.EnricherContextFake{
		RecordKey:                    "d1",
		JoinDeviceIDCustomerValue:    &deviceId.Customer{Id: "c1"},
		LookupCustomerIDDetailsTable: map[string]*customerId.Details{"c1": {Id: "c1"}},
		StateValue:                   &deviceId.EnrichedDetailsState{TimeUnixMs: 4},
	}
	if err := (Enricher{}).HandleDeviceIDDetails(ctx, &deviceId.Details{TimeUnixMs: 7}); err != nil {
		t.Fatal(err)
	}
	out := ctx.OutputDeviceIDEnrichedDetailsRecords
	if len(out) != 1 || out[0].Key != "d1" || out[0].Value.GetId() != "c1" || out[0].Value.GetTimeUnixMs() != 7 {
		t.Errorf("outputs %v", out)
	}
	if ctx.StateValue.GetTimeUnixMs() != 5 {
		t.Errorf("state %v, want the count incremented to 5", ctx.StateValue)
	}

	unknown := &details.EnricherContextFake{RecordKey: "d2", JoinDeviceIDCustomerValue: &deviceId.Customer{Id: "c9"}}
	if err := (Enricher{}).HandleDeviceIDDetails(unknown, &deviceId.Details{}); err == nil {
		t.Error("a customer without details must fail the record")
	}
	unassigned := &details.EnricherContextFake{RecordKey: "d3"}
	if err := (Enricher{}).HandleDeviceIDDetails(unassigned, &deviceId.Details{}); err != nil || unassigned.OutputDeviceIDEnrichedDetailsRecords != nil || unassigned.StateValue != nil {
		t.Errorf("an unassigned device: err %v, outputs %v, state %v", err, unassigned.OutputDeviceIDEnrichedDetailsRecords, unassigned.StateValue)
	}
}

func TestSourceFakeRecordsEmitsAndDeletes(t *testing.T) {
	src := &assignments.DeviceIDCustomerSourceFake{}
	if err := Assign(context.Background(), src, "d1", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := Assign(context.Background(), src, "d1", ""); err != nil {
		t.Fatal(err)
	}
	if len(src.Records) != 2 || src.Records[0].Value.GetId() != "c1" || src.Records[1].Key != "d1" || src.Records[1].Value != nil {
		t.Errorf("records %v", src.Records)
	}
	src.Err = errors.New("broker down")
	if err := Assign(context.Background(), src, "d2", "c2"); err == nil || len(src.Records) != 2 {
		t.Errorf("with Err set: %v, %d records", err, len(src.Records))
	}
}

func TestViewFake(t *testing.T) {
	v := &assignments.DeviceIDCustomerViewFake{Values: map[string]*deviceId.Customer{
		"d1": {Id: "c2"}, "d2": {Id: "c1"}, "d3": {Id: "c2"},
	}}
	got, err := Customers(v)
	if err != nil || !slices.Equal(got, []string{"c1", "c2"}) {
		t.Errorf("Customers = %v, %v", got, err)
	}
	if keys, _ := v.Keys(); !slices.Equal(keys, []string{"d1", "d2", "d3"}) {
		t.Errorf("Keys = %v", keys)
	}
	if _, found, _ := v.Get("d9"); found {
		t.Error("Get of a missing key found it")
	}
}

func TestUpdaterFake(t *testing.T) {
	up := &assignments.CustomerDetailsUpdaterFake{}
	if err := (CustomerTable{"c2": "two", "c1": "one"}).Sync(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(up.Keys, []string{"c1", "c2"}) || up.Values["c2"].GetId() != "two" {
		t.Errorf("updates %v %v", up.Keys, up.Values)
	}
}

func TestReaderFake(t *testing.T) {
	page := &HealthPage{}
	view := &heartbeats.CurrentHealthReaderFake{Values: map[string]*customerId.CurrentHealth{"c1": {TimeUnixMs: 3}}}
	if err := page.Sync(context.Background(), view); err != nil || page.Rows["c1"] != 3 || len(page.Rows) != 1 {
		t.Errorf("rows %v, %v", page.Rows, err)
	}
}

func TestSinkContextFake(t *testing.T) {
	w := &Warehouse{}
	ctx := &heartbeats.SinkContextFake{RecordTopic: "kafmesh.deviceId.enrichedHeartbeat"}
	for _, m := range []*deviceId.EnrichedHeartbeat{{TimeUnixMs: 1}, {TimeUnixMs: 2}} {
		if err := w.Collect(ctx, "d1", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx.Context()); err != nil || w.Stored["d1"] != 2 {
		t.Errorf("stored %v, %v", w.Stored, err)
	}
}
