package protoc

import (
	"os"
	"path/filepath"
	"testing"
)

// writeTree writes files (slash-separated name → content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleTree is a small but complete message tree: a WKT import, a nested
// message, an enum, a map, a cross-directory import and a service with
// every kind of rpc.
var sampleTree = map[string]string{
	"kafmesh/deviceId/heartbeat.proto": `syntax = "proto3";
package kafmesh.deviceId;

import "google/protobuf/timestamp.proto";

// Heartbeat is sent by a device every few seconds.
message Heartbeat {
  google.protobuf.Timestamp time = 1;
  Status status = 2;
  message Location {
    double lat = 1;
    double lng = 2;
  }
  Location location = 3;
  map<string, int64> counters = 4;
}

enum Status {
  STATUS_UNKNOWN = 0;
  STATUS_OK = 1;
  STATUS_FAILING = 2;
}
`,
	"kafmesh/deviceId/details.proto": `syntax = "proto3";
package kafmesh.deviceId;

message Details {
  string name = 1;
}
`,
	"kafmesh/api/v1/devices.proto": `syntax = "proto3";
package kafmesh.api.v1;

import "kafmesh/deviceId/heartbeat.proto";

message GetRequest {
  string id = 1;
}

message Count {
  int64 n = 1;
}

// Devices serves device data.
service Devices {
  // Get returns the last heartbeat of a device.
  rpc Get(GetRequest) returns (kafmesh.deviceId.Heartbeat);
  // Watch streams heartbeats as they arrive.
  rpc Watch(GetRequest) returns (stream kafmesh.deviceId.Heartbeat);
  rpc Upload(stream kafmesh.deviceId.Heartbeat) returns (Count);
  rpc Echo(stream GetRequest) returns (stream GetRequest);
  rpc Old(GetRequest) returns (Count) {
    option deprecated = true;
  }
}
`,
}
