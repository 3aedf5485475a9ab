package graph

import (
	"context"

	"github.com/kafmesh/kafmesh/internal/discovery/topicsettings"
)

// TopicSettingsSource answers the settings of topics as the brokers report
// them, and how the last read went (topicsettings.Monitor).
type TopicSettingsSource interface {
	Topic(name string) (topicsettings.Settings, bool)
	Status() topicsettings.Status
}

// Settings is null without a source (no --brokers) and for a topic the
// last read did not find in Kafka.
func (x topicResolver) Settings(ctx context.Context, t *Topic) (*TopicSettings, error) {
	if x.r.settings == nil {
		return nil, nil
	}
	s, ok := x.r.settings.Topic(t.n.Name)
	if !ok {
		return nil, nil
	}
	out := &TopicSettings{
		Partitions: s.Partitions, ReplicationFactor: s.ReplicationFactor,
		Configs: make([]*TopicConfig, 0, len(s.Configs)), ReadAt: s.ReadAt, Error: optString(s.Err),
	}
	for _, c := range s.Configs {
		out.Configs = append(out.Configs, &TopicConfig{
			Name: c.Name, Value: c.Value, IsDefault: c.IsDefault(), Source: configSource(c.Source), Sensitive: c.Sensitive,
		})
	}
	return out, nil
}

func configSource(s topicsettings.Source) TopicConfigSource {
	if v := TopicConfigSource(s); v.IsValid() {
		return v
	}
	return TopicConfigSourceUnknown
}

// Kafka is null without a source (no --brokers).
func (x queryResolver) Kafka(ctx context.Context) (*Kafka, error) {
	if x.r.settings == nil {
		return nil, nil
	}
	st := x.r.settings.Status()
	return &Kafka{TopicSettingsReadAt: optTime(st.ReadAt), TopicSettingsError: optString(st.Err)}, nil
}
