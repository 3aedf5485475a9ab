package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/gateway/v1"
	"github.com/kafmesh/kafmesh/examples/devices/internal/gateway"
)

// customers the simulated devices are assigned to, round robin.
var customers = []string{"Acme", "Globex", "Initech"}

// fleet simulates devices: it creates the customers, assigns every device
// (ids 1..devices) to one, has each report its details, then sends a
// heartbeat for every device each interval (every seventh one unhealthy)
// and has one device re-report changed details each round.
type fleet struct {
	gateway  *gateway.Server
	devices  int
	interval time.Duration
	logger   *slog.Logger
}

func (f fleet) run(ctx context.Context) {
	for i, name := range customers {
		id := int64(i + 1)
		f.retry(ctx, "create customer "+name, func() error {
			_, err := f.gateway.UpsertCustomer(ctx, &gatewayv1.UpsertCustomerRequest{CustomerId: id, Name: name})
			return err
		})
	}
	for d := int64(1); d <= int64(f.devices); d++ {
		customer := (d-1)%int64(len(customers)) + 1
		// The assignment needs the customer in the service's view, which
		// follows the customer's record a moment later: retried.
		f.retry(ctx, fmt.Sprintf("assign device %d", d), func() error {
			_, err := f.gateway.Assign(ctx, &gatewayv1.AssignRequest{DeviceId: d, CustomerId: customer})
			return err
		})
		f.retry(ctx, fmt.Sprintf("details of device %d", d), func() error {
			_, err := f.gateway.Details(ctx, &gatewayv1.DetailsRequest{DeviceId: d, Name: fmt.Sprintf("sensor-%03d", d)})
			return err
		})
	}
	f.logger.Info("devices set up; sending heartbeats", "devices", f.devices, "interval", f.interval)
	ticker := time.NewTicker(f.interval)
	defer ticker.Stop()
	for round := int64(0); ; round++ {
		for d := int64(1); d <= int64(f.devices); d++ {
			healthy := (d+round)%7 != 0
			if _, err := f.gateway.Heartbeat(ctx, &gatewayv1.HeartbeatRequest{DeviceId: d, IsHealthy: healthy}); err != nil && ctx.Err() == nil {
				f.logger.Warn("heartbeat not sent", "device", d, "error", err)
			}
		}
		renamed := round%int64(f.devices) + 1
		if _, err := f.gateway.Details(ctx, &gatewayv1.DetailsRequest{DeviceId: renamed, Name: fmt.Sprintf("sensor-%03d rev %d", renamed, round/int64(f.devices)+1)}); err != nil && ctx.Err() == nil {
			f.logger.Warn("details not sent", "device", renamed, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// retry calls f until it succeeds or ctx ends, every 250 ms; errors other
// than the expected "not there yet" ones are logged.
func (f fleet) retry(ctx context.Context, what string, call func() error) {
	for ctx.Err() == nil {
		err := call()
		if err == nil {
			return
		}
		if c := status.Code(err); c != codes.FailedPrecondition && c != codes.Unavailable {
			f.logger.Warn(what+" failed; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}
