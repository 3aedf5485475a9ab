package targets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

func TestParseTargetsFile(t *testing.T) {
	ts, err := targets.ParseTargets("t.txt", []byte("# mesh\n\n127.0.0.1:9000\n  devices.internal:443   devices primary\n[::1]:8443\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := addrs(ts)
	want := []string{"Pod:static/127.0.0.1:9000=127.0.0.1:9000", "Pod:static/devices.internal:443=devices.internal:443", "Pod:static/%5B::1%5D:8443=[::1]:8443"}
	if !slices.Equal(got, want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	if ts[1].Name != "devices primary" || ts[0].Name != "127.0.0.1:9000" || ts[0].Source != "static" {
		t.Errorf("names %+v", ts)
	}
	for content, where := range map[string]string{
		"127.0.0.1:9000\n   nohost\n": "t.txt:2:4:",
		"host:http\n":                 "t.txt:1:1:",
		":443\n":                      "t.txt:1:1:",
	} {
		_, err := targets.ParseTargets("t.txt", []byte(content))
		if err == nil || !strings.HasPrefix(err.Error(), where) {
			t.Errorf("%q: err %v, want it to start with %s", content, err, where)
		}
	}
}

func TestStaticRereadsItsFileAndKeepsTheLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "targets")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("127.0.0.1:1001\n")
	src, err := targets.NewStatic([]string{"127.0.0.1:2000"}, path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ts, err := src.Targets(ctx)
	if err != nil || len(ts) != 2 {
		t.Fatalf("targets %v, %v", ts, err)
	}
	write("127.0.0.1:1001\n127.0.0.1:1002\n")
	if ts, _ := src.Targets(ctx); len(ts) != 3 {
		t.Fatalf("after edit: %v", addrs(ts))
	}
	write("127.0.0.1:1001\nbroken line\n")
	ts, err = src.Targets(ctx)
	if err == nil || !strings.Contains(err.Error(), ":2:1:") || len(ts) != 3 {
		t.Fatalf("broken file: %v, %v (want the last good 3 targets and an error)", addrs(ts), err)
	}
	_, complete, errs := targets.Collect(ctx, []targets.Source{src})
	var se *targets.SourceError
	if complete || len(errs) != 1 || !errors.As(errs[0], &se) {
		t.Errorf("Collect with a broken file: complete %v, errs %v", complete, errs)
	}
	if _, err := targets.NewStatic([]string{"nope"}, ""); err == nil || !strings.Contains(err.Error(), `--target #1 "nope"`) {
		t.Errorf("bad --target: %v", err)
	}
}

func TestCollectDeduplicatesAcrossSources(t *testing.T) {
	a, _ := targets.NewStatic([]string{"127.0.0.1:1", "127.0.0.1:2"}, "")
	b, _ := targets.NewStatic([]string{"127.0.0.1:2", "127.0.0.1:3"}, "")
	all, complete, errs := targets.Collect(context.Background(), []targets.Source{a, b})
	if !complete || len(errs) != 0 || len(all) != 3 {
		t.Fatalf("Collect = %v, %v, %v", addrs(all), complete, errs)
	}
}
