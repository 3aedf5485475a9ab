package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// A flood of per-record warnings is cut to recordLogBurst lines per window,
// and the first line of the next window says how many were left out.
func TestRecordLimiter(t *testing.T) {
	var l recordLimiter
	now := time.Unix(1000, 0)
	logged := 0
	for range 100 {
		if ok, _ := l.allow(now); ok {
			logged++
		}
	}
	if logged != recordLogBurst {
		t.Fatalf("logged %d of 100 in one window, want %d", logged, recordLogBurst)
	}
	ok, suppressed := l.allow(now.Add(recordLogWindow))
	if !ok || suppressed != 100-recordLogBurst {
		t.Fatalf("next window: ok=%v suppressed=%d, want true %d", ok, suppressed, 100-recordLogBurst)
	}
	if _, suppressed := l.allow(now.Add(recordLogWindow)); suppressed != 0 {
		t.Fatalf("suppressed counted twice: %d", suppressed)
	}
}

// warnRecord carries the record's identity and the trace of ctx, and
// limits each (part, message) separately.
func TestWarnRecord(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	s := &Service{}
	tid, _ := oteltrace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
	sid, _ := oteltrace.SpanIDFromHex("0102030405060708")
	ctx := oteltrace.ContextWithSpanContext(context.Background(), oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	r := &kgo.Record{Topic: "in", Partition: 3, Offset: 42}
	for range 50 {
		s.warnRecord(ctx, log, "g", "skipping record that failed", r, "error", "boom")
		s.warnRecord(ctx, log, "g", "dead-lettering record that failed", r)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2*recordLogBurst {
		t.Fatalf("%d lines for 100 warnings of two messages, want %d", len(lines), 2*recordLogBurst)
	}
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"topic": "in", "partition": 3.0, "offset": 42.0, "trace_id": tid.String(), "span_id": sid.String(), "error": "boom"} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, first[k], want, lines[0])
		}
	}
}

func TestTracingFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false},
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false},
	} {
		if got := tracingFromEnv(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("tracingFromEnv(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}
