package runner

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	discoverv1 "github.com/kafmesh/kafmesh/api/discover/v1"
	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	pingv1 "github.com/kafmesh/kafmesh/api/ping/v1"
	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
)

// apiState is what the service's gRPC APIs and HTTP endpoints share: the
// health status, Run's context while it runs, and the addresses the
// runtime's own servers listen on.
type apiState struct {
	svc    *Service
	health *health.Server
	guard  *guard

	// stopping is closed when Run stops serving: open watch streams end.
	stopping chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	runCtx   context.Context // Run's context; nil before Run
	grpcAddr string
	httpAddr string
	warned   map[string]bool // messages whose descriptors were not found
}

func newAPIState(s *Service) *apiState {
	a := &apiState{
		svc:      s,
		health:   health.NewServer(),
		stopping: make(chan struct{}),
		warned:   map[string]bool{},
	}
	a.guard = newGuard(a, &s.cfg.security)
	// Not serving until Run starts.
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	return a
}

// apiServices are the gRPC services every kafmesh service serves.
var apiServices = []string{
	pingv1.PingAPI_ServiceDesc.ServiceName,
	discoveryv1.DiscoveryAPI_ServiceDesc.ServiceName,
	discoverv1.Discover_ServiceDesc.ServiceName,
	watchv1.WatchAPI_ServiceDesc.ServiceName,
}

// register adds Ping, Discovery (under both names), Watch, server
// reflection and health to srv. A service that srv already has (e.g.
// reflection or health registered by the caller) is left as it is. Every
// one but health is registered through the guard (see api_security.go),
// so its checks hold whatever options srv was made with.
func (a *apiState) register(srv *grpc.Server) {
	have := srv.GetServiceInfo()
	add := func(name string, fn func()) {
		if _, ok := have[name]; ok {
			a.svc.log.Info("gRPC service already registered on the given server; keeping it", "grpc_service", name)
			return
		}
		fn()
	}
	g := guardedRegistrar{srv: srv, g: a.guard}
	sec := &a.svc.cfg.security
	add(pingv1.PingAPI_ServiceDesc.ServiceName, func() { pingv1.RegisterPingAPIServer(g, pingAPI{}) })
	add(discoveryv1.DiscoveryAPI_ServiceDesc.ServiceName, func() { discoveryv1.RegisterDiscoveryAPIServer(g, discoveryAPI{a: a}) })
	add(discoverv1.Discover_ServiceDesc.ServiceName, func() { discoverv1.RegisterDiscoverServer(g, discoverAPI{a: a}) })
	if sec.noWatch {
		add(watchv1.WatchAPI_ServiceDesc.ServiceName, func() { watchv1.RegisterWatchAPIServer(g, watchOff{a: a}) })
	} else {
		add(watchv1.WatchAPI_ServiceDesc.ServiceName, func() { watchv1.RegisterWatchAPIServer(g, watchAPI{a: a}) })
	}
	add(healthpb.Health_ServiceDesc.ServiceName, func() { healthpb.RegisterHealthServer(srv, a.health) })
	if !sec.noReflection {
		// reflection.Register adds v1 and v1alpha; skip both if v1 is there.
		add("grpc.reflection.v1.ServerReflection", func() { reflection.Register(g) })
	}
}

// begin marks the service running: health is SERVING until ctx ends.
func (a *apiState) begin(ctx context.Context) {
	a.mu.Lock()
	a.runCtx = ctx
	a.mu.Unlock()
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	go func() {
		<-ctx.Done()
		a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	}()
}

// end marks the service stopped: health is NOT_SERVING for good and watch
// streams end.
func (a *apiState) end() {
	a.stopOnce.Do(func() {
		a.health.Shutdown()
		close(a.stopping)
	})
}

// running returns Run's context, or nil before Run started.
func (a *apiState) running() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runCtx
}

type pingAPI struct {
	pingv1.UnimplementedPingAPIServer
}

func (pingAPI) Ping(context.Context, *pingv1.PingRequest) (*pingv1.PingResponse, error) {
	return &pingv1.PingResponse{}, nil
}
