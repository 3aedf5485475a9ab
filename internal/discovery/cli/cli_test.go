package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/testcert"
)

func TestEnvironmentVariablesSetUnsetFlags(t *testing.T) {
	cmd := NewCommand(io.Discard)
	env := map[string]string{
		"KAFMESH_DISCOVER_SCRAPE_INTERVAL": "30s",
		"KAFMESH_DISCOVER_TARGET":          "a:1,b:2",
		"KAFMESH_DISCOVER_LISTEN":          ":9999",
		"KUBECONFIG":                       "/tmp/kc",
	}
	if err := cmd.Flags().Parse([]string{"--listen", ":7000"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(cmd.Flags(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	get := func(name string) string { return cmd.Flags().Lookup(name).Value.String() }
	if get("scrape-interval") != "30s" || get("target") != "[a:1,b:2]" || get("kubeconfig") != "/tmp/kc" {
		t.Errorf("from env: interval %s targets %s kubeconfig %s", get("scrape-interval"), get("target"), get("kubeconfig"))
	}
	if get("listen") != ":7000" {
		t.Errorf("the command line must win over the environment: listen %s", get("listen"))
	}
	err := applyEnv(NewCommand(io.Discard).Flags(), func(k string) (string, bool) {
		return "soon", k == "KAFMESH_DISCOVER_TIMEOUT"
	})
	if err == nil || !strings.Contains(err.Error(), `KAFMESH_DISCOVER_TIMEOUT="soon"`) {
		t.Errorf("bad env value: %v", err)
	}
	if EnvName("max-query-depth") != "KAFMESH_DISCOVER_MAX_QUERY_DEPTH" {
		t.Error(EnvName("max-query-depth"))
	}
}

func TestRefusesToStartWithoutTargetsOrWithBadOnes(t *testing.T) {
	for args, want := range map[string]string{
		"":                                  "no targets",
		"--target nohost":                   `--target #1 "nohost"`,
		"--target a:1 --store mongodb://x":  "want an SQLite file path or a neo4j://",
		"--target a:1 --log-level loud":     "--log-level",
		"--target a:1 --scrape-interval 0s": "must be positive",
	} {
		cmd := NewCommand(io.Discard)
		cmd.SetArgs(append(strings.Fields(args), "--store", filepath.Join(t.TempDir(), "m.db")))
		if strings.Contains(args, "--store") {
			cmd.SetArgs(strings.Fields(args))
		}
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", args, err, want)
		}
	}
}

// discover runs the real command until stop is called; it returns the
// base URL once the server listens.
func discover(t *testing.T, args ...string) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := NewCommand(io.Discard)
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		cancel()
		t.Fatalf("discover exited: %v", <-done)
	}
	addr := strings.TrimPrefix(lines.Text(), "kafmesh discover listening on ")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("discover: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("discover did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + addr, stop
}

func gql(t *testing.T, url, query string, into any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	resp, err := http.Post(url+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("%s: %v %v", query, err, out.Errors)
	}
	if err := json.Unmarshal(out.Data, into); err != nil {
		t.Fatal(err)
	}
}

type meshView struct {
	Services []struct {
		Name       string
		DependsOn  []struct{ Name string }
		Components []struct {
			Name       string
			Processors []struct{ Name string }
			Sinks      []struct{ Name string }
		}
	}
	Pods []struct {
		ID        string
		Healthy   bool
		FirstSeen string
		LastError *string
	}
}

const meshQuery = `{ services { name dependsOn { name } components { name processors { name } sinks { name } } } pods { id healthy firstSeen lastError } }`

// waitMesh polls until every service in want shows, or fails after 20 s.
func waitMesh(t *testing.T, url string, services int) meshView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var m meshView
		gql(t, url, meshQuery, &m)
		if len(m.Services) >= services {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("mesh %+v, want %d services", m, services)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The command end to end: static targets scraped, the whole mesh in
// GraphQL within one interval, history kept across a restart, a
// re-deployed definition shown, a vanished target removed.
func TestDiscoverEndToEnd(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	db := filepath.Join(t.TempDir(), "mesh.db")
	args := []string{"--listen", "127.0.0.1:0", "--store", db, "--scrape-interval", "200ms", "--timeout", "2s",
		"--target", devices.Addr, "--target", alerts.Addr}

	url, stop := discover(t, args...)
	m := waitMesh(t, url, 2)
	if m.Services[0].Name != "alerts" || m.Services[0].DependsOn[0].Name != "devices" || m.Services[1].Name != "devices" || len(m.Services[1].Components) != 2 {
		t.Fatalf("mesh %+v", m)
	}
	if len(m.Pods) != 2 || !m.Pods[0].Healthy || !m.Pods[1].Healthy {
		t.Fatalf("pods %+v", m.Pods)
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz %v %v", resp, err)
	}
	resp.Body.Close()
	firstSeen := map[string]string{}
	for _, p := range m.Pods {
		firstSeen[p.ID] = p.FirstSeen
	}
	stop()

	// Restarted on the same file: the history is there at once.
	url, stop = discover(t, args...)
	var again meshView
	gql(t, url, meshQuery, &again)
	if len(again.Services) != 2 {
		t.Fatalf("after restart, before any scrape: %+v", again)
	}
	for _, p := range again.Pods {
		if firstSeen[p.ID] != p.FirstSeen {
			t.Errorf("pod %s first seen %s after restart, was %s", p.ID, p.FirstSeen, firstSeen[p.ID])
		}
	}

	// devices is re-deployed without its sink.
	v2 := meshtest.Devices()
	v2.Components[0].Sinks = nil
	devices.SetService(v2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var m meshView
		gql(t, url, meshQuery, &m)
		if len(m.Services) == 2 && len(m.Services[1].Components[1].Sinks) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("re-deployed definition never shown: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	// Restarted without alerts: it is removed after the first round.
	url, _ = discover(t, "--listen", "127.0.0.1:0", "--store", db, "--scrape-interval", "200ms", "--target", devices.Addr)
	deadline = time.Now().Add(20 * time.Second)
	for {
		var m meshView
		gql(t, url, meshQuery, &m)
		if len(m.Services) == 1 && len(m.Pods) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vanished target never removed: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Targets that serve TLS: scraped with --target-ca; without TLS, or with
// TLS but an unknown CA, they are recorded as failing; a CA file without a
// certificate is refused at start.
func TestDiscoverTargetsOverTLS(t *testing.T) {
	cert, certPEM := testcert.SelfSigned(t)
	devices := meshtest.Serve(t, meshtest.Devices(), meshtest.WithTLS(cert))
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(store string, extra ...string) []string {
		return append([]string{"--listen", "127.0.0.1:0", "--store", filepath.Join(dir, store), "--scrape-interval", "200ms",
			"--timeout", "2s", "--target", devices.Addr}, extra...)
	}

	url, _ := discover(t, args("tls.db", "--target-ca", ca)...)
	if m := waitMesh(t, url, 1); m.Services[0].Name != "devices" || len(m.Pods) != 1 || !m.Pods[0].Healthy {
		t.Fatalf("over TLS: %+v", m)
	}

	for name, c := range map[string]struct {
		extra []string
		err   string
	}{
		"plaintext":  {nil, ""},
		"unknown CA": {[]string{"--target-tls"}, "certificate"}, // the system's roots do not sign it
	} {
		url, _ := discover(t, args(strings.ReplaceAll(name, " ", "-")+".db", c.extra...)...)
		deadline := time.Now().Add(20 * time.Second)
		for {
			var m meshView
			gql(t, url, meshQuery, &m)
			if len(m.Pods) == 1 && m.Pods[0].LastError != nil {
				if m.Pods[0].Healthy || len(m.Services) != 0 || !strings.Contains(*m.Pods[0].LastError, c.err) {
					t.Fatalf("%s: a target it cannot talk to shows as %+v (error %q)", name, m, *m.Pods[0].LastError)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no failing pod recorded: %+v", name, m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	url, _ = discover(t, args("insecure.db", "--target-tls-skip-verify")...)
	if m := waitMesh(t, url, 1); !m.Pods[0].Healthy {
		t.Fatalf("with verification skipped: %+v", m)
	}

	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := NewCommand(io.Discard)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args("bad.db", "--target-ca", notPEM))
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "--target-ca "+notPEM+": no PEM certificate") {
		t.Fatalf("a CA file without a certificate: %v", err)
	}
}
