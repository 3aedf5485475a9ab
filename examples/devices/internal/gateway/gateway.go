// Package gateway implements the GatewayAPI of the example service: the
// gRPC entry of device and customer data, emitted through the service's
// sources, and a query of what the service knows about a device, answered
// from its views.
package gateway

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/assignments"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/details"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	gatewayv1 "github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/gateway/v1"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
)

// Customers is where customers are kept: the customers table, which the
// customer details view source mirrors into Kafka.
type Customers interface {
	Upsert(ctx context.Context, id int64, name string) error
}

// Server serves kafmesh.gateway.v1.GatewayAPI. Every field is required.
type Server struct {
	gatewayv1.UnimplementedGatewayAPIServer

	DeviceDetails details.DeviceIDDetailsSource
	Heartbeats    heartbeats.DeviceIDHeartbeatSource
	Assignments   assignments.DeviceIDCustomerSource
	// CustomerDetails emits a customer at once, without waiting for the
	// view source's next sync.
	CustomerDetails assignments.CustomerIDDetailsSource
	Customers       Customers

	AssignmentView      assignments.DeviceIDCustomerView
	CustomerView        assignments.CustomerIDDetailsView
	EnrichedDetailsView details.DeviceIDEnrichedDetailsView

	// Now is the clock of requests without a time; nil means time.Now.
	Now func() time.Time
}

func (s *Server) now() *timestamppb.Timestamp {
	if s.Now != nil {
		return timestamppb.New(s.Now())
	}
	return timestamppb.Now()
}

func deviceKey(id int64) (string, error) {
	if id <= 0 {
		return "", status.Errorf(codes.InvalidArgument, "device_id must be positive, got %d", id)
	}
	return keys.Format(id), nil
}

// emitted turns an emit error into a gRPC status.
func emitted(err error) error {
	if err != nil {
		return status.Errorf(codes.Unavailable, "%v", err)
	}
	return nil
}

// Details emits the reported details to kafmesh.deviceId.details.
func (s *Server) Details(ctx context.Context, req *gatewayv1.DetailsRequest) (*gatewayv1.DetailsResponse, error) {
	key, err := deviceKey(req.GetDeviceId())
	if err != nil {
		return nil, err
	}
	t := req.GetTime()
	if t == nil {
		t = s.now()
	}
	if err := s.DeviceDetails.Emit(ctx, key, &deviceId.Details{Name: req.GetName(), Time: t}); err != nil {
		return nil, emitted(err)
	}
	return &gatewayv1.DetailsResponse{}, nil
}

// Heartbeat emits the heartbeat to kafmesh.deviceId.heartbeat.
func (s *Server) Heartbeat(ctx context.Context, req *gatewayv1.HeartbeatRequest) (*gatewayv1.HeartbeatResponse, error) {
	key, err := deviceKey(req.GetDeviceId())
	if err != nil {
		return nil, err
	}
	t := req.GetTime()
	if t == nil {
		t = s.now()
	}
	if err := s.Heartbeats.Emit(ctx, key, &deviceId.Heartbeat{Time: t, IsHealthy: req.GetIsHealthy()}); err != nil {
		return nil, emitted(err)
	}
	return &gatewayv1.HeartbeatResponse{}, nil
}

// Assign emits the assignment to kafmesh.deviceId.customer, or a tombstone
// for customer 0. The customer must be in the customer view: one just
// upserted is there once its record has been read back, so a caller may
// have to retry FailedPrecondition for a moment.
func (s *Server) Assign(ctx context.Context, req *gatewayv1.AssignRequest) (*gatewayv1.AssignResponse, error) {
	key, err := deviceKey(req.GetDeviceId())
	if err != nil {
		return nil, err
	}
	switch customer := req.GetCustomerId(); {
	case customer < 0:
		return nil, status.Errorf(codes.InvalidArgument, "customer_id must be positive, or 0 to unassign, got %d", customer)
	case customer == 0:
		err = s.Assignments.Delete(ctx, key)
	default:
		_, found, err := s.CustomerView.Get(keys.Format(customer))
		switch {
		case err != nil:
			return nil, status.Errorf(codes.Unavailable, "read customer %d: %v", customer, err)
		case !found:
			return nil, status.Errorf(codes.FailedPrecondition, "customer %d does not exist; create it with UpsertCustomer first", customer)
		}
		err = s.Assignments.Emit(ctx, key, &deviceId.Customer{Id: customer})
	}
	if err != nil {
		return nil, emitted(err)
	}
	return &gatewayv1.AssignResponse{}, nil
}

// UpsertCustomer writes the customer to the customers table and emits it
// to kafmesh.customerId.details.
func (s *Server) UpsertCustomer(ctx context.Context, req *gatewayv1.UpsertCustomerRequest) (*gatewayv1.UpsertCustomerResponse, error) {
	id := req.GetCustomerId()
	switch {
	case id <= 0:
		return nil, status.Errorf(codes.InvalidArgument, "customer_id must be positive, got %d", id)
	case req.GetName() == "":
		return nil, status.Error(codes.InvalidArgument, "name must not be empty")
	}
	if err := s.Customers.Upsert(ctx, id, req.GetName()); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	if err := s.CustomerDetails.Emit(ctx, keys.Format(id), &customerId.Details{Name: req.GetName()}); err != nil {
		return nil, emitted(err)
	}
	return &gatewayv1.UpsertCustomerResponse{}, nil
}

// GetDevice answers from the views: the assignment, the customer's current
// name and the enriched details. It is Unavailable until the views have
// caught up, and NotFound for a device the service knows nothing about.
func (s *Server) GetDevice(ctx context.Context, req *gatewayv1.GetDeviceRequest) (*gatewayv1.GetDeviceResponse, error) {
	key, err := deviceKey(req.GetDeviceId())
	if err != nil {
		return nil, err
	}
	if !s.AssignmentView.Ready() || !s.CustomerView.Ready() || !s.EnrichedDetailsView.Ready() {
		return nil, status.Error(codes.Unavailable, "the views are still loading; retry shortly")
	}
	assignment, assigned, err := s.AssignmentView.Get(key)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read the assignment: %v", err)
	}
	enriched, reported, err := s.EnrichedDetailsView.Get(key)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read the details: %v", err)
	}
	if !assigned && !reported {
		return nil, status.Errorf(codes.NotFound, "device %d has neither an assignment nor details", req.GetDeviceId())
	}
	resp := &gatewayv1.GetDeviceResponse{CustomerId: assignment.GetId(), Details: enriched}
	if resp.CustomerId != 0 {
		customer, _, err := s.CustomerView.Get(keys.Format(resp.CustomerId))
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "read the customer: %v", err)
		}
		resp.CustomerName = customer.GetName()
	}
	return resp, nil
}
