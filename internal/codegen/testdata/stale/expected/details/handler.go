package details

import (
	"context"

	"example.com/golden/stale/internal/definitions/models/kafmesh/deviceId"
)

// Announce is hand-written code beside the generated files: gen keeps it.
func Announce(ctx context.Context, s DeviceIDDetailsSource, id string) error {
	return s.Emit(ctx, id, &deviceId.Details{Id: id})
}
