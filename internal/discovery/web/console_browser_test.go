package web_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// A source has no name of its own: on its topic's page it is "Source of
// heartbeats" (its component), never "Source source", and its graph node
// says "source" once.
func TestNamelessPartHasASensibleLabel(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	url := startDiscovery(t, devices.Addr)
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/#/topic/"+escape(mesh.TopicID(meshtest.TopicHeartbeat)))
	src := "Source:devices/heartbeats/" + meshtest.TopicHeartbeat
	if got := b.Text(t, `[data-testid="producer-table"] tr[data-part="`+src+`"] td:nth-child(3)`); got != "Source of heartbeats" {
		t.Errorf("the source's part cell reads %q, want %q", got, "Source of heartbeats")
	}
	if page := b.Text(t, `#page`); strings.Contains(strings.ToLower(page), "source source") {
		t.Errorf("the page still says \"Source source\":\n%s", page)
	}
	label, _, ok := b.Graph(t).Node(src)
	if !ok {
		t.Fatalf("the topic graph lacks the source %s", src)
	}
	if strings.Count(strings.ToLower(label), "source") != 1 {
		t.Errorf("the source's graph label %q, want the kind once", label)
	}
	b.NoPageErrors(t)
}

// At 1024 px wide the component graph would be shrunk to fit until its
// labels are ~6 px; they stay at least 10 px (the graph can be panned),
// and the first part of the flow is in view.
func TestComponentGraphLabelsReadableAt1024(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	url := startDiscovery(t, devices.Addr)
	b := webtest.NewBrowser(t)
	b.Do(t, "a 1024 px window", chromedp.EmulateViewport(1024, 768))

	b.Open(t, url+"/#/component/"+escape("Component:devices/heartbeats"))
	px := webtest.Eval[float64](t, b, `window.kafmeshUI.labelPx()`)
	t.Logf("component graph labels at 1024 px: %.1f px", px)
	if px < 10 {
		t.Errorf("labels drawn at %.1f px, want at least 10", px)
	}
	src := "Source:devices/heartbeats/" + meshtest.TopicHeartbeat
	inView := webtest.Eval[bool](t, b, `(() => {
		const p = window.kafmeshUI.nodePoint(`+"`"+src+"`"+`);
		const box = document.querySelector(".graph, [data-testid=graph]") || document.body;
		const r = box.getBoundingClientRect();
		return p !== null && p.x >= r.left && p.x <= r.right && p.y >= r.top && p.y <= r.bottom;
	})()`)
	if !inView {
		t.Error("the source, where the flow starts, is not in view")
	}
	b.Screenshot(t, "component-1024")
	b.NoPageErrors(t)
}

// The search list closes when a result is opened with Enter, when the page
// changes by any other way (a link, back), and a search still on its way
// when the page changes does not reopen it.
func TestSearchDropdownClosesAfterNavigation(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	url := startDiscovery(t, devices.Addr)
	b := webtest.NewBrowser(t)
	b.Open(t, url+"/")
	const open = `!document.getElementById("search-results").hidden && document.querySelectorAll('[data-testid="search-hit"]').length > 0`
	const closed = `document.getElementById("search-results").hidden`

	b.Do(t, "search enricher", chromedp.SendKeys(chromedp.CSS(`#search`), "enricher"))
	b.WaitFor(t, "the search results", open, 5*time.Second)
	b.Do(t, "press Enter", chromedp.SendKeys(chromedp.CSS(`#search`), kb.Enter))
	b.WaitFor(t, "the processor page", `window.kafmeshUI.page === "processor" && window.kafmeshUI.ready`, 10*time.Second)
	if !webtest.Eval[bool](t, b, closed) {
		t.Error("the search list is still open on the page Enter opened")
	}

	b.Do(t, "search heartbeats", chromedp.SendKeys(chromedp.CSS(`#search`), "heartbeats"))
	b.WaitFor(t, "the search results", open, 5*time.Second)
	webtest.Eval[bool](t, b, `(history.back(), true)`)
	b.WaitFor(t, "the map again", `window.kafmeshUI.page === "map" && window.kafmeshUI.ready`, 10*time.Second)
	if !webtest.Eval[bool](t, b, closed) {
		t.Error("the search list is still open after going back")
	}

	// Type and navigate before the search (debounced) has answered.
	webtest.Eval[bool](t, b, `(() => {
		const i = document.getElementById("search");
		i.value = "devices";
		i.dispatchEvent(new Event("input"));
		location.hash = "#/pods";
		return true;
	})()`)
	time.Sleep(600 * time.Millisecond)
	if !webtest.Eval[bool](t, b, closed) {
		t.Error("a search answered after navigation reopened the list")
	}
	b.NoPageErrors(t)
}

// With --token, the UI asks for the token with a sign-in form (not an
// error page); a wrong token is said to be refused, the right one opens
// the map.
func TestTokenPromptIsASignInForm(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	url := startDiscoveryWith(t, []string{devices.Addr}, discovery.WithServerOptions(server.WithToken("open-sesame")))
	b := webtest.NewBrowser(t)

	b.Do(t, "open the UI", chromedp.Navigate(url+"/"))
	b.WaitFor(t, "the sign-in form", `document.querySelector('[data-testid="signin"]') !== null`, 10*time.Second)
	if n := webtest.Eval[int](t, b, `document.querySelectorAll('[data-state="error"], [role="alert"]').length`); n != 0 {
		t.Errorf("the token prompt shows %d error boxes, want a plain sign-in form", n)
	}
	if title := b.Text(t, `[data-testid="signin"] h2`); title != "Sign in" {
		t.Errorf("the prompt's title %q", title)
	}
	if !webtest.Eval[bool](t, b, `document.activeElement === document.querySelector('[data-testid="signin-token"]') && document.querySelector('label[for="signin-token"]') !== null`) {
		t.Error("the token field is not focused and labelled")
	}
	b.Screenshot(t, "signin")

	b.Do(t, "a wrong token", chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-token"]`), "wrong"), chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)))
	b.WaitFor(t, "the refusal", `document.querySelector('[data-testid="signin-refused"]') !== null`, 10*time.Second)

	b.Do(t, "the right token", chromedp.SendKeys(chromedp.CSS(`[data-testid="signin-token"]`), "open-sesame"), chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)))
	b.WaitFor(t, "the map", `window.kafmeshUI.page === "map" && window.kafmeshUI.ready && document.querySelector('[data-testid="signin"]') === null`, 10*time.Second)
	b.WaitFor(t, "the devices service on the map", `(window.kafmeshUI.graph() || {nodes: []}).nodes.some(n => n.id === "Service:devices")`, 10*time.Second)
}

// The map's data-flow level draws the topics between services: devices
// writes the enriched heartbeats alerts reads, so devices → topic → alerts;
// the topics a service exchanges with the outside are at its ends, state
// tables are left out, and the level is kept in the link. Choosing it from
// the services level (one box per service) switches in place.
func TestMapDataFlowLevelShowsTopicsBetweenServices(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	url := startDiscovery(t, devices.Addr, alerts.Addr)
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/")
	if n := len(b.Graph(t).Nodes); n != 2 {
		t.Fatalf("the services level shows %d nodes, want the 2 services", n)
	}
	webtest.Eval[bool](t, b, `(() => { // choose the data-flow level
		const s = document.querySelector('[data-testid="map-level"]');
		s.value = "flow";
		s.dispatchEvent(new Event("change"));
		return true;
	})()`)
	b.WaitFor(t, "the data-flow level", `location.hash.includes("level=flow") && window.kafmeshUI.ready && (window.kafmeshUI.graph() || {nodes: []}).nodes.length > 2`, 10*time.Second)

	g := b.Graph(t)
	enriched := mesh.TopicID(meshtest.TopicEnriched)
	if !g.HasEdge("Service:devices", enriched, "output") || !g.HasEdge(enriched, "Service:alerts", "input") {
		t.Errorf("no devices → %s → alerts path; edges: %+v", meshtest.TopicEnriched, g.Edges)
	}
	if _, cls, _ := g.Node(enriched); !slices.Contains(cls, "between") {
		t.Errorf("the topic between two services has classes %v, want between", cls)
	}
	if !g.HasEdge("Service:alerts", mesh.TopicID(meshtest.TopicAlerts), "output") {
		t.Errorf("alerts' own output topic is not at its end; edges: %+v", g.Edges)
	}
	if _, _, ok := g.Node(mesh.TopicID(meshtest.TopicState)); ok {
		t.Error("the enricher's state table is on the data-flow map")
	}
	b.Screenshot(t, "map-flow")

	// A link with level=flow opens at that level.
	b.Open(t, url+"/?x=1#/?level=flow")
	if _, _, ok := b.Graph(t).Node(enriched); !ok {
		t.Error("a link with level=flow does not draw the topics")
	}
	b.NoPageErrors(t)
}
