package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/internal/cli"
	"github.com/kafmesh/kafmesh/internal/dev"
)

// newDevCommand returns `kafmesh dev` (internal/dev): the example mesh,
// discovery and the web UI on this machine, with an embedded broker unless
// --brokers names a real Kafka. Interrupt stops everything.
func newDevCommand(env *cli.Env) *cobra.Command {
	var cfg dev.Config
	var logLevel string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the example mesh, discovery and the web UI on this machine",
		Long: `Dev starts, in one process: an embedded Kafka-protocol broker (kfake; or a
real Kafka with --brokers), the example service (examples/devices) with
simulated devices feeding its sources, kafmesh discover scraping it, and the
web UI. It prints the UI's address and what runs; Ctrl-C stops everything.
Nothing is needed but this binary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			err := dev.Run(cmd.Context(), cfg, func(info dev.Info) { dev.WriteBanner(env.Stdout, info, cfg) })
			if err == nil {
				fmt.Fprintln(env.Stdout, "kafmesh dev: stopped.")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Brokers, "brokers", nil, "real Kafka seed brokers host:port (default: an embedded broker)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP address of the web UI and the GraphQL API")
	f.StringVar(&cfg.Dir, "dir", "", "folder for the stores (default: a temporary folder, removed on exit)")
	f.IntVar(&cfg.Devices, "devices", 20, "simulated devices")
	f.DurationVar(&cfg.Interval, "interval", time.Second, "time between two heartbeats of a device")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "send the service's traces to this OpenTelemetry collector or Jaeger URL, e.g. http://localhost:4318 (default: as the OTEL_* environment says, else none)")
	f.StringVar(&cfg.OTLPProtocol, "otlp-protocol", "http/protobuf", "protocol of --otlp-endpoint: http/protobuf or grpc")
	return cmd
}
