package runner

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// SchemaRegistry finds the schema id to write in Confluent framing. The
// franz-go sr client satisfies it through [SchemaRegistryFromSR]; tests may
// give any implementation.
type SchemaRegistry interface {
	// SchemaID returns the id of the latest schema of subject.
	SchemaID(ctx context.Context, subject string) (int, error)
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
