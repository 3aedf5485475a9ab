package runner

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// Per-record warnings (retries, skips, dead letters) are rate limited per
// part and message: at most recordLogBurst lines in every recordLogWindow.
// The first line logged after lines were suppressed carries their count
// ("suppressed"); the error metrics count every record regardless.
const (
	recordLogBurst  = 10
	recordLogWindow = 10 * time.Second
)

// recordLimiter is the rate limit of one (part, message) pair.
type recordLimiter struct {
	mu         sync.Mutex
	start      time.Time // of the current window
	logged     int       // lines logged in the current window
	suppressed int       // lines suppressed since the last logged line
}

// allow reports whether a line may be logged at now, and if so how many
// were suppressed before it.
func (l *recordLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= recordLogWindow {
		l.start, l.logged = now, 0
	}
	if l.logged >= recordLogBurst {
		l.suppressed++
		return false, 0
	}
	l.logged++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// warnRecord logs a warning about record r at most recordLogBurst times per
// recordLogWindow for each (part, msg), with the record's identity (topic,
// partition, offset), the trace and span ids when ctx carries a span, the
// count of lines suppressed since the last one, and attrs.
func (s *Service) warnRecord(ctx context.Context, log *slog.Logger, part, msg string, r *kgo.Record, attrs ...any) {
	if ctx != nil && s.obs.tracer != nil {
		oteltrace.SpanFromContext(ctx).AddEvent(msg, oteltrace.WithAttributes(attribute.String("error", errorAttr(attrs))))
	}
	v, _ := s.obs.recordLogs.LoadOrStore(part+"\x00"+msg, &recordLimiter{})
	ok, suppressed := v.(*recordLimiter).allow(time.Now())
	if !ok {
		return
	}
	args := make([]any, 0, 10+len(attrs))
	args = append(args, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset)
	args = appendTraceAttrs(ctx, args)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	log.WarnContext(ctx, msg, append(args, attrs...)...)
}

// appendTraceAttrs appends trace_id and span_id when ctx carries a valid
// span context.
func appendTraceAttrs(ctx context.Context, args []any) []any {
	if ctx == nil {
		return args
	}
	if sc := oteltrace.SpanContextFromContext(ctx); sc.IsValid() {
		args = append(args, "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
	}
	return args
}

// errorAttr is the value of the "error" pair in attrs, as text.
func errorAttr(attrs []any) string {
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i] == "error" {
			if err, ok := attrs[i+1].(error); ok {
				return err.Error()
			}
			if s, ok := attrs[i+1].(string); ok {
				return s
			}
		}
	}
	return ""
}
