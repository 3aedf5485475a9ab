package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultHTTPAddr is where Run serves /metrics, /healthz and /readyz when
// no [WithHTTPAddr] is given. Services of a [MemoryCluster] serve nothing
// by default.
const DefaultHTTPAddr = ":9090"

// httpListenAddr is the address Run's HTTP server listens on ("" for none)
// and whether the user chose it.
func (s *Service) httpListenAddr() (addr string, explicit bool) {
	if s.cfg.httpAddrSet {
		return s.cfg.httpAddr, true
	}
	if s.mem != nil {
		return "", false
	}
	return DefaultHTTPAddr, false
}

// HTTPHandler serves the service's HTTP endpoints; Run serves it on the
// address given with [WithHTTPAddr] (by default [DefaultHTTPAddr]), or
// mount it on a server of your own:
//
//   - /metrics: the service's Prometheus registry. When the metrics were
//     registered with [WithRegisterer], the caller's registry holds them and
//     the caller serves it; /metrics then answers 404 saying so.
//   - /healthz: 200 while Run runs and no part has failed; 503 before Run,
//     while it stops, and after a part failed (the body says which).
//   - /readyz: like /healthz, and 503 until every view and table has caught
//     up and every processor has joined its group and restored the state of
//     the partitions it was assigned (the body lists what it waits for); a
//     processor rejoining after a recoverable failure is not ready again
//     until it has its partitions back.
func (s *Service) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	if g := s.Gatherer(); g != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	} else {
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the metrics of this service are registered on the registerer given with runner.WithRegisterer; they are served from that registry", http.StatusNotFound)
		})
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if msg, ok := s.api.live(); !ok {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if msg, ok := s.api.live(); !ok {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		if waiting := s.notReady(); len(waiting) > 0 {
			http.Error(w, "not ready:\n"+strings.Join(waiting, "\n"), http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	return mux
}

// live reports whether Run runs and no part has failed, and if not, why.
func (a *apiState) live() (string, bool) {
	ctx := a.running()
	switch {
	case ctx == nil:
		return "not running: Run has not started", false
	case ctx.Err() == nil:
		return "", true
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, context.Canceled) {
		return "stopping", false
	}
	return "failed: " + cause.Error(), false
}

// notReady lists the tables that have not caught up and the processors
// still restoring partitions.
func (s *Service) notReady() []string {
	var waiting []string
	s.tables.mu.Lock()
	for topic, t := range s.tables.tables {
		if !t.ready() {
			waiting = append(waiting, "table "+topic+": catching up")
		}
	}
	s.tables.mu.Unlock()
	slices.Sort(waiting)
	for _, p := range s.registered() {
		pp, ok := p.(*processorPart)
		if !ok {
			continue
		}
		if !pp.joinedGroup() {
			waiting = append(waiting, fmt.Sprintf("processor %s/%s: joining its group", pp.component(), pp.name()))
			continue
		}
		if restoring := processorRestoring(pp); len(restoring) > 0 {
			waiting = append(waiting, fmt.Sprintf("processor %s/%s: restoring partitions %v", pp.component(), pp.name(), restoring))
		}
	}
	return waiting
}

// processorRestoring lists the assigned partitions of a processor whose
// state and joins are not restored yet.
func processorRestoring(pp *processorPart) []int32 {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	var ps []int32
	for p, t := range pp.tasks {
		if !t.isReady() {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}
