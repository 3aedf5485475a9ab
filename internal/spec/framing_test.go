package spec

import (
	"context"
	"path/filepath"
	"testing"
)

// The framing: keys reach the model: the service's, and each topic's from
// whichever entry names it.
func TestFramingKeys(t *testing.T) {
	svc, diags, err := Load(context.Background(), "definition.yml", WithWorkDir(filepath.Join("testdata", "good_framing")), WithMessages(testMessages()))
	if err != nil || diags.HasErrors() {
		t.Fatalf("load: %v %v", err, diags)
	}
	if svc.Framing != "auto" {
		t.Errorf("service framing %q", svc.Framing)
	}
	if got := svc.Topic("kafmesh.deviceId.heartbeat").Framing; got != "kafmesh2021" {
		t.Errorf("heartbeat framing %q", got)
	}
	if got := svc.Topic("kafmesh.deviceId.customer").Framing; got != "" {
		t.Errorf("customer framing %q; want none (the service's applies)", got)
	}
}
