package cli

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/internal/export"
)

// NewExportCommand returns `export asyncapi|backstage|openlineage [DEFINITION]`.
func NewExportCommand(env *Env) *cobra.Command {
	var opts export.Options
	var eventTime string
	cmd := &cobra.Command{
		Use:       "export asyncapi|backstage|openlineage [DEFINITION]",
		Short:     "Describe the service as AsyncAPI 3.0, a Backstage catalog or OpenLineage events",
		ValidArgs: export.Formats,
		Long: `Export loads and checks the definition (with its .proto files) and prints, on
standard output:

  asyncapi     the service's AsyncAPI 3.0 document (JSON): a channel per topic,
               a send or receive operation per part and topic, each message
               with its protobuf schema (application/x-protobuf) and a JSON
               Schema rendering, Kafka bindings (partitions, key, group ids)
  backstage    Backstage catalog entities (YAML): a Component, an API of type
               asyncapi and a Resource per topic, with providesApis and dependsOn
  openlineage  OpenLineage run events (JSON Lines), one per part: the job is the
               part, its datasets the topics, with schema facets

A running discover serves the same for the whole mesh at /export/<format>.
docs/contracts.md describes each format.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := args[0]
			if !slices.Contains(export.Formats, format) {
				return fmt.Errorf("unknown format %q; use asyncapi, backstage or openlineage", format)
			}
			at := time.Now()
			if eventTime != "" {
				t, err := time.Parse(time.RFC3339, eventTime)
				if err != nil {
					return fmt.Errorf("--event-time %q: want RFC 3339 (2026-01-02T15:04:05Z)", eventTime)
				}
				at = t
			}
			def, err := loadDefinition(cmd.Context(), env, args[1:], true)
			if err != nil {
				return err
			}
			body, _, err := export.Render(export.FromSpec(def.service, def.protos), format, "", at, opts)
			if err != nil {
				return err
			}
			_, err = env.Stdout.Write(body)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Version, "api-version", "", "AsyncAPI info.version (default 0.0.0)")
	f.StringVar(&opts.Owner, "owner", "", "Backstage owner of the entities (default unknown)")
	f.StringVar(&opts.Lifecycle, "lifecycle", "", "Backstage lifecycle (default production)")
	f.StringVar(&opts.System, "system", "", "Backstage system the entities belong to")
	f.StringVar(&opts.KafkaNamespace, "kafka-namespace", "", "OpenLineage dataset namespace of the topics (default kafka://kafmesh; use kafka://<bootstrap host:port>)")
	f.StringVar(&opts.JobNamespace, "job-namespace", "", "OpenLineage job namespace (default kafmesh)")
	f.StringVar(&eventTime, "event-time", "", "OpenLineage eventTime, RFC 3339 (default now)")
	return cmd
}
