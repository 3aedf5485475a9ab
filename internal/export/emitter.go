package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Emitter posts the mesh's OpenLineage events to an OpenLineage HTTP
// endpoint (Marquez, DataHub, …) whenever the mesh changes.
//
// It is bounded: it looks at the mesh every interval and keeps no queue:
// only the latest mesh is ever sent, so a slow or down endpoint delays
// lineage but never grows memory. Each event is POSTed with a timeout and
// retried a few times with backoff; a mesh whose events could not all be
// delivered is tried again at the next interval.
type Emitter struct {
	url      string
	client   *http.Client
	interval time.Duration
	retries  int
	backoff  time.Duration
	opts     Options
	logger   *slog.Logger
	token    string
	sent     string // MeshKey of the last mesh fully delivered
}

// EmitterOption configures [NewEmitter].
type EmitterOption func(*Emitter)

// WithEmitInterval sets how often the mesh is looked at (default 30 s).
func WithEmitInterval(d time.Duration) EmitterOption { return func(e *Emitter) { e.interval = d } }

// WithEmitTimeout bounds each POST (default 10 s).
func WithEmitTimeout(d time.Duration) EmitterOption {
	return func(e *Emitter) { e.client = &http.Client{Timeout: d} }
}

// WithEmitRetries sets how many times a failed POST is retried (default
// 3), waiting backoff, then twice that, and so on (default 500 ms).
func WithEmitRetries(n int, backoff time.Duration) EmitterOption {
	return func(e *Emitter) { e.retries, e.backoff = n, backoff }
}

// WithEmitOptions sets the export options (namespaces).
func WithEmitOptions(o Options) EmitterOption { return func(e *Emitter) { e.opts = o } }

// WithEmitLogger sets the logger.
func WithEmitLogger(l *slog.Logger) EmitterOption { return func(e *Emitter) { e.logger = l } }

// WithEmitToken sends "Authorization: Bearer <token>" with each POST.
func WithEmitToken(t string) EmitterOption { return func(e *Emitter) { e.token = t } }

// NewEmitter returns an emitter posting to url (for Marquez,
// http://host:5000/api/v1/lineage).
func NewEmitter(url string, opts ...EmitterOption) *Emitter {
	e := &Emitter{url: url, client: &http.Client{Timeout: 10 * time.Second}, interval: 30 * time.Second,
		retries: 3, backoff: 500 * time.Millisecond, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Run emits until ctx ends; it returns nil then.
func (e *Emitter) Run(ctx context.Context, src GraphSource) error {
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		if err := e.EmitOnce(ctx, src); err != nil && ctx.Err() == nil {
			e.logger.Warn("openlineage: events not delivered; trying again later", "url", e.url, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// EmitOnce posts the mesh's events if the mesh changed since the last
// delivery; it reports whether every event was delivered.
func (e *Emitter) EmitOnce(ctx context.Context, src GraphSource) error {
	m, err := src.mesh(ctx)
	if err != nil {
		return err
	}
	key := MeshKey(m)
	if key == e.sent || len(m.Services) == 0 {
		return nil
	}
	events := OpenLineage(m, time.Now(), key, e.opts)
	for _, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if err := e.post(ctx, b); err != nil {
			return err
		}
	}
	e.sent = key
	e.logger.Info("openlineage: mesh lineage sent", "url", e.url, "events", len(events))
	return nil
}

func (e *Emitter) post(ctx context.Context, body []byte) error {
	wait := e.backoff
	var last error
	for attempt := 0; attempt <= e.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if e.token != "" {
			req.Header.Set("Authorization", "Bearer "+e.token)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
			return last // the endpoint refuses the event: retrying will not help
		}
	}
	return last
}
