package web_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// The namespace menu lists the pods' namespaces and shows only the
// services running there; the choice is kept in the link.
func TestNamespaceFilterShowsOnlyItsServices(t *testing.T) {
	url := seededServer(t, 16, 2) // svc000..svc015, pods in team0..team7 (i % 8)
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/")
	if n := len(b.Graph(t).Nodes); n != 16 {
		t.Fatalf("map shows %d services, want 16", n)
	}
	options := webtest.Eval[[]string](t, b, `[...document.querySelectorAll('[data-testid="namespace-filter"] option')].map(o => o.value)`)
	if want := []string{"", "team0", "team1", "team2", "team3", "team4", "team5", "team6", "team7"}; !slices.Equal(options, want) {
		t.Errorf("namespace options %q, want %q", options, want)
	}
	before := webtest.Eval[int](t, b, `window.kafmeshUI.renders`)
	webtest.Eval[bool](t, b, `(() => {
		const s = document.querySelector('[data-testid="namespace-filter"]');
		s.value = "team3";
		return s.dispatchEvent(new Event("change"));
	})()`)
	b.WaitFor(t, "the filtered map", `window.kafmeshUI.ready && window.kafmeshUI.renders > `+strconv.Itoa(before), 10*time.Second)
	ids := b.Graph(t).NodeIDs()
	slices.Sort(ids)
	if want := []string{"Service:svc003", "Service:svc011"}; !slices.Equal(ids, want) {
		t.Errorf("team3 shows %v, want %v", ids, want)
	}
	if hash := webtest.Eval[string](t, b, `location.hash`); hash != "#/?ns=team3" {
		t.Errorf("hash %q", hash)
	}
	b.Screenshot(t, "map-namespace")
	b.NoPageErrors(t)
}
