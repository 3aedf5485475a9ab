package codegen

import (
	"strings"
	"testing"
	"time"
)

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"DeviceIDHeartbeatSource":        "device_id_heartbeat_source",
		"Enricher":                       "enricher",
		"EnrichedHeartbeatWarehouseSink": "enriched_heartbeat_warehouse_sink",
		"HTTPServer":                     "http_server",
		"Blob2Thumbnail":                 "blob2_thumbnail",
		"CustomerIDDetailsView":          "customer_id_details_view",
		"APIGatewayViewSource":           "api_gateway_view_source",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLowerFirst(t *testing.T) {
	for in, want := range map[string]string{
		"HeartbeatEnricher": "heartbeatEnricher",
		"IDMapper":          "idMapper",
		"ID":                "id",
		"X":                 "x",
		"already":           "already",
		"DeviceIDDetails":   "deviceIDDetails",
	} {
		if got := lowerFirst(in); got != want {
			t.Errorf("lowerFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDurationExpr(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:          "24 * time.Hour",
		time.Hour:               "time.Hour",
		90 * time.Minute:        "90 * time.Minute",
		1500 * time.Millisecond: "1500 * time.Millisecond",
		-time.Millisecond:       "-time.Millisecond",
		1500:                    "1500",
	} {
		if got := durationExpr(d); got != want {
			t.Errorf("durationExpr(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFileDescriptorVar(t *testing.T) {
	for in, want := range map[string]string{
		"kafmesh/deviceId/heartbeat.proto":     "File_kafmesh_deviceId_heartbeat_proto",
		"kafmesh/gateway/v1/gateway-api.proto": "File_kafmesh_gateway_v1_gateway_api_proto",
		"1st/x.proto":                          "File__1st_x_proto",
	} {
		if got := fileDescriptorVar(in); got != want {
			t.Errorf("fileDescriptorVar(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReflow(t *testing.T) {
	in := strings.Join([]string{
		"// Enricher handles the inputs of processor \"enricher\", one method per input, and this line is long.",
		"//",
		"// Two",
		"// short lines.",
		"// - a list item",
		"// - another",
		"//\tcode stays",
		"type X interface {",
		"\t// Method does a thing that needs a rather long explanation, longer than a line can hold.",
		"\tMethod() // trailing comments stay as they are, however long they are, really",
		"}",
	}, "\n")
	want := strings.Join([]string{
		"// Enricher handles the inputs of processor \"enricher\", one method per input,",
		"// and this line is long.",
		"//",
		"// Two short lines.",
		"// - a list item",
		"// - another",
		"//\tcode stays",
		"type X interface {",
		"\t// Method does a thing that needs a rather long explanation, longer than a",
		"\t// line can hold.",
		"\tMethod() // trailing comments stay as they are, however long they are, really",
		"}",
	}, "\n")
	if got := reflow(in); got != want {
		t.Errorf("reflow:\n%s\nwant:\n%s", got, want)
	}
}

func TestAliases(t *testing.T) {
	paths := []string{"m/models/kafmesh/deviceId", "m/models/other/deviceId", "m/models/x/context", "m/models/y/deviceId"}
	names := map[string]string{}
	for _, p := range paths {
		names[p] = p[strings.LastIndexByte(p, '/')+1:]
	}
	got := aliases(paths, names, func(n string) bool { return n == "context" })
	want := map[string]string{
		"m/models/kafmesh/deviceId": "deviceId",
		"m/models/other/deviceId":   "otherDeviceId",
		"m/models/x/context":        "xContext",
		"m/models/y/deviceId":       "yDeviceId",
	}
	for p, a := range want {
		if got[p] != a {
			t.Errorf("alias of %s = %q, want %q", p, got[p], a)
		}
	}
}
