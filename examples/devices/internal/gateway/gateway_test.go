package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/assignments"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/details"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	gatewayv1 "github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/gateway/v1"
)

// customerTable is a Customers in memory.
type customerTable map[int64]string

func (c customerTable) Upsert(_ context.Context, id int64, name string) error {
	c[id] = name
	return nil
}

type fakes struct {
	details     *details.DeviceIDDetailsSourceFake
	heartbeats  *heartbeats.DeviceIDHeartbeatSourceFake
	assignments *assignments.DeviceIDCustomerSourceFake
	customers   *assignments.CustomerIDDetailsSourceFake
	table       customerTable
	assigned    *assignments.DeviceIDCustomerViewFake
	customerV   *assignments.CustomerIDDetailsViewFake
	enriched    *details.DeviceIDEnrichedDetailsViewFake
}

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newServer() (*Server, fakes) {
	f := fakes{
		details:     &details.DeviceIDDetailsSourceFake{},
		heartbeats:  &heartbeats.DeviceIDHeartbeatSourceFake{},
		assignments: &assignments.DeviceIDCustomerSourceFake{},
		customers:   &assignments.CustomerIDDetailsSourceFake{},
		table:       customerTable{},
		assigned:    &assignments.DeviceIDCustomerViewFake{Values: map[string]*deviceId.Customer{}},
		customerV:   &assignments.CustomerIDDetailsViewFake{Values: map[string]*customerId.Details{}},
		enriched:    &details.DeviceIDEnrichedDetailsViewFake{Values: map[string]*deviceId.EnrichedDetails{}},
	}
	return &Server{
		DeviceDetails: f.details, Heartbeats: f.heartbeats, Assignments: f.assignments,
		CustomerDetails: f.customers, Customers: f.table,
		AssignmentView: f.assigned, CustomerView: f.customerV, EnrichedDetailsView: f.enriched,
		Now: func() time.Time { return now },
	}, f
}

func code(err error) codes.Code { return status.Code(err) }

func TestDetailsAndHeartbeatsAreEmitted(t *testing.T) {
	s, f := newServer()
	ctx := context.Background()
	reported := timestamppb.New(now.Add(-time.Hour))
	if _, err := s.Details(ctx, &gatewayv1.DetailsRequest{DeviceId: 42, Name: "sensor", Time: reported}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Heartbeat(ctx, &gatewayv1.HeartbeatRequest{DeviceId: 42, IsHealthy: true}); err != nil {
		t.Fatal(err)
	}
	if r := f.details.Records; len(r) != 1 || r[0].Key != "42" || !proto.Equal(r[0].Value, &deviceId.Details{Name: "sensor", Time: reported}) {
		t.Errorf("details emitted %v", r)
	}
	if r := f.heartbeats.Records; len(r) != 1 || r[0].Key != "42" || !proto.Equal(r[0].Value, &deviceId.Heartbeat{Time: timestamppb.New(now), IsHealthy: true}) {
		t.Errorf("heartbeats emitted %v: a heartbeat without time gets the time of the call", r)
	}

	if _, err := s.Details(ctx, &gatewayv1.DetailsRequest{DeviceId: 0}); code(err) != codes.InvalidArgument {
		t.Errorf("device 0: %v", err)
	}
	f.heartbeats.Err = errors.New("brokers unreachable")
	if _, err := s.Heartbeat(ctx, &gatewayv1.HeartbeatRequest{DeviceId: 42}); code(err) != codes.Unavailable {
		t.Errorf("failed emit: %v", err)
	}
}

func TestAssignNeedsAnExistingCustomer(t *testing.T) {
	s, f := newServer()
	ctx := context.Background()
	if _, err := s.Assign(ctx, &gatewayv1.AssignRequest{DeviceId: 42, CustomerId: 7}); code(err) != codes.FailedPrecondition {
		t.Fatalf("unknown customer: %v", err)
	}
	f.customerV.Values["7"] = &customerId.Details{Name: "Acme"}
	if _, err := s.Assign(ctx, &gatewayv1.AssignRequest{DeviceId: 42, CustomerId: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, &gatewayv1.AssignRequest{DeviceId: 42}); err != nil {
		t.Fatal(err)
	}
	r := f.assignments.Records
	if len(r) != 2 || r[0].Key != "42" || r[0].Value.GetId() != 7 || r[1].Key != "42" || r[1].Value != nil {
		t.Errorf("assignments emitted %v, want device 42 → 7, then a delete", r)
	}
	if _, err := s.Assign(ctx, &gatewayv1.AssignRequest{DeviceId: 42, CustomerId: -1}); code(err) != codes.InvalidArgument {
		t.Errorf("negative customer: %v", err)
	}
}

func TestUpsertCustomerWritesTheTableAndEmits(t *testing.T) {
	s, f := newServer()
	ctx := context.Background()
	if _, err := s.UpsertCustomer(ctx, &gatewayv1.UpsertCustomerRequest{CustomerId: 7, Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if f.table[7] != "Acme" {
		t.Errorf("table %v", f.table)
	}
	if r := f.customers.Records; len(r) != 1 || r[0].Key != "7" || r[0].Value.GetName() != "Acme" {
		t.Errorf("customers emitted %v", r)
	}
	if _, err := s.UpsertCustomer(ctx, &gatewayv1.UpsertCustomerRequest{CustomerId: 8}); code(err) != codes.InvalidArgument {
		t.Errorf("no name: %v", err)
	}
}

func TestGetDeviceAnswersFromTheViews(t *testing.T) {
	s, f := newServer()
	ctx := context.Background()
	f.enriched.NotReady = true
	if _, err := s.GetDevice(ctx, &gatewayv1.GetDeviceRequest{DeviceId: 42}); code(err) != codes.Unavailable {
		t.Errorf("views loading: %v", err)
	}
	f.enriched.NotReady = false
	if _, err := s.GetDevice(ctx, &gatewayv1.GetDeviceRequest{DeviceId: 42}); code(err) != codes.NotFound {
		t.Errorf("unknown device: %v", err)
	}
	details := &deviceId.EnrichedDetails{Name: "sensor", CustomerId: 7, CustomerName: "Acme"}
	f.assigned.Values["42"] = &deviceId.Customer{Id: 7}
	f.customerV.Values["7"] = &customerId.Details{Name: "Acme Corp"}
	f.enriched.Values["42"] = details
	got, err := s.GetDevice(ctx, &gatewayv1.GetDeviceRequest{DeviceId: 42})
	if err != nil {
		t.Fatal(err)
	}
	want := &gatewayv1.GetDeviceResponse{CustomerId: 7, CustomerName: "Acme Corp", Details: details}
	if !proto.Equal(got, want) {
		t.Errorf("GetDevice = %v, want %v", got, want)
	}
	f.enriched.Err = errors.New("store closed")
	if _, err := s.GetDevice(ctx, &gatewayv1.GetDeviceRequest{DeviceId: 42}); code(err) != codes.Unavailable {
		t.Errorf("failing view: %v", err)
	}
}
