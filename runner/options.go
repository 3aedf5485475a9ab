package runner

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// Option configures a [Service].
type Option func(*serviceConfig)

type serviceConfig struct {
	brokers     []string
	clientID    string
	tls         *tls.Config
	sasl        sasl.Mechanism
	stateDir    string
	logger      *slog.Logger
	registerer  prometheus.Registerer
	gatherer    prometheus.Gatherer
	kafkaOpts   []kgo.Opt
	grpcServer  *grpc.Server
	grpcAddr    string
	httpAddr    string
	httpAddrSet bool // WithHTTPAddr was given (else DefaultHTTPAddr applies)
	memoryState bool
	registry    SchemaRegistry
	instanceID  string
	watchBuffer int
	security    grpcSecurity // see api_security.go
	framing     framingConfig
	// Added for fault recovery.
	dynamicMembership  bool
	leaveGroupsOnStop  bool
	transactionTimeout time.Duration
	shutdownTimeout    time.Duration

	tracerProvider oteltrace.TracerProvider // see tracing.go
	kafkaTracing   bool                     // WithKafkaClientTracing (tracing.go)
}

// WithBrokers sets the seed brokers ("host:port"). Required.
func WithBrokers(brokers ...string) Option {
	return func(c *serviceConfig) { c.brokers = append(c.brokers, brokers...) }
}

// WithClientID sets the Kafka client id; the default is the service name.
func WithClientID(id string) Option { return func(c *serviceConfig) { c.clientID = id } }

// WithTLS dials the brokers with TLS.
func WithTLS(cfg *tls.Config) Option { return func(c *serviceConfig) { c.tls = cfg } }

// WithSASL authenticates to the brokers with the given mechanism (see the
// franz-go sasl packages: plain, scram, oauth, aws).
func WithSASL(m sasl.Mechanism) Option { return func(c *serviceConfig) { c.sasl = m } }

// WithStateDir sets the folder of local state stores. The default is
// "kafmesh/<service>" under the user cache directory ([os.UserCacheDir]).
func WithStateDir(dir string) Option { return func(c *serviceConfig) { c.stateDir = dir } }

// WithLogger sets the logger; the default discards nothing and writes
// through [slog.Default].
func WithLogger(l *slog.Logger) Option { return func(c *serviceConfig) { c.logger = l } }

// WithRegisterer registers the service's metrics on r instead of on a new
// registry of the service's own. Nothing is ever registered globally.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *serviceConfig) { c.registerer = r }
}

// WithKafkaOptions appends franz-go client options to every client the
// service creates (after the runtime's own, including the transactional
// and group settings of processors, so they win).
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(c *serviceConfig) { c.kafkaOpts = append(c.kafkaOpts, opts...) }
}

// WithGRPCServer registers the Ping, Discovery and Watch APIs (and server
// reflection and health, unless the server has them already) on a server
// the caller owns and serves. They are registered by NewService, so the
// server may start serving before Run; health reports SERVING only while
// Run runs, and Watch streams end when Run returns.
func WithGRPCServer(s *grpc.Server) Option { return func(c *serviceConfig) { c.grpcServer = s } }

// WithGRPCAddr makes Run serve the kafmesh gRPC APIs, server reflection and
// health on addr (":8443"; ":0" picks a free port, see
// [Service.GRPCAddr]). Run stops the server gracefully when it returns.
func WithGRPCAddr(addr string) Option { return func(c *serviceConfig) { c.grpcAddr = addr } }

// WithHTTPAddr makes Run serve /metrics, /healthz and /readyz on addr (see
// [Service.HTTPHandler] and [Service.HTTPAddr]); Run fails if it cannot
// listen there. Without this option Run serves them on [DefaultHTTPAddr]
// when that address is free (and logs a warning and serves none when it is
// not); WithHTTPAddr("") turns the HTTP server off.
func WithHTTPAddr(addr string) Option {
	return func(c *serviceConfig) { c.httpAddr, c.httpAddrSet = addr, true }
}

// WithWatchBuffer sets how many operations a Watch stream may fall behind
// before it is dropped (default 1024). Processing never waits for a
// watcher; a larger buffer lets slower clients keep up with bursts.
func WithWatchBuffer(n int) Option { return func(c *serviceConfig) { c.watchBuffer = n } }

// WithMemoryState keeps every processor's and view's local state in memory
// instead of Pebble. State is then restored from Kafka at every start.
func WithMemoryState() Option { return func(c *serviceConfig) { c.memoryState = true } }

// WithSchemaRegistry makes sources, outputs and state writes use Confluent
// framing, with the schema id of the latest version of the subject
// "<topic>-value". Reading accepts every framing regardless.
func WithSchemaRegistry(r SchemaRegistry) Option { return func(c *serviceConfig) { c.registry = r } }

// PartOption configures one registered part. Each option says which part
// kinds it applies to; giving one to another kind is a registration error.
type PartOption struct {
	name  string
	kinds partKind
	apply func(*partConfig)
}

type partKind uint8

const (
	kindProcessor partKind = 1 << iota
	kindSink
	kindViewSource
	kindViewSink
	kindSource
	kindView
)

func (k partKind) String() string {
	switch k {
	case kindProcessor:
		return "processor"
	case kindSink:
		return "sink"
	case kindViewSource:
		return "view source"
	case kindViewSink:
		return "view sink"
	case kindSource:
		return "source"
	case kindView:
		return "view"
	}
	return "part"
}

type partConfig struct {
	exactlyOnce    bool
	policy         ErrorPolicy
	tombstones     bool
	memoryState    bool
	commitInterval time.Duration
	interval       time.Duration
	timeout        time.Duration
	batchSize      int
	policySet      bool // OnError was given
}

func applyPartOptions(kind partKind, cfg *partConfig, opts []PartOption) error {
	for _, o := range opts {
		if o.kinds&kind == 0 {
			return fmt.Errorf("option %s does not apply to a %s", o.name, kind)
		}
		o.apply(cfg)
	}
	return nil
}

// ExactlyOnce makes a processor write its outputs, state changes and input
// offsets in one Kafka transaction. Consumers of its outputs must read with
// isolation level read_committed (the runtime's own consumers do).
func ExactlyOnce() PartOption {
	return PartOption{"ExactlyOnce", kindProcessor, func(c *partConfig) { c.exactlyOnce = true }}
}

// OnError sets what a processor or sink does when handling a record fails,
// including a record whose value cannot be decoded. The default is
// [FailOnError]. For a view it sets what reads do with a value that cannot
// be decoded: [SkipOnError] (the default for views: the key reads as
// absent, counted and logged) or [FailOnError] (Get and Range return the
// error).
func OnError(p ErrorPolicy) PartOption {
	return PartOption{"OnError", kindProcessor | kindSink | kindView, func(c *partConfig) { c.policy, c.policySet = p, true }}
}

// DeliverTombstones makes a processor call its handlers for tombstones
// (records with a nil value) with a nil message; by default they are
// skipped. Sinks always receive tombstones.
func DeliverTombstones() PartOption {
	return PartOption{"DeliverTombstones", kindProcessor, func(c *partConfig) { c.tombstones = true }}
}

// MemoryState keeps this processor's or view's local state in memory.
func MemoryState() PartOption {
	return PartOption{"MemoryState", kindProcessor | kindView, func(c *partConfig) { c.memoryState = true }}
}

// CommitInterval bounds how long a processor works before it commits (flushes
// outputs and state, commits offsets or the transaction). The default is 1s
// at-least-once, where outputs flow as they are produced and a commit only
// bounds how much is redone after a crash, and 100ms with exactly-once,
// where outputs become visible to read-committed consumers at each commit.
func CommitInterval(d time.Duration) PartOption {
	return PartOption{"CommitInterval", kindProcessor, func(c *partConfig) { c.commitInterval = d }}
}

// Interval sets how often a sink flushes (default 5s) or a view source or
// view sink syncs (default 1m).
func Interval(d time.Duration) PartOption {
	return PartOption{"Interval", kindSink | kindViewSource | kindViewSink, func(c *partConfig) { c.interval = d }}
}

// Timeout bounds one sync of a view source or view sink, including its
// writes (default 30s).
func Timeout(d time.Duration) PartOption {
	return PartOption{"Timeout", kindViewSource | kindViewSink, func(c *partConfig) { c.timeout = d }}
}

// BatchSize sets how many records a sink collects before it flushes
// (default 1000).
func BatchSize(n int) PartOption {
	return PartOption{"BatchSize", kindSink, func(c *partConfig) { c.batchSize = n }}
}

// WithInstanceID names this instance of the service. It must be unique
// among running instances and stable across restarts of one instance; in
// Kubernetes use the pod name (a StatefulSet's pod names are stable across
// rescheduling; any pod's name is stable across restarts of its
// containers).
//
// Exactly-once processors derive their transactional ids from it
// ("<group>-<id>"): a restarted instance fences its predecessor's open
// transaction before it restores any state. When it is given, processors
// also join their groups as static members (group.instance.id = id): a
// restart within the session timeout (45s unless changed with
// WithKafkaOptions(kgo.SessionTimeout(...))) gets its partitions back at
// once, without a rebalance. The flip side: a stopped instance does not
// leave its groups, so its partitions move to the others only when the
// session timeout expires. [WithDynamicMembership] turns that off.
// Without WithInstanceID membership is dynamic and the transactional id
// uses the host name.
func WithInstanceID(id string) Option { return func(c *serviceConfig) { c.instanceID = id } }

// WithDynamicMembership makes processors join their groups as dynamic
// members even with [WithInstanceID]: a stopped instance leaves its groups
// at once (its partitions move without waiting for the session timeout),
// and a restarted one causes a rebalance (after a crash, partitions wait
// for the dead member's session timeout).
func WithDynamicMembership() Option { return func(c *serviceConfig) { c.dynamicMembership = true } }

// WithLeaveGroupsOnStop makes an instance with a static [WithInstanceID]
// leave its processors' groups when the service stops (Run returns
// because its context ended): the group coordinator removes the member by
// its instance id (KIP-345), and its partitions move to the other
// instances at once instead of after the session timeout. Use it where a
// stopped instance does not come back under the same id: a Deployment's
// rolling update or scale-in (its pods get new names), an autoscaler.
// Leave it off for a StatefulSet, whose restarted pod keeps its name and
// gets its partitions back without a rebalance. A restart after a failure
// (the process killed, a lost session) never leaves: only a clean stop
// does. Without a static instance id it changes nothing (dynamic members
// always leave).
func WithLeaveGroupsOnStop() Option { return func(c *serviceConfig) { c.leaveGroupsOnStop = true } }

// WithTransactionTimeout sets the transaction timeout of exactly-once
// processors (default 1m): how long the brokers keep a transaction open
// when its producer went silent. A successor fences its predecessor's
// transaction at once, so this matters only when no successor starts. It
// must not exceed the brokers' transaction.max.timeout.ms (15m by default)
// and should be well above the commit interval.
func WithTransactionTimeout(d time.Duration) Option {
	return func(c *serviceConfig) { c.transactionTimeout = d }
}

// WithShutdownTimeout bounds (default 30s) how long a commit, a sink flush
// or leaving a group may take, so that Run returns within about this long
// of its context ending, whatever the brokers do.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *serviceConfig) { c.shutdownTimeout = d }
}
