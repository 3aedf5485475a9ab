package runner_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/buildinfo"
	"github.com/kafmesh/kafmesh/runner"
)

// Every service serves kafmesh_build_info = 1 on its own registry, labelled
// with what `kafmesh version` reports for the same binary.
func TestBuildInfoMetric(t *testing.T) {
	s, err := runner.NewService(runner.Definition{Name: "buildinfo"}, runner.WithBrokers("127.0.0.1:1"),
		runner.WithStateDir(t.TempDir()), runner.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := buildinfo.Read()
	found := 0
	for _, mf := range mfs {
		if mf.GetName() != "kafmesh_build_info" {
			continue
		}
		for _, m := range mf.GetMetric() {
			found++
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			// service is the constant label every kafmesh_* family carries.
			if labels["version"] != want.Version || labels["revision"] != want.Revision ||
				labels["goversion"] != want.GoVersion || labels["service"] != "buildinfo" || len(labels) != 4 {
				t.Errorf("labels %v, want service %q version %q revision %q goversion %q", labels, "buildinfo", want.Version, want.Revision, want.GoVersion)
			}
			if m.GetGauge().GetValue() != 1 {
				t.Errorf("value %v, want 1", m.GetGauge().GetValue())
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d kafmesh_build_info series, want 1", found)
	}
	rec := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `kafmesh_build_info{goversion="`+want.GoVersion+`"`) {
		t.Errorf("/metrics: %d, no kafmesh_build_info line:\n%.2000s", rec.Code, rec.Body.String())
	}
}
