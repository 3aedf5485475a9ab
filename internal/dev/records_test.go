package dev_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/dev"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// The topic browser on `kafmesh dev`: the example service's heartbeats,
// written by its simulated devices, read back through discover and decoded
// with the schema the service reports, default-valued fields kept.
func TestDevTopicBrowserDecodesTheExampleHeartbeats(t *testing.T) {
	b := webtest.NewBrowser(t) // skips without Chromium, before starting anything
	info := startDev(t, dev.Config{Devices: 3})

	b.Open(t, info.URL+"#/records/Topic%3Akafmesh.deviceId.heartbeat?n=10")
	// The devices write every few hundred ms: read again until some are there.
	deadline := time.Now().Add(30 * time.Second)
	for webtest.Eval[int](t, b, `document.querySelectorAll('[data-testid="record-json"]').length`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no decoded heartbeat within 30 s; page: %s", b.Text(t, "#page"))
		}
		time.Sleep(time.Second)
		b.Open(t, info.URL+"#/records/Topic%3Akafmesh.deviceId.heartbeat?n=10&again="+time.Now().Format("150405.000"))
	}
	if got := b.Text(t, `[data-testid="records-decoding"]`); got != "decoded as kafmesh.deviceId.Heartbeat" {
		t.Errorf("decoding %q", got)
	}
	json := b.Text(t, `[data-testid="record-json"]`)
	if !strings.Contains(json, `"isHealthy": `) || !strings.Contains(json, `"time": "`) {
		t.Errorf("heartbeat JSON lacks isHealthy (kept even when false) or time:\n%s", json)
	}
	b.Screenshot(t, "dev-records")
	b.NoPageErrors(t)
}
