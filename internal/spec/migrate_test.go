package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Migrate keeps the comments of what it rewrites: a component merged from
// a second file brings its parts' comments, its lists' comments and the
// file's header (marked with where it came from); a renamed key keeps its
// comments; a removed key takes only its own. The golden files under
// testdata/migrate/comments/expected are the rewritten files
// (go test -run TestMigrateKeepsComments -update rewrites them).
func TestMigrateKeepsComments(t *testing.T) {
	dir := filepath.Join("testdata", "migrate", "comments")
	in, err := filepath.Abs(filepath.Join(dir, "input"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Migrate("definition.yml", in)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(p string) string {
		r, err := filepath.Rel(in, p)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	var removed []string
	for _, p := range m.Remove {
		removed = append(removed, rel(p))
	}
	if !slices.Equal(removed, []string{"components/b.yaml"}) {
		t.Errorf("removed %v", removed)
	}
	var written []string
	for p, content := range m.Write {
		r := rel(p)
		written = append(written, r)
		golden := filepath.Join(dir, "expected", filepath.FromSlash(r))
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, content, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestMigrateKeepsComments -update to create it)", err)
		}
		if string(content) != string(want) {
			t.Errorf("%s:\n%s\nwant (%s):\n%s", r, content, golden, want)
		}
	}
	slices.Sort(written)
	if !slices.Equal(written, []string{"components/a.yaml", "components/c.yaml", "definition.yml"}) {
		t.Errorf("wrote %v", written)
	}
	// Every comment of the input survives except the one above the removed
	// key mocks.
	out := ""
	for _, c := range m.Write {
		out += string(c)
	}
	for _, f := range []string{"definition.yml", "components/a.yaml", "components/b.yaml", "components/c.yaml"} {
		b, err := os.ReadFile(filepath.Join(in, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			i := strings.Index(line, "#")
			if i < 0 || strings.Contains(line, "mocks were generated") {
				continue
			}
			if c := line[i:]; !strings.Contains(out, c) {
				t.Errorf("comment %q of %s lost", c, f)
			}
		}
	}
}

// A component's second file whose list is an alias (its anchor under a key
// the migration prunes) merges the anchored list itself: the merged file
// has no alias left without its anchor and holds the list's parts.
func TestMigrateMergesAliasedList(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"definition.yml":    "name: devices\noutput:\n  package: definitions\n  path: internal/definitions\ncomponents:\n  - ./components/*.yaml\n",
		"components/a.yaml": "name: details\nsources:\n  - message: deviceId.details\n",
		"components/b.yaml": "name: details\nshared: &audit\n  - name: audit\n    message: deviceId.audit\nsinks: *audit # the audit sink\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Migrate("definition.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	merged := string(m.Write[filepath.Join(dir, "components", "a.yaml")])
	var got struct {
		Sinks []struct{ Name, Message string }
	}
	if err := yaml.Unmarshal([]byte(merged), &got); err != nil {
		t.Fatalf("the merged file does not parse: %v\n%s", err, merged)
	}
	if len(got.Sinks) != 1 || got.Sinks[0].Name != "audit" || got.Sinks[0].Message != "deviceId.audit" {
		t.Errorf("merged sinks %+v; want the audit sink\n%s", got.Sinks, merged)
	}
	if !strings.Contains(merged, "# the audit sink") {
		t.Errorf("the alias's comment is lost:\n%s", merged)
	}
}
