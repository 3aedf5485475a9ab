package runner

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// SchemaRegistry finds the schema id to write in Confluent framing. A
// franz-go sr client becomes one with [SchemaRegistryFromSR]; tests may
// give any implementation.
type SchemaRegistry interface {
	// SchemaID returns the id of the latest schema of subject.
	SchemaID(ctx context.Context, subject string) (int, error)
}

// SchemaRegistryFromSR uses a Confluent-compatible schema registry through
// the franz-go sr client. The service looks each topic's subject up once,
// at its first write: register the schemas (e.g. from CI) before the
// service writes, and restart it to pick up a new version.
func SchemaRegistryFromSR(cl *sr.Client) SchemaRegistry { return srRegistry{cl} }

type srRegistry struct{ cl *sr.Client }

func (r srRegistry) SchemaID(ctx context.Context, subject string) (int, error) {
	s, err := r.cl.SchemaByVersion(ctx, subject, -1) // -1: latest
	if err != nil {
		return 0, err
	}
	return s.ID, nil
}

// framer caches the Confluent header of each topic.
type framer struct {
	reg     SchemaRegistry
	mu      sync.Mutex
	headers map[string][]byte
}

func (f *framer) header(ctx context.Context, topic string, desc protoreflect.MessageDescriptor) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.headers[topic]; ok {
		return h, nil
	}
	subject := topic + "-value"
	id, err := f.reg.SchemaID(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("schema registry: subject %q: %w", subject, err)
	}
	h := appendConfluentHeader(nil, uint32(id), messageIndexes(desc))
	if f.headers == nil {
		f.headers = make(map[string][]byte)
	}
	f.headers[topic] = h
	return h, nil
}
