package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicPlan is what the registered parts need of one topic.
type topicPlan struct {
	name   string
	owned  bool
	table  bool
	want   TopicConfig
	groups []string // co-partition groups it belongs to
	users  []string // "component/part (role)", for messages
}

// plans gathers the topics of every registered part.
func (s *Service) plans() map[string]*topicPlan {
	declared := map[string]TopicConfig{}
	for _, t := range s.def.Topics {
		declared[t.Name] = t
	}
	plans := map[string]*topicPlan{}
	for _, p := range s.registered() {
		for _, u := range p.uses() {
			tp := plans[u.ref.Topic]
			if tp == nil {
				tp = &topicPlan{name: u.ref.Topic, want: declared[u.ref.Topic]}
				tp.want.Name = u.ref.Topic
				plans[u.ref.Topic] = tp
			}
			tp.owned = tp.owned || u.owned
			tp.table = tp.table || u.table
			if u.role == roleState || u.role == roleViewSource {
				tp.want.Compact = true
			}
			if u.copartition != "" && !slices.Contains(tp.groups, u.copartition) {
				tp.groups = append(tp.groups, u.copartition)
			}
			tp.users = append(tp.users, fmt.Sprintf("%s %s/%s (%s)", p.kind(), p.component(), p.name(), u.role))
		}
	}
	return plans
}

// ConfigureTopics makes the Kafka topics fit the registered parts:
//
//   - topics this service owns (sources, outputs, state, view sources,
//     dead letters) are created with their declared settings when missing;
//   - for existing owned topics, differing cleanup.policy, retention.ms and
//     segment.ms are changed with an incremental alter, which leaves every
//     other config alone; a differing partition count is refused, since
//     repartitioning moves keys and corrupts state;
//   - topics it only reads must exist: one error names every missing one;
//   - each processor's inputs, joins and state must have equal partition
//     counts;
//   - tables read by joins, lookups and views should be compacted: a
//     warning is logged when one is not.
//
// It returns one error describing every problem found.
func (s *Service) ConfigureTopics(ctx context.Context) error {
	// Metadata answers come from the client's cache; a short minimum age
	// lets the wait for created topics see them within milliseconds.
	cl, err := kgo.NewClient(s.clientOpts(kgo.MetadataMinAge(20 * time.Millisecond))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	plans := s.plans()
	names := make([]string, 0, len(plans))
	for n := range plans {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	exists := func(n string) (kadm.TopicDetail, bool) {
		d, ok := details[n]
		return d, ok && d.Err == nil
	}

	var problems []string
	var missing []string
	for _, n := range names {
		if _, ok := exists(n); !ok && !plans[n].owned {
			missing = append(missing, fmt.Sprintf("%s (read by %s)", n, strings.Join(plans[n].users, ", ")))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "missing topics this service reads but does not own:\n  "+strings.Join(missing, "\n  "))
	}

	// Co-partitioning: every topic of a group has one partition count,
	// existing or about to be created.
	groupCount := map[string]int32{}
	groupFrom := map[string]string{}
	for _, n := range names {
		tp := plans[n]
		count := tp.want.Partitions
		if d, ok := exists(n); ok {
			count = int32(len(d.Partitions))
		}
		if count <= 0 {
			continue
		}
		for _, g := range tp.groups {
			if have, ok := groupCount[g]; !ok {
				groupCount[g], groupFrom[g] = count, n
			} else if have != count {
				problems = append(problems, fmt.Sprintf("processor group %s is not co-partitioned: %s has %d partitions but %s has %d",
					g, groupFrom[g], have, n, count))
			}
		}
	}

	var create []*topicPlan
	for _, n := range names {
		tp := plans[n]
		if !tp.owned {
			continue
		}
		if d, ok := exists(n); ok {
			if tp.want.Partitions > 0 && int32(len(d.Partitions)) != tp.want.Partitions {
				problems = append(problems, fmt.Sprintf("topic %s has %d partitions but %d are declared; kafmesh does not change partition counts (that moves keys between partitions and corrupts state): create a new topic or change the declaration",
					n, len(d.Partitions), tp.want.Partitions))
			}
			continue
		}
		if tp.want.Partitions <= 0 {
			for _, g := range tp.groups {
				if c, ok := groupCount[g]; ok {
					tp.want.Partitions = c
				}
			}
		}
		create = append(create, tp)
	}
	if len(problems) > 0 {
		return fmt.Errorf("topics are not as this service needs them:\n- %s", strings.Join(problems, "\n- "))
	}

	for _, tp := range create {
		partitions, replicas := tp.want.Partitions, tp.want.Replicas
		if partitions <= 0 {
			partitions = -1
		}
		if replicas <= 0 {
			replicas = -1
		}
		resp, err := adm.CreateTopic(ctx, partitions, replicas, topicConfigs(tp.want), tp.name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			problems = append(problems, fmt.Sprintf("create %s: %v %s", tp.name, err, resp.ErrMessage))
			continue
		}
		s.log.Info("created topic", "topic", tp.name, "partitions", resp.NumPartitions, "compact", tp.want.Compact)
	}

	if len(create) > 0 {
		var created []string
		for _, tp := range create {
			created = append(created, tp.name)
		}
		if err := waitTopicsReady(ctx, adm, created); err != nil {
			problems = append(problems, err.Error())
		}
	}

	// Existing topics: align owned configs, warn about tables.
	var existing []string
	for _, n := range names {
		if _, ok := exists(n); ok {
			existing = append(existing, n)
		}
	}
	if len(existing) > 0 {
		configs, err := adm.DescribeTopicConfigs(ctx, existing...)
		if err != nil {
			return fmt.Errorf("describe topic configs: %w", err)
		}
		for _, rc := range configs {
			tp := plans[rc.Name]
			if rc.Err != nil {
				problems = append(problems, fmt.Sprintf("describe %s: %v", rc.Name, rc.Err))
				continue
			}
			current := map[string]string{}
			for _, c := range rc.Configs {
				if c.Value != nil {
					current[c.Key] = *c.Value
				}
			}
			if tp.owned {
				var alter []kadm.AlterConfig
				for k, v := range topicConfigs(tp.want) {
					if current[k] != *v {
						alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
						s.log.Info("changing topic config", "topic", rc.Name, "config", k, "from", current[k], "to", *v)
					}
				}
				if len(alter) > 0 {
					resps, err := adm.AlterTopicConfigs(ctx, alter, rc.Name)
					if err == nil {
						for _, r := range resps {
							if r.Err != nil {
								err = fmt.Errorf("%w %s", r.Err, r.ErrMessage)
							}
						}
					}
					if err != nil {
						problems = append(problems, fmt.Sprintf("alter configs of %s: %v", rc.Name, err))
					}
					current[topicCleanupPolicy] = *topicConfigs(tp.want)[topicCleanupPolicy]
				}
			}
			if tp.table && !strings.Contains(current[topicCleanupPolicy], "compact") {
				s.log.Warn("table topic is not compacted: its full history must be read on every restore and deleted keys come back after retention",
					"topic", rc.Name, "cleanup.policy", current[topicCleanupPolicy], "used_by", strings.Join(tp.users, ", "))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("configure topics:\n- %s", strings.Join(problems, "\n- "))
	}
	return nil
}

const topicCleanupPolicy = "cleanup.policy"

// topicConfigs are the configs kafmesh sets on topics it owns.
func topicConfigs(t TopicConfig) map[string]*string {
	policy := "delete"
	if t.Compact {
		policy = "compact"
	}
	c := map[string]*string{topicCleanupPolicy: &policy}
	if t.Retention > 0 {
		v := strconv.FormatInt(t.Retention.Milliseconds(), 10)
		c["retention.ms"] = &v
	}
	if t.Segment > 0 {
		v := strconv.FormatInt(t.Segment.Milliseconds(), 10)
		c["segment.ms"] = &v
	}
	return c
}

// waitTopicsReady waits until every topic is in the metadata with a leader
// for each partition, so parts started right after ConfigureTopics find
// them.
func waitTopicsReady(ctx context.Context, adm *kadm.Client, topics []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := adm.Metadata(ctx, topics...)
		var pending []string
		if err != nil {
			pending = topics
		} else {
			for _, t := range topics {
				td, ok := md.Topics[t]
				if !ok || td.Err != nil || len(td.Partitions) == 0 {
					pending = append(pending, t)
					continue
				}
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 {
						pending = append(pending, t)
						break
					}
				}
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("created topics have no leaders after 30s: %v", pending)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
