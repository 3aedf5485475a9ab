package runner

import (
	"context"
	"time"
)

// ViewSinkHandler is implemented by the user of a view sink: Sync reads the
// table through view and writes it to the outside store.
type ViewSinkHandler[M any] interface {
	Sync(ctx context.Context, view Reader[M]) error
}

// NewViewSink registers a view sink. Once the table is caught up it syncs,
// and then every interval.
func NewViewSink[M any](svc *Service, spec ViewSinkSpec, codec Codec[M], h ViewSinkHandler[M], opts ...PartOption) error {
	if any(h) == nil {
		return ErrNilHandler
	}
	cfg := partConfig{interval: time.Minute, timeout: 30 * time.Second}
	if err := applyPartOptions(kindViewSink, &cfg, opts); err != nil {
		return err
	}
	return svc.add(newViewSinkPart(svc, spec, cfg, codec, h))
}
