package runner

import (
	"context"
	"time"
)

// Updater receives the outside data set during a view source sync.
type Updater[M any] interface {
	// Update reports the current value of key.
	Update(key string, m M) error
}

// ViewSourceHandler is implemented by the user of a view source.
//
// Sync must report the complete outside data set with Update. Only values
// that differ from the table are produced. When Sync returns nil within the
// timeout, keys it did not report are deleted from the table; after an
// error or a timeout nothing is deleted.
type ViewSourceHandler[M any] interface {
	Sync(ctx context.Context, up Updater[M]) error
}

// NewViewSource registers a view source. It syncs once when Run starts and
// then every interval.
func NewViewSource[M any](svc *Service, spec ViewSourceSpec, codec Codec[M], h ViewSourceHandler[M], opts ...PartOption) error {
	if any(h) == nil {
		return ErrNilHandler
	}
	cfg := partConfig{interval: time.Minute, timeout: 30 * time.Second}
	if err := applyPartOptions(kindViewSource, &cfg, opts); err != nil {
		return err
	}
	return svc.add(newViewSourcePart(svc, spec, cfg, codec, h))
}
