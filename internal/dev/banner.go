package dev

import (
	"cmp"
	"fmt"
	"io"
	"strings"
)

// WriteBanner tells the user what runs where and what to try first.
func WriteBanner(w io.Writer, info Info, cfg Config) {
	cfg.defaults()
	kafka := "Kafka " + strings.Join(info.Brokers, ",")
	if info.Embedded {
		kafka = "embedded Kafka-protocol broker (kfake, in this process) at " + strings.Join(info.Brokers, ",")
	}
	traces := ""
	if info.Traces != "" {
		traces = fmt.Sprintf("  traces        every record and gRPC call, as OTLP (%s) to %s\n", cmp.Or(cfg.OTLPProtocol, "http/protobuf"), info.Traces)
	}
	fmt.Fprintf(w, `kafmesh dev: the example mesh is running.

  web UI        %s
  GraphQL       %squery (POST, websockets)
  broker        %s
  service       kafmesh (examples/devices), gRPC on %s: ping, discovery, watch, gateway
  traffic       %d simulated devices, a heartbeat each every %s, through the service's sources
  discovery     scrapes %s every %s into %s
%s
Try: open the UI, click the service, then a component; on the processor
"heartbeat enricher", watch key 1 to see each heartbeat of device 1 go through it.
Ctrl-C stops everything.
`, info.URL, info.URL, kafka, info.Service, cfg.Devices, cfg.Interval, info.Service, cfg.ScrapeInterval, info.Dir, traces)
}
