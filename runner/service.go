package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Service runs the registered parts of one kafmesh service.
type Service struct {
	def Definition
	cfg serviceConfig
	log *slog.Logger

	registry *prometheus.Registry // nil when the caller gave a registerer
	metrics  *metrics
	watch    *watchHub
	framer   *framer
	api      *apiState // gRPC APIs, health and HTTP endpoints

	mu      sync.Mutex
	parts   []part
	started bool
	closed  bool

	producerOnce sync.Once
	producerMu   sync.Mutex // guards producer: Emit creates it while Run runs
	producer     *kgo.Client
	producerErr  error

	tables tableSet // views shared by views, lookups and view sinks

	mem *MemoryCluster // set for services of a MemoryCluster: no Kafka

	obs observability // metrics registerer, Kafka client count, tracing
}

// part is a registered source, processor, view, sink, view source or view
// sink.
type part interface {
	kind() partKind
	component() string
	// name is unique per kind within a component.
	name() string
	// uses lists the topics the part touches.
	uses() []topicUse
	// describe returns the part's spec (ProcessorSpec, SourceSpec,
	// ViewSpec, SinkSpec, ViewSourceSpec or ViewSinkSpec) for the
	// discovery API.
	describe() any
	// run runs the part until ctx is canceled or it fails; it returns
	// only once everything it produced is flushed and committed. Parts
	// with nothing to run (sources) return nil at once.
	run(ctx context.Context) error
}

// NewService creates a service from its generated definition.
func NewService(def Definition, opts ...Option) (*Service, error) {
	s := &Service{def: def}
	for _, o := range opts {
		o(&s.cfg)
	}
	if def.Name == "" {
		return nil, errors.New("runner: the definition has no service name")
	}
	if len(s.cfg.brokers) == 0 {
		return nil, errors.New("runner: no brokers; use runner.WithBrokers")
	}
	if s.cfg.clientID == "" {
		s.cfg.clientID = def.Name
	}
	s.log = s.cfg.logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("service", def.Name)
	if s.cfg.stateDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("runner: no state directory given and no user cache directory: %w", err)
		}
		s.cfg.stateDir = filepath.Join(base, "kafmesh", def.Name)
	}
	reg := s.cfg.registerer
	if reg == nil {
		s.registry = prometheus.NewRegistry()
		reg = s.registry
	}
	if s.registry != nil {
		registerRuntimeCollectors(s.registry)
	}
	s.obs.registerer = reg
	s.metrics = newMetrics(reg, def.Name)
	if err := s.setupTracing(); err != nil {
		return nil, err
	}
	// A provider built from the environment is the service's to stop: on
	// an error below nobody else can.
	built := false
	defer func() {
		if !built {
			s.shutdownTracing()
		}
	}()
	prometheus.WrapRegistererWith(prometheus.Labels{"service": def.Name}, reg).MustRegister(tableCollector{&s.tables}, restoreCollector{s})
	s.watch = newWatchHub()
	s.watch.dropped = s.metrics.watchDropped.Inc
	s.framer = newFramer(s)
	if s.framer.warn != nil {
		return nil, fmt.Errorf("runner: %w", s.framer.warn)
	}
	s.tables.svc = s
	s.api = newAPIState(s)
	if err := s.cfg.security.check(s.cfg.grpcServer != nil); err != nil {
		return nil, err
	}
	if s.cfg.grpcServer != nil {
		// Now, not in Run: gRPC refuses registrations once it serves.
		s.api.register(s.cfg.grpcServer)
	}
	built = true
	return s, nil
}

func (s *Service) instanceID() string {
	if s.cfg.instanceID != "" {
		return s.cfg.instanceID
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "kafmesh"
}

// staticInstanceID is the group instance id of processors: the id given
// with WithInstanceID unless WithDynamicMembership, else "" (dynamic).
func (s *Service) staticInstanceID() string {
	if s.cfg.dynamicMembership {
		return ""
	}
	return s.cfg.instanceID
}

func (s *Service) transactionTimeout() time.Duration {
	if s.cfg.transactionTimeout > 0 {
		return s.cfg.transactionTimeout
	}
	return time.Minute
}

func (s *Service) shutdownTimeout() time.Duration {
	if s.cfg.shutdownTimeout > 0 {
		return s.cfg.shutdownTimeout
	}
	return shutdownDeadline
}

// Definition returns the service's generated definition.
func (s *Service) Definition() Definition { return s.def }

// Logger returns the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Gatherer returns the service's own Prometheus registry, or nil when the
// metrics were registered on a registerer given with [WithRegisterer].
func (s *Service) Gatherer() prometheus.Gatherer {
	if s.registry == nil {
		return nil
	}
	return s.registry
}

// Register adds a part. Parts must be registered before Run.
func (s *Service) Register(p *Processor) error {
	if p.optErr != nil {
		return fmt.Errorf("processor %s.%s: %w", p.spec.Component, p.spec.Name, p.optErr)
	}
	for i, h := range p.handlers {
		if h == nil {
			return fmt.Errorf("processor %s.%s: input %s has no handler", p.spec.Component, p.spec.Name, p.spec.Inputs[i].Topic)
		}
	}
	if len(p.spec.Inputs) == 0 {
		return fmt.Errorf("processor %s.%s: no inputs", p.spec.Component, p.spec.Name)
	}
	return s.add(newProcessorPart(s, p))
}

func (s *Service) add(p part) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("runner: cannot register %s %q after Run started", p.kind(), p.name())
	}
	for _, q := range s.parts {
		if q.kind() == p.kind() && q.component() == p.component() && q.name() == p.name() {
			return fmt.Errorf("runner: %s %q is already registered in component %q", p.kind(), p.name(), p.component())
		}
	}
	s.parts = append(s.parts, p)
	return nil
}

func (s *Service) registered() []part {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]part(nil), s.parts...)
}

// clientOpts are the options every client of the service starts with.
func (s *Service) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.cfg.brokers...),
		kgo.ClientID(s.cfg.clientID),
		kgo.WithLogger(newKgoLogger(s.log)),
		s.kafkaClientMetrics(),
	}
	opts = append(opts, s.kafkaClientTracing()...)
	if s.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(s.cfg.tls))
	}
	if s.cfg.sasl != nil {
		opts = append(opts, kgo.SASL(s.cfg.sasl))
	}
	opts = append(opts, extra...)
	return append(opts, s.cfg.kafkaOpts...)
}

// producerOpts are the settings of every producer: acks=all, idempotent,
// and keys partitioned with murmur2 exactly as the Java client does.
func producerOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// Java's default since Kafka 4.0 and what the latency benchmark
		// (W4, docs/benchmarks.md) measures; franz-go's default is 10ms.
		// A record waits at most this long for others to join its batch
		// when the load is light; under load batches fill before it.
		kgo.ProducerLinger(defaultLinger),
	}
}

// recordProducer is what parts produce through: a franz-go client, a
// transaction session, or a MemoryCluster.
type recordProducer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// sharedProducer is what sources and view sources produce with.
func (s *Service) sharedProducer() (recordProducer, error) {
	if s.mem != nil {
		return s.mem, nil
	}
	s.producerOnce.Do(func() {
		cl, err := kgo.NewClient(s.clientOpts(producerOpts()...)...)
		s.producerMu.Lock()
		s.producer, s.producerErr = cl, err
		s.producerMu.Unlock()
	})
	if s.producerErr != nil {
		return nil, s.producerErr
	}
	return s.producer, nil
}

// createdProducer returns the shared producer if a source created it.
func (s *Service) createdProducer() *kgo.Client {
	s.producerMu.Lock()
	defer s.producerMu.Unlock()
	return s.producer
}

// Run runs every registered part until ctx is canceled or one fails. On
// cancel it returns nil only after every part has stopped, sinks have
// flushed, outputs are acknowledged and offsets committed. When a part
// fails, the others are stopped the same way and Run returns that error.
func (s *Service) Run(ctx context.Context) error {
	if s.mem != nil {
		return errors.New("runner: a MemoryCluster service has nothing to run: records flow when they are produced")
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("runner: Run called twice")
	}
	s.started = true
	parts := append([]part(nil), s.parts...)
	s.mu.Unlock()
	defer s.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() {
			s.log.Error("stopping the service: a part failed", "error", err)
			firstErr = err
			cancel(err)
		})
	}
	stopServers, err := s.startServers(ctx, fail)
	if err != nil {
		return err
	}
	defer stopServers()

	if err := s.tables.start(ctx, fail, &wg); err != nil {
		// Cancelled because Run is stopping (or a part already failed):
		// a stop while starting, not a failure of its own.
		stopping := ctx.Err() != nil && errors.Is(err, context.Canceled)
		cancel(err)
		wg.Wait()
		if stopping {
			return firstErr
		}
		return err
	}
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A part that stops with a cancellation error because Run is
			// stopping did not fail. (Commits and flushes never use ctx,
			// so such an error cannot hide lost work.)
			err := p.run(ctx)
			if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
				fail(fmt.Errorf("%s %s/%s: %w", p.kind(), p.component(), p.name(), err))
			}
		}()
	}
	wg.Wait()
	if ctx.Err() == nil && (len(parts) > 0 || s.cfg.grpcAddr != "" || s.cfg.httpAddr != "") {
		// Every part returned without failing (sources and views have
		// nothing to run): keep serving the APIs and the sources until
		// the context ends.
		<-ctx.Done()
	}
	if p := s.createdProducer(); p != nil {
		// Sources may have records in flight; Close waits for nothing,
		// so flush first with a fresh context.
		if err := p.Flush(context.WithoutCancel(ctx)); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Close releases the service's clients. Run calls it; call it yourself
// when you use sources without Run.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if p := s.createdProducer(); p != nil {
		p.Close()
	}
	s.mu.Unlock()
	// After the producer: its last acknowledgements end source spans.
	s.shutdownTracing()
}

// kgoLogger adapts slog to franz-go's logger at warn and above, or at the
// level KAFMESH_KGO_DEBUG / KAFMESH_KGO_INFO ask for (debugging aids, read
// once per client: franz-go asks for the level before every log line).
type kgoLogger struct {
	l     *slog.Logger
	level kgo.LogLevel
}

func newKgoLogger(l *slog.Logger) kgoLogger {
	level := kgo.LogLevelWarn
	switch {
	case os.Getenv("KAFMESH_KGO_DEBUG") != "":
		level = kgo.LogLevelDebug
	case os.Getenv("KAFMESH_KGO_INFO") != "":
		level = kgo.LogLevelInfo
	}
	return kgoLogger{l: l, level: level}
}

func (k kgoLogger) Level() kgo.LogLevel { return k.level }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, keyvals...)
	case kgo.LogLevelWarn:
		k.l.Warn(msg, keyvals...)
	case kgo.LogLevelInfo:
		k.l.Info(msg, keyvals...)
	default:
		k.l.Debug(msg, keyvals...)
	}
}

// encodeValue encodes m for topic, in the framing configured for topic
// (see [Framing]).
func encodeValue[M any](s *Service, topic string, c Codec[M], m M) ([]byte, error) {
	return appendValue(s, nil, topic, c, m)
}

// appendValue appends the encoding of m for topic to dst.
func appendValue[M any](s *Service, dst []byte, topic string, c Codec[M], m M) ([]byte, error) {
	if c.Type() != TopicProtobuf {
		return c.Encode(dst, m)
	}
	h, err := s.framer.header(context.Background(), topic, c.Descriptor())
	if err != nil {
		return nil, err
	}
	return c.Encode(append(dst, h...), m)
}
