// Package targets finds what discovery scrapes: Kubernetes pods (through a
// pod informer) and static addresses (flags and a targets file). Sources
// can be combined; each target has a stable identity, the mesh pod id.
package targets

import (
	"context"
	"errors"
	"sort"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Target is one gRPC endpoint to scrape.
type Target struct {
	// ID is the mesh pod id: namespace/name/uid for Kubernetes pods,
	// static/<address> for static targets.
	ID        string
	Namespace string
	Name      string
	UID       string
	// Address is host:port.
	Address string
	// Source is "kubernetes" or "static".
	Source string
}

// Pod is the target as the store records it.
func (t Target) Pod() mesh.Pod {
	return mesh.Pod{ID: t.ID, Namespace: t.Namespace, Name: t.Name, UID: t.UID, Address: t.Address, Source: t.Source}
}

// Source yields the current targets.
type Source interface {
	// Name identifies the source in logs and errors.
	Name() string
	// Targets returns the targets as of now. An error means the source does
	// not know its full set (not synced yet, file unreadable): the caller
	// must then not treat missing targets as gone.
	Targets(ctx context.Context) ([]Target, error)
}

// ErrNotSynced is returned by a source that has not completed its first
// listing.
var ErrNotSynced = errors.New("targets not synced yet")

// Collect gathers the targets of every source, de-duplicated by id and
// sorted by id. complete is false when a source failed (its error is in
// errs), so the set may lack targets that still exist.
func Collect(ctx context.Context, sources []Source) (all []Target, complete bool, errs []error) {
	seen := map[string]bool{}
	complete = true
	for _, s := range sources {
		ts, err := s.Targets(ctx)
		if err != nil {
			complete = false
			errs = append(errs, &SourceError{Source: s.Name(), Err: err})
		}
		for _, t := range ts {
			if !seen[t.ID] {
				seen[t.ID] = true
				all = append(all, t)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all, complete, errs
}

// SourceError is the failure of one source.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }
