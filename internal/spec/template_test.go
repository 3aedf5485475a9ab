package spec

import (
	"strings"
	"testing"
	"text/template"
)

// TestModelInTemplates renders the good service through text/template the
// way a code generator would: fields and methods are reachable without
// helper functions.
func TestModelInTemplates(t *testing.T) {
	svc := loadGood(t)
	tmpl := template.Must(template.New("").Parse(`
{{- range .Components }}{{ $c := . }}{{ range .Processors -}}
{{ $c.Package }}.{{ .GoName }} group={{ .Group }}{{ if .Persistence }} state={{ .StateTopic }}{{ end }}
{{ range .Inputs }}  input {{ .GoName }} {{ .Topic }} {{ .Message }} owned={{ if .Settings }}{{ .Settings.Partitions }}{{ else }}no{{ end }}
{{ end }}{{ range .Lookups }}  lookup {{ .GoName }} {{ .Topic }} raw={{ .IsRaw }}
{{ end }}{{ end }}{{ end -}}
{{ range .OwnedTopics }}topic {{ .Name }} {{ .Settings.Partitions }} {{ .Settings.Compact }}
{{ end }}`))
	var b strings.Builder
	if err := tmpl.Execute(&b, svc); err != nil {
		t.Fatal(err)
	}
	want := `details.DetailsEnricher group=kafmesh.details.detailsEnricher state=kafmesh.details.detailsEnricher-table
  input DeviceIDDetails kafmesh.deviceId.details kafmesh.deviceId.Details owned=20
  lookup OtherDeviceIDDetails other.deviceId.details raw=false
heartbeats.HeartbeatEnricher group=deviceId.enrichedHeartbeat state=deviceId.enrichedHeartbeat-table
  input DeviceIDHeartbeat kafmesh.deviceId.heartbeat kafmesh.deviceId.Heartbeat owned=10
  lookup CustomerIDDetails kafmesh.customerId.details raw=false
topic deviceId.enrichedHeartbeat-table 10 true
topic kafmesh.customerId.details 10 true
topic kafmesh.customerId.egressEndpoint 10 true
topic kafmesh.details.detailsEnricher-table 20 true
topic kafmesh.details.enriched 20 false
topic kafmesh.deviceId.customer 10 true
topic kafmesh.deviceId.details 20 false
topic kafmesh.deviceId.enrichedHeartbeat 10 false
topic kafmesh.deviceId.heartbeat 10 false
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
