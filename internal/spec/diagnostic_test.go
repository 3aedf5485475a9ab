package spec

import (
	"strings"
	"testing"
)

func TestDiagnosticsSortAndFormat(t *testing.T) {
	ds := Diagnostics{
		{Severity: Warning, Position: Position{File: "b.yaml", Line: 1, Col: 1}, Message: "w"},
		{Severity: Error, Position: Position{File: "a.yaml", Line: 10, Col: 2}, Message: "late"},
		{Severity: Error, Position: Position{File: "a.yaml", Line: 2, Col: 9}, Message: "early"},
		{Severity: Error, Position: Position{File: "a.yaml", Line: 2, Col: 9}, Message: "early"},
		{Severity: Error, Position: Position{File: "c.proto"}, Message: "unreadable"},
	}
	ds.Sort()
	want := "a.yaml:2:9: early\na.yaml:10:2: late\nb.yaml:1:1: warning: w\nc.proto: unreadable\n"
	if got := ds.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !ds.HasErrors() || len(ds.Warnings()) != 1 || len(ds.Errors()) != 3 {
		t.Errorf("HasErrors=%v warnings=%d errors=%d", ds.HasErrors(), len(ds.Warnings()), len(ds.Errors()))
	}
	err := ds.Err()
	if err == nil || strings.Contains(err.Error(), "warning") || !strings.HasPrefix(err.Error(), "a.yaml:2:9: early\n") {
		t.Errorf("Err() = %v", err)
	}
	if (Diagnostics{ds[2]}).Err() != nil {
		t.Error("warnings alone must not make an error")
	}
}
