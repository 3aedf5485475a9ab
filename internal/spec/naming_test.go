package spec

import "testing"

// The expectations below are the 2021 generator's: topic, group and Go
// names of existing deployments depend on them.
func TestCaseConversion(t *testing.T) {
	for _, tc := range []struct{ in, upper, lower string }{
		{"test_case", "TestCase", "testCase"},
		{"test.case", "TestCase", "testCase"},
		{"TestCase", "TestCase", "testCase"},
		{" test  case ", "TestCase", "testCase"},
		{"AnyKind of_string", "AnyKindOfString", "anyKindOfString"},
		{"odd-fix", "OddFix", "oddFix"},
		{"numbers2And55with000", "Numbers2And55With000", "numbers2And55With000"},
		{"ID", "Id", "id"},
		{"deviceId", "DeviceId", "deviceId"},
		{"enplug service", "EnplugService", "enplugService"},
		{"heartbeat enricher", "HeartbeatEnricher", "heartbeatEnricher"},
		{"v1api", "V1Api", "v1Api"},
		{"", "", ""},
	} {
		if got := upperCamel(tc.in); got != tc.upper {
			t.Errorf("upperCamel(%q) = %q, want %q", tc.in, got, tc.upper)
		}
		if got := lowerCamel(tc.in); got != tc.lower {
			t.Errorf("lowerCamel(%q) = %q, want %q", tc.in, got, tc.lower)
		}
	}
}

func TestRefNames(t *testing.T) {
	for _, tc := range []struct{ ref, prefix, topic, message, goName string }{
		{"deviceId.heartbeat", "kafmesh", "kafmesh.deviceId.heartbeat", "kafmesh.deviceId.Heartbeat", "DeviceIDHeartbeat"},
		{"deviceId.enrichedHeartbeat", "kafmesh", "kafmesh.deviceId.enrichedHeartbeat", "kafmesh.deviceId.EnrichedHeartbeat", "DeviceIDEnrichedHeartbeat"},
		{"deviceId.Customer", "kafmesh", "kafmesh.deviceId.customer", "kafmesh.deviceId.Customer", "DeviceIDCustomer"},
		{"device.Api", "testService", "testService.device.api", "testService.device.Api", "DeviceAPI"},
		{"other.deviceId.details", "kafmesh", "other.deviceId.details", "other.deviceId.Details", "OtherDeviceIDDetails"},
		{"a.b_c.device_id", "kafmesh", "a.bC.deviceId", "a.bC.DeviceId", "ABCDeviceID"},
	} {
		ref, problem := parseRef(tc.ref)
		if problem != "" {
			t.Fatalf("parseRef(%q): %s", tc.ref, problem)
		}
		if got := ref.fullName(tc.prefix); got != tc.topic {
			t.Errorf("topic of %q = %q, want %q", tc.ref, got, tc.topic)
		}
		if got := ref.protoPackage(tc.prefix) + "." + ref.protoName(); got != tc.message {
			t.Errorf("message of %q = %q, want %q", tc.ref, got, tc.message)
		}
		if got := ref.goName(); got != tc.goName {
			t.Errorf("Go name of %q = %q, want %q", tc.ref, got, tc.goName)
		}
	}
}

func TestPartNames(t *testing.T) {
	for _, tc := range []struct{ in, goName, group string }{
		{"heartbeat enricher", "HeartbeatEnricher", "heartbeatEnricher"},
		{"Enriched Heartbeat Warehouse Sink", "EnrichedHeartbeatWarehouseSink", "enrichedHeartbeatWarehouseSink"},
		{"current health", "CurrentHealth", "currentHealth"},
		{"egress", "Egress", "egress"},
	} {
		if got := partGoName(tc.in); got != tc.goName {
			t.Errorf("partGoName(%q) = %q, want %q", tc.in, got, tc.goName)
		}
		if got := componentGroupWord(tc.in); got != tc.group {
			t.Errorf("componentGroupWord(%q) = %q, want %q", tc.in, got, tc.group)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"inputs", "inptus", 1}, // a swap counts one
		{"inputs", "inputs", 0},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := closest("viewsources", componentKeys, 1); len(got) != 1 || got[0] != "viewSources" {
		t.Errorf("closest(viewsources) = %v", got)
	}
	if got := closest("colour", defaultsKeys, 1); len(got) != 0 {
		t.Errorf("closest(colour) = %v, want nothing", got)
	}
}
