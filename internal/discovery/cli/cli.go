// Package cli is the `kafmesh discover` command: flags (each with an
// environment variable), store and target set-up, logging, and running
// the discovery service until interrupted.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/topicsettings"
	"github.com/kafmesh/kafmesh/runner"
)

// EnvPrefix prefixes the environment variable of every flag:
// --scrape-interval is KAFMESH_DISCOVER_SCRAPE_INTERVAL. A flag given on the
// command line wins over its variable.
const EnvPrefix = "KAFMESH_DISCOVER_"

type options struct {
	listen         string
	interval       time.Duration
	concurrency    int
	timeout        time.Duration
	targets        []string
	targetsFile    string
	targetTLS      bool
	targetCA       string
	targetInsecure bool
	targetCreds    scrape.Credentials // --target-cert, --target-key, --target-token, --target-token-file
	kubernetes     bool
	kubeconfig     string
	namespaces     []string
	selector       string
	store          string
	neo4jUser      string
	neo4jPassword  string
	neo4jDatabase  string
	token          string
	allowedOrigins []string
	legacyIDs      string
	maxDepth       int
	maxComplexity  int
	brokers        []string
	lagInterval    time.Duration
	settingsEvery  time.Duration
	records        bool
	recordLimits   records.Limits
	logLevel       string
	logFormat      string
	// OpenLineage emission (--openlineage-*).
	openLineageURL      string
	openLineageInterval time.Duration
	openLineageToken    string
	openLineageNS       string
	// discover's own endpoints
	allowedHosts []string
	k8sService   string
	tlsCert      string
	tlsKey       string
	limits       server.Limits
}

// Extra lets the caller add server options (the web UI mounts itself
// this way: server.WithUIFS(web.Assets())).
type Extra func() []server.Option

// NewCommand returns `discover`. Logs go to logOut.
func NewCommand(logOut io.Writer, extra ...Extra) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "Scrape every kafmesh service and serve the mesh as GraphQL",
		Long: `Discover finds kafmesh services (Kubernetes pods annotated kafmesh/scrape: "true",
with the gRPC port in kafmesh/port, default 443; and/or static host:port targets),
scrapes each one's GetServiceInfo every interval, keeps the mesh in a store
(an SQLite file by default, or Neo4j), and serves it read-only:

  /query    GraphQL (POST, and websockets for the watchProcessor subscription)
  /export/asyncapi|backstage|openlineage   the whole mesh in those formats
  /healthz  liveness      /readyz  readiness      /metrics  Prometheus

Every flag can also be set through an environment variable: ` + EnvPrefix + `
followed by the flag name in upper case with - as _ (for example
` + EnvPrefix + `SCRAPE_INTERVAL=30s). A flag on the command line wins.`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags(), os.LookupEnv)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, o, logOut, extra)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", ":8080", "HTTP listen address")
	f.DurationVar(&o.interval, "scrape-interval", scrape.DefaultInterval, "time between two scrapes of every target")
	f.IntVar(&o.concurrency, "concurrency", scrape.DefaultConcurrency, "targets scraped at once")
	f.DurationVar(&o.timeout, "timeout", scrape.DefaultTimeout, "deadline of each call to a target")
	f.StringSliceVar(&o.targets, "target", nil, "static target host:port (repeatable, or comma-separated)")
	f.StringVar(&o.targetsFile, "targets-file", "", "file of static targets, one host:port [name] a line, re-read every round")
	f.BoolVar(&o.targetTLS, "target-tls", false, "call targets over TLS, verifying them against the system's roots (or --target-ca)")
	f.StringVar(&o.targetCA, "target-ca", "", "PEM file of the CA(s) that sign the targets' certificates; implies --target-tls")
	f.BoolVar(&o.targetInsecure, "target-tls-skip-verify", false, "with TLS, accept any target certificate (testing only); implies --target-tls")
	f.StringVar(&o.targetCreds.CertFile, "target-cert", "", "PEM file of discover's client certificate, for targets that require mutual TLS; with --target-key; implies --target-tls")
	f.StringVar(&o.targetCreds.KeyFile, "target-key", "", "PEM file of the key of --target-cert")
	f.StringVar(&o.targetCreds.Token, "target-token", "", "bearer token sent to targets (their runner.WithWatchToken); needs TLS (prefer the environment variable or --target-token-file)")
	f.StringVar(&o.targetCreds.TokenFile, "target-token-file", "", "file holding the bearer token sent to targets, read again when it changes; needs TLS")
	f.BoolVar(&o.kubernetes, "kubernetes", false, `find pods annotated kafmesh/scrape: "true" through the Kubernetes API`)
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster configuration); implies --kubernetes")
	f.StringSliceVar(&o.namespaces, "namespace", nil, "namespaces to watch (repeatable; default all)")
	f.StringVar(&o.selector, "selector", "", "label selector of the pods to consider (e.g. app.kubernetes.io/part-of=mesh)")
	f.StringVar(&o.store, "store", discovery.DefaultStore, "SQLite file, or Neo4j URL (neo4j://host:7687, bolt://host:7687)")
	f.StringVar(&o.neo4jUser, "neo4j-user", "", "Neo4j user (empty: no authentication)")
	f.StringVar(&o.neo4jPassword, "neo4j-password", "", "Neo4j password (prefer the environment variable)")
	f.StringVar(&o.neo4jDatabase, "neo4j-database", "", "Neo4j database (default: the server's default)")
	f.StringVar(&o.token, "token", "", "require this bearer token on /query (prefer the environment variable)")
	f.StringSliceVar(&o.allowedOrigins, "allowed-origins", nil, "other origins (host patterns) whose pages may call /query; default same origin only")
	f.StringVar(&o.legacyIDs, "legacy-ids", "", "CSV file mapping the 2021 discovery's numeric service and component ids to today's (see docs/migrating-from-2021.md)")
	f.IntVar(&o.maxDepth, "max-query-depth", graph.DefaultMaxDepth, "reject GraphQL operations nested deeper")
	f.IntVar(&o.maxComplexity, "max-query-complexity", graph.DefaultMaxComplexity, "reject GraphQL operations more complex")
	f.StringSliceVar(&o.brokers, "brokers", nil, "Kafka seed brokers: measure the consumer groups of the mesh (lag, members, dead letters), read the topics' settings and allow offset resets with --token (plaintext, no SASL)")
	f.DurationVar(&o.lagInterval, "lag-interval", lag.DefaultInterval, "how often consumer group lag is measured (with --brokers)")
	f.DurationVar(&o.settingsEvery, "topic-settings-interval", topicsettings.DefaultInterval, "how often the topics' settings are read again (with --brokers; a new topic is read at once)")
	f.BoolVar(&o.records, "records", true, "with --brokers, serve the topic browser (GraphQL topicRecords): people who can call /query read the topics' records; protect it with --token")
	f.IntVar(&o.recordLimits.MaxRecords, "records-max", records.DefaultMaxRecords, "most records one topic browser read answers")
	f.IntVar(&o.recordLimits.MaxBytes, "records-max-bytes", records.DefaultMaxBytes, "most bytes of records (keys, values, headers) one topic browser read answers")
	f.IntVar(&o.recordLimits.MaxScanBytes, "records-max-scan-bytes", records.DefaultMaxScanBytes, "most bytes of records one topic browser read scans (bounds a read filtered by key)")
	f.DurationVar(&o.recordLimits.Timeout, "records-timeout", records.DefaultTimeout, "deadline of one topic browser read")
	f.StringSliceVar(&o.allowedHosts, "allowed-hosts", nil, "host names (patterns like *.example.com) discover answers as, besides IP addresses and localhost; other Host headers get 403 (DNS rebinding protection)")
	f.StringVar(&o.k8sService, "kubernetes-service", "kafmesh-discover", "with --kubernetes, the name of discover's Service: its in-cluster names (NAME, NAME.NAMESPACE, NAME.NAMESPACE.svc, …) are allowed hosts")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) of discover's own HTTPS listener; with --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.Int64Var(&o.limits.MaxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body accepted (413 above)")
	f.IntVar(&o.limits.MaxResponseBytes, "max-response-bytes", graph.DefaultMaxResponseBytes, "largest GraphQL answer, in bytes of JSON")
	f.DurationVar(&o.limits.QueryTimeout, "query-timeout", graph.DefaultQueryTimeout, "deadline of one GraphQL query")
	f.DurationVar(&o.limits.ReadTimeout, "read-timeout", server.DefaultReadTimeout, "deadline to read a whole request (headers: 10s)")
	f.DurationVar(&o.limits.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "deadline to answer a request (websockets exempt)")
	f.DurationVar(&o.limits.IdleTimeout, "idle-timeout", server.DefaultIdleTimeout, "close keep-alive connections idle this long")
	f.IntVar(&o.limits.MaxWebsocketsPerClient, "max-websockets-per-client", server.DefaultMaxWebsocketsPerClient, "websockets one client IP may have open")
	f.IntVar(&o.limits.MaxSubscriptionsPerConn, "max-subscriptions-per-connection", graph.DefaultMaxSubscriptionsPerConn, "subscriptions one websocket may have open")
	f.IntVar(&o.limits.MaxSubscriptions, "max-subscriptions", graph.DefaultMaxSubscriptions, "subscriptions open at once in all")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "text or json")
	f.StringVar(&o.openLineageURL, "openlineage-url", "", "POST the mesh's OpenLineage run events here when it changes (Marquez: http://host:5000/api/v1/lineage)")
	f.DurationVar(&o.openLineageInterval, "openlineage-interval", 30*time.Second, "how often the mesh is looked at for changes to send (with --openlineage-url)")
	f.StringVar(&o.openLineageToken, "openlineage-token", "", "bearer token for --openlineage-url (prefer the environment variable)")
	f.StringVar(&o.openLineageNS, "openlineage-namespace", "", "dataset namespace of the topics (default kafka://<first --brokers>, else kafka://kafmesh)")
	return cmd
}

// EnvName is the environment variable of a flag.
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, failing with the variable's name on a bad value.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := EnvName(f.Name)
		v, ok := lookup(name)
		if !ok && f.Name == "kubeconfig" {
			v, ok = lookup("KUBECONFIG")
			name = "KUBECONFIG"
		}
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, serr)
		}
	})
	return err
}

func newLogger(out io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(out, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(out, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func run(cmd *cobra.Command, o options, logOut io.Writer, extra []Extra) error {
	ctx := cmd.Context()
	logger, err := newLogger(logOut, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	if o.interval <= 0 || o.timeout <= 0 || o.concurrency <= 0 {
		return fmt.Errorf("--scrape-interval, --timeout and --concurrency must be positive")
	}
	if o.lagInterval <= 0 || o.settingsEvery <= 0 {
		return fmt.Errorf("--lag-interval and --topic-settings-interval must be positive")
	}

	var opts []discovery.Option
	if len(o.targets) > 0 || o.targetsFile != "" {
		static, err := targets.NewStatic(o.targets, o.targetsFile)
		if err != nil {
			return err
		}
		if o.targetsFile != "" {
			if _, err := targets.ReadTargetsFile(o.targetsFile); err != nil {
				return err
			}
		}
		opts = append(opts, discovery.WithSources(static))
	}
	if o.kubernetes || o.kubeconfig != "" {
		client, err := targets.ClientConfig(o.kubeconfig)
		if err != nil {
			return err
		}
		opts = append(opts, discovery.WithKubernetes(targets.NewKubernetes(client,
			targets.InNamespaces(o.namespaces...), targets.WithLabelSelector(o.selector),
			targets.WithKubernetesLogger(logger.With("part", "kubernetes")))))
	}
	if len(opts) == 0 {
		return fmt.Errorf("no targets: give --target host:port, --targets-file FILE or --kubernetes")
	}
	creds := o.targetCreds
	creds.TLS, creds.CAFile, creds.SkipVerify = o.targetTLS, o.targetCA, o.targetInsecure
	targetDial, err := creds.DialOptions()
	if err != nil {
		return err
	}
	opts = append(opts, discovery.WithTargetDialOptions(targetDial...))
	// Traces of the calls to targets, when the OTEL_* environment asks
	// for them (see docs/observability.md); none otherwise.
	tp, err := runner.TracerProviderFromEnv(ctx, "kafmesh-discover")
	if err != nil {
		return fmt.Errorf("tracing from the OTEL_* environment: %w", err)
	}
	if tp != nil {
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("sending the last traces failed", "error", err)
			}
		}()
		opts = append(opts, discovery.WithTracerProvider(tp))
	}

	st, err := discovery.OpenStore(ctx, discovery.StoreConfig{URL: o.store, User: o.neo4jUser, Password: o.neo4jPassword, Database: o.neo4jDatabase})
	if err != nil {
		return err
	}
	defer st.Close()

	if len(o.brokers) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(o.brokers...))
		if err != nil {
			return fmt.Errorf("--brokers: %w", err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		opts = append(opts,
			discovery.WithLag(lag.New(adm, lag.WithClient(cl), lag.WithInterval(o.lagInterval), lag.WithLogger(logger.With("part", "lag")))),
			discovery.WithTopicSettings(topicsettings.New(adm, topicsettings.WithInterval(o.settingsEvery), topicsettings.WithLogger(logger.With("part", "topicsettings")))),
		)
	}

	var recordReader *records.Reader
	if len(o.brokers) > 0 && o.records {
		rcl, err := kgo.NewClient(kgo.SeedBrokers(o.brokers...))
		if err != nil {
			return fmt.Errorf("--brokers: %w", err)
		}
		defer rcl.Close()
		recordReader = records.New(rcl, records.WithLimits(o.recordLimits), records.WithLogger(logger.With("part", "records")))
	}

	if (o.tlsCert == "") != (o.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together: give both or neither")
	}
	serverOpts := []server.Option{server.WithLimits(o.maxDepth, o.maxComplexity), server.WithHTTPLimits(o.limits)}
	if o.tlsCert != "" {
		serverOpts = append(serverOpts, server.WithTLS(o.tlsCert, o.tlsKey))
	}
	hosts := o.allowedHosts
	if (o.kubernetes || o.kubeconfig != "") && o.k8sService != "" {
		hosts = append(hosts, serviceHosts(o.k8sService, podNamespace())...)
	}
	if len(hosts) > 0 {
		serverOpts = append(serverOpts, server.WithAllowedHosts(hosts...))
	}
	if o.token != "" {
		serverOpts = append(serverOpts, server.WithToken(o.token))
	}
	if recordReader != nil {
		serverOpts = append(serverOpts, server.WithRecords(recordReader))
	}
	if len(o.allowedOrigins) > 0 {
		serverOpts = append(serverOpts, server.WithAllowedOrigins(o.allowedOrigins...))
	}
	if o.legacyIDs != "" {
		ids, err := graph.ReadLegacyIDs(o.legacyIDs)
		if err != nil {
			return err
		}
		serverOpts = append(serverOpts, server.WithLegacyIDs(ids))
		logger.Info("2021 numeric ids mapped", "file", o.legacyIDs, "ids", ids.Len())
	}
	for _, e := range extra {
		serverOpts = append(serverOpts, e()...)
	}
	opts = append(opts,
		discovery.WithLogger(logger),
		discovery.WithScrapeOptions(scrape.WithInterval(o.interval), scrape.WithTimeout(o.timeout), scrape.WithConcurrency(o.concurrency)),
		discovery.WithServerOptions(serverOpts...),
	)
	logger.Info("kafmesh discover starting", "store", redact(o.store), "interval", o.interval, "timeout", o.timeout, "concurrency", o.concurrency,
		"static_targets", len(o.targets), "target_tls", o.targetTLS || o.targetCA != "" || o.targetInsecure || creds.CertFile != "",
		"target_client_cert", creds.CertFile != "", "target_token", creds.Token != "" || creds.TokenFile != "", "brokers", o.brokers, "targets_file", o.targetsFile, "kubernetes", o.kubernetes || o.kubeconfig != "", "auth", o.token != "")
	svc := discovery.New(st, opts...)
	if o.openLineageURL != "" {
		stop, err := startOpenLineage(ctx, o, svc, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	return svc.Run(ctx, o.listen, func(a net.Addr) {
		fmt.Fprintf(cmd.OutOrStdout(), "kafmesh discover listening on %s\n", a)
	})
}

// podNamespace is the namespace discover's pod runs in (POD_NAMESPACE, or
// the service account's namespace file); empty outside a cluster.
func podNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// serviceHosts are the names a Service is reached as inside the cluster.
func serviceHosts(name, namespace string) []string {
	out := []string{name}
	if namespace != "" {
		out = append(out, name+"."+namespace, name+"."+namespace+".svc", name+"."+namespace+".svc.cluster.local")
	}
	return out
}

// redact hides a password in a store URL.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "@"); j >= 0 {
			return u[:i+3] + "***@" + u[i+3+j+1:]
		}
	}
	return u
}
