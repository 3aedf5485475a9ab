// Package rules checks the generated Prometheus rules and Grafana queries
// with Prometheus's own parsers. It is a module of its own so that
// Prometheus's dependencies never enter kafmesh's go.sum; scripts/test.sh
// runs it.
package rules

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// listed reads ../metrics.txt: the metric families the generator found in
// the dashboards and rules, each checked by its tests to be defined by the
// runtime or discover and present on a running service's /metrics.
func listed(t *testing.T) map[string]bool {
	f, err := os.Open("../metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			names[l] = true
		}
	}
	return names
}

// metricsIn parses expr as PromQL and returns the metric names it selects,
// histogram series folded into their family.
func metricsIn(t *testing.T, where, expr string) []string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if base, ok := strings.CutSuffix(name, suf); ok && strings.HasSuffix(base, "_seconds") {
					name = base
				}
			}
			names = append(names, name)
		}
		return nil
	})
	return names
}

func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile("../prometheus/kafmesh-alerts.yaml", false, model.LegacyValidation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.Fatal("no rule groups")
	}
	known := listed(t)
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("alert %s has no summary or severity", r.Alert)
			}
			names := metricsIn(t, r.Alert, r.Expr)
			if len(names) == 0 {
				t.Errorf("alert %s selects no metric", r.Alert)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("alert %s names %s, which metrics.txt (checked against the code) lacks", r.Alert, n)
				}
			}
		}
	}
	for _, want := range []string{"KafmeshProcessorLagGrowing", "KafmeshDeadLetters", "KafmeshRestoreStuck", "KafmeshTargetDown", "KafmeshScrapeFailures"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

func TestDashboardQueries(t *testing.T) {
	known := listed(t)
	for _, file := range []string{"../grafana/kafmesh-services.json", "../grafana/kafmesh-discover.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		queries := 0
		for _, p := range d.Panels {
			for _, q := range p.Targets {
				queries++
				// Grafana replaces $service before Prometheus sees the query.
				expr := strings.ReplaceAll(q.Expr, "$service", ".*")
				for _, n := range metricsIn(t, file+": "+p.Title, expr) {
					if !known[n] {
						t.Errorf("%s: panel %q names %s, which metrics.txt lacks", file, p.Title, n)
					}
				}
			}
		}
		if queries < 5 {
			t.Errorf("%s has only %d queries", file, queries)
		}
	}
}
