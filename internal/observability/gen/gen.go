// Command gen writes the Grafana dashboards and Prometheus alerting rules
// under deploy/observability from the panel and alert definitions below,
// which name kafmesh's metrics. Its test checks the files are what it
// writes and that every metric they name is defined by the runtime or by
// kafmesh discover, so the shipped dashboards and rules cannot drift from
// the code.
//
//	go run ./internal/observability/gen -out deploy/observability
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// panel is one Grafana time series panel.
type panel struct {
	title, unit string
	queries     []query
}

type query struct{ expr, legend string }

// dashboard is one Grafana dashboard: a row of panels per section.
type dashboard struct {
	file, uid, title string
	sections         []section
}

type section struct {
	title  string
	panels []panel
}

// sel is the label selector every service query starts from.
const sel = `service=~"$service"`

var processorDashboard = dashboard{
	file: "grafana/kafmesh-services.json", uid: "kafmesh-services", title: "kafmesh / services",
	sections: []section{
		{"Processors", []panel{
			{"Records in per second", "ops", []query{{`sum by (service, component, part) (rate(kafmesh_processor_records_in_total{` + sel + `}[5m]))`, "{{service}} {{component}}/{{part}}"}}},
			{"Records out per second", "ops", []query{{`sum by (service, component, part, topic) (rate(kafmesh_processor_records_out_total{` + sel + `}[5m]))`, "{{component}}/{{part}} → {{topic}}"}}},
			{"Lag (records)", "short", []query{{`sum by (service, component, part, topic) (kafmesh_processor_lag_records{` + sel + `})`, "{{component}}/{{part}} {{topic}}"}}},
			{"Handler latency p50 / p99", "s", []query{
				{`histogram_quantile(0.5, sum by (service, component, part, le) (rate(kafmesh_processor_handler_seconds_bucket{` + sel + `}[5m])))`, "p50 {{component}}/{{part}}"},
				{`histogram_quantile(0.99, sum by (service, component, part, le) (rate(kafmesh_processor_handler_seconds_bucket{` + sel + `}[5m])))`, "p99 {{component}}/{{part}}"},
			}},
			{"Errors per second by outcome", "ops", []query{{`sum by (service, component, part, outcome) (rate(kafmesh_processor_errors_total{` + sel + `}[5m]))`, "{{component}}/{{part}} {{outcome}}"}}},
			{"Dead letters per second", "ops", []query{
				{`sum by (service, component, part) (rate(kafmesh_processor_errors_total{` + sel + `, outcome="dead_lettered"}[5m]))`, "processor {{component}}/{{part}}"},
				{`sum by (service, component, part) (rate(kafmesh_sink_errors_total{` + sel + `, outcome="dead_lettered"}[5m]))`, "sink {{component}}/{{part}}"},
			}},
			{"Restore: partitions still restoring", "short", []query{{`sum by (service, component, part) (kafmesh_processor_restoring_partitions{` + sel + `})`, "{{component}}/{{part}}"}}},
			{"Restore: records and duration of the last restore", "short", []query{
				{`sum by (service, component, part) (kafmesh_processor_restored_records{` + sel + `})`, "records {{component}}/{{part}}"},
				{`max by (service, component, part) (kafmesh_processor_restore_seconds{` + sel + `})`, "seconds {{component}}/{{part}}"},
			}},
			{"Commits per second", "ops", []query{{`sum by (service, component, part) (rate(kafmesh_processor_commits_total{` + sel + `}[5m]))`, "{{component}}/{{part}}"}}},
		}},
		{"Sources and sinks", []panel{
			{"Source records per second", "ops", []query{
				{`sum by (service, component, topic) (rate(kafmesh_source_records_total{` + sel + `}[5m]))`, "ok {{component}} {{topic}}"},
				{`sum by (service, component, topic) (rate(kafmesh_source_errors_total{` + sel + `}[5m]))`, "failed {{component}} {{topic}}"},
			}},
			{"Sink records per second", "ops", []query{{`sum by (service, component, part) (rate(kafmesh_sink_records_total{` + sel + `}[5m]))`, "{{component}}/{{part}}"}}},
			{"Sink flush p99", "s", []query{{`histogram_quantile(0.99, sum by (service, component, part, le) (rate(kafmesh_sink_flush_seconds_bucket{` + sel + `}[5m])))`, "{{component}}/{{part}}"}}},
			{"Sink errors per second by outcome", "ops", []query{{`sum by (service, component, part, outcome) (rate(kafmesh_sink_errors_total{` + sel + `}[5m]))`, "{{component}}/{{part}} {{outcome}}"}}},
		}},
		{"Views, view sources, view sinks", []panel{
			{"View lag (records)", "short", []query{{`sum by (service, topic) (kafmesh_view_lag_records{` + sel + `})`, "{{service}} {{topic}}"}}},
			{"Views not ready", "short", []query{{`count by (service) (kafmesh_view_ready{` + sel + `} == 0)`, "{{service}}"}}},
			{"View source and view sink syncs by result", "ops", []query{
				{`sum by (service, component, part, result) (rate(kafmesh_view_source_syncs_total{` + sel + `}[15m]))`, "source {{component}}/{{part}} {{result}}"},
				{`sum by (service, component, part, result) (rate(kafmesh_view_sink_syncs_total{` + sel + `}[15m]))`, "sink {{component}}/{{part}} {{result}}"},
			}},
			{"Watchers connected", "short", []query{{`sum by (service) (kafmesh_watch_watchers{` + sel + `})`, "{{service}}"}}},
		}},
	},
}

var discoverDashboard = dashboard{
	file: "grafana/kafmesh-discover.json", uid: "kafmesh-discover", title: "kafmesh / discover",
	sections: []section{
		{"Scraping", []panel{
			{"Scrape success ratio", "percentunit", []query{{`sum(rate(kafmesh_discover_scrapes_total{result="ok"}[5m])) / sum(rate(kafmesh_discover_scrapes_total[5m]))`, "ok"}}},
			{"Targets up / targets", "short", []query{
				{`sum(kafmesh_discover_target_up)`, "up"},
				{`max(kafmesh_discover_targets)`, "targets"},
			}},
			{"Scrape failures per second by stage", "ops", []query{{`sum by (stage) (rate(kafmesh_discover_scrape_failures_total[5m]))`, "{{stage}}"}}},
			{"Scrape latency p99 (calls and store write)", "s", []query{{`histogram_quantile(0.99, sum by (le) (rate(kafmesh_discover_scrape_duration_seconds_bucket[5m])))`, "p99"}}},
			{"Round duration p99", "s", []query{{`histogram_quantile(0.99, sum by (le) (rate(kafmesh_discover_round_duration_seconds_bucket[5m])))`, "p99"}}},
			{"Store errors per second", "ops", []query{{`sum(rate(kafmesh_discover_store_errors_total[5m]))`, "errors"}}},
			{"Store latency p99 by operation", "s", []query{{`histogram_quantile(0.99, sum by (le, operation) (rate(kafmesh_discover_store_duration_seconds_bucket[5m])))`, "{{operation}}"}}},
			{"Seconds since the last round", "s", []query{{`time() - max(kafmesh_discover_last_round_timestamp_seconds)`, "age"}}},
		}},
	},
}

// alert is one Prometheus alerting rule.
type alert struct {
	name, expr, forDur, severity, summary string
}

var alertGroups = []struct {
	name   string
	alerts []alert
}{
	{"kafmesh-services", []alert{
		{"KafmeshProcessorLagGrowing", `sum by (service, component, part) (kafmesh_processor_lag_records) > 1000 and sum by (service, component, part) (delta(kafmesh_processor_lag_records[10m])) > 0`, "10m", "warning",
			"Processor {{ $labels.component }}/{{ $labels.part }} of {{ $labels.service }} falls behind: lag {{ $value }} records and growing for 10 minutes."},
		{"KafmeshDeadLetters", `sum by (service, component, part) (increase(kafmesh_processor_errors_total{outcome="dead_lettered"}[5m])) > 0 or sum by (service, component, part) (increase(kafmesh_sink_errors_total{outcome="dead_lettered"}[5m])) > 0`, "0m", "warning",
			"{{ $labels.component }}/{{ $labels.part }} of {{ $labels.service }} dead-lettered records in the last 5 minutes (see its -dlq topic)."},
		{"KafmeshProcessorFailing", `sum by (service, component, part) (increase(kafmesh_processor_errors_total{outcome="failed"}[5m])) > 0`, "0m", "critical",
			"Processor {{ $labels.component }}/{{ $labels.part }} of {{ $labels.service }} stopped on a failed record."},
		{"KafmeshRestoreStuck", `max by (service, component, part) (kafmesh_processor_restoring_partitions) > 0`, "15m", "warning",
			"Processor {{ $labels.component }}/{{ $labels.part }} of {{ $labels.service }} has been restoring {{ $value }} partitions for 15 minutes."},
		{"KafmeshViewNotReady", `min by (service, topic) (kafmesh_view_ready) == 0`, "15m", "warning",
			"View of {{ $labels.topic }} in {{ $labels.service }} has not caught up for 15 minutes."},
	}},
	{"kafmesh-discover", []alert{
		{"KafmeshTargetDown", `kafmesh_discover_target_up == 0`, "5m", "warning",
			"kafmesh discover cannot scrape {{ $labels.target }} for 5 minutes."},
		{"KafmeshScrapeFailures", `sum by (target, stage) (rate(kafmesh_discover_scrape_failures_total[5m])) > 0`, "10m", "warning",
			"Scrapes of {{ $labels.target }} fail at {{ $labels.stage }} for 10 minutes."},
		{"KafmeshDiscoverStalled", `time() - max(kafmesh_discover_last_round_timestamp_seconds) > 600`, "5m", "warning",
			"kafmesh discover has finished no scrape round for 10 minutes."},
		{"KafmeshDiscoverStoreErrors", `sum(rate(kafmesh_discover_store_errors_total[5m])) > 0`, "10m", "warning",
			"kafmesh discover fails to write its store for 10 minutes."},
	}},
}

// render returns every generated file by its path under deploy/observability.
func render() map[string][]byte {
	return map[string][]byte{
		processorDashboard.file:          renderDashboard(processorDashboard, true),
		discoverDashboard.file:           renderDashboard(discoverDashboard, false),
		"prometheus/kafmesh-alerts.yaml": renderAlerts(),
		"metrics.txt":                    []byte("# " + header + "\n# the metric families the dashboards and alerts name\n" + strings.Join(metricsNamed(), "\n") + "\n"),
	}
}

const header = "generated by go run ./internal/observability/gen; do not edit"

func renderDashboard(d dashboard, serviceVar bool) []byte {
	type m = map[string]any
	ds := m{"type": "prometheus", "uid": "${datasource}"}
	vars := []any{m{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"}}
	if serviceVar {
		vars = append(vars, m{"name": "service", "type": "query", "datasource": ds, "label": "Service",
			"query":      m{"query": "label_values(kafmesh_processor_records_in_total, service)", "refId": "service"},
			"definition": "label_values(kafmesh_processor_records_in_total, service)",
			"includeAll": true, "multi": true, "allValue": ".*", "refresh": 2,
			"current": m{"text": "All", "value": "$__all"}})
	}
	var panels []any
	id, y := 1, 0
	for _, s := range d.sections {
		panels = append(panels, m{"id": id, "type": "row", "title": s.title, "collapsed": false, "gridPos": m{"h": 1, "w": 24, "x": 0, "y": y}, "panels": []any{}})
		id++
		y++
		for i, p := range s.panels {
			var targets []any
			for j, q := range p.queries {
				targets = append(targets, m{"refId": string(rune('A' + j)), "expr": q.expr, "legendFormat": q.legend, "datasource": ds})
			}
			panels = append(panels, m{"id": id, "type": "timeseries", "title": p.title, "datasource": ds,
				"gridPos":     m{"h": 8, "w": 12, "x": 12 * (i % 2), "y": y + 8*(i/2)},
				"fieldConfig": m{"defaults": m{"unit": p.unit}, "overrides": []any{}},
				"targets":     targets})
			id++
		}
		y += 8 * ((len(s.panels) + 1) / 2)
	}
	out := m{"uid": d.uid, "title": d.title, "description": header, "tags": []string{"kafmesh"},
		"schemaVersion": 39, "version": 1, "editable": true, "time": m{"from": "now-6h", "to": "now"},
		"refresh": "30s", "templating": m{"list": vars}, "panels": panels}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return append(b, '\n')
}

func renderAlerts() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\ngroups:\n", header)
	for _, g := range alertGroups {
		fmt.Fprintf(&b, "  - name: %s\n    rules:\n", g.name)
		for _, a := range g.alerts {
			fmt.Fprintf(&b, "      - alert: %s\n        expr: %s\n", a.name, yamlString(a.expr))
			if a.forDur != "0m" {
				fmt.Fprintf(&b, "        for: %s\n", a.forDur)
			}
			fmt.Fprintf(&b, "        labels:\n          severity: %s\n        annotations:\n          summary: %s\n", a.severity, yamlString(a.summary))
		}
	}
	return b.Bytes()
}

// yamlString quotes s as a YAML single-quoted scalar.
func yamlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// metricRef matches a kafmesh metric name in a query; histogram series
// suffixes are folded into their family.
var metricRef = regexp.MustCompile(`\bkafmesh_[a-z0-9_]+`)

// metricsNamed lists the metric families the dashboards and alerts name.
func metricsNamed() []string {
	seen := map[string]bool{}
	add := func(expr string) {
		for _, n := range metricRef.FindAllString(expr, -1) {
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if strings.HasSuffix(n, suf) && strings.HasSuffix(strings.TrimSuffix(n, suf), "_seconds") {
					n = strings.TrimSuffix(n, suf)
				}
			}
			seen[n] = true
		}
	}
	for _, d := range []dashboard{processorDashboard, discoverDashboard} {
		for _, s := range d.sections {
			for _, p := range s.panels {
				for _, q := range p.queries {
					add(q.expr)
				}
			}
		}
	}
	for _, g := range alertGroups {
		for _, a := range g.alerts {
			add(a.expr)
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
