package contracts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ParseDescriptorSet parses a serialized FileDescriptorSet (as `buf build
// -o x.binpb` or `protoc --descriptor_set_out --include_imports` write it)
// into files the engine can resolve names in. The set must be complete:
// every import included.
func ParseDescriptorSet(b []byte) (*protoregistry.Files, error) {
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("not a serialized FileDescriptorSet: %w", err)
	}
	if len(set.GetFile()) == 0 {
		return nil, errors.New("the FileDescriptorSet holds no file")
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("FileDescriptorSet: %w (was it built with its imports?)", err)
	}
	return files, nil
}

// Baseline returns a contract that uses every topic of after, with the
// same messages and settings, resolved in files: a descriptor set of the
// messages as they were. It is checked in both directions (Both).
func Baseline(name string, after *Contract, files Resolver) *Contract {
	c := &Contract{Name: name, Service: after.Service, Both: true, Topics: map[string]*TopicUse{}, Descriptors: files}
	for n, u := range after.Topics {
		cp := *u
		cp.Parts = nil
		c.Topics[n] = &cp
	}
	return c
}

// DiscoverOption configures [FromDiscover].
type DiscoverOption func(*discoverConfig)

type discoverConfig struct {
	client   *http.Client
	maxBytes int64
	token    string
}

// WithToken sends "Authorization: Bearer <token>", for a discover started
// with --token.
func WithToken(token string) DiscoverOption {
	return func(d *discoverConfig) { d.token = token }
}

// WithHTTPClient sets the client used to query discover (default: one with
// a 30 s timeout).
func WithHTTPClient(c *http.Client) DiscoverOption {
	return func(d *discoverConfig) { d.client = c }
}

// WithMaxResponse bounds the GraphQL answer read from discover (default 256
// MiB); a larger answer is an error.
func WithMaxResponse(n int64) DiscoverOption {
	return func(d *discoverConfig) { d.maxBytes = n }
}

const meshQuery = `fragment T on Topic { name message type settings { partitions } }
query KafmeshCheck {
  services {
    name
    descriptorSet
    pods { name namespace }
    components {
      name
      processors {
        name
        inputs { topic { ...T } }
        joins { topic { ...T } }
        lookups { topic { ...T } }
        outputs { topic { ...T } }
        persistence { ...T }
      }
      sources { topic { ...T } }
      sinks { name topic { ...T } }
      views { topic { ...T } }
      viewSources { name topic { ...T } }
      viewSinks { name topic { ...T } }
    }
  }
}`

type gqlTopic struct {
	Name     string `json:"name"`
	Message  string `json:"message"`
	Type     string `json:"type"`
	Settings *struct {
		Partitions int32 `json:"partitions"`
	} `json:"settings"`
}

type gqlRef struct {
	Name  string   `json:"name"`
	Topic gqlTopic `json:"topic"`
}

type gqlMesh struct {
	Data struct {
		Services []struct {
			Name          string  `json:"name"`
			DescriptorSet *string `json:"descriptorSet"`
			Pods          []struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"pods"`
			Components []struct {
				Name       string `json:"name"`
				Processors []struct {
					Name        string    `json:"name"`
					Inputs      []gqlRef  `json:"inputs"`
					Joins       []gqlRef  `json:"joins"`
					Lookups     []gqlRef  `json:"lookups"`
					Outputs     []gqlRef  `json:"outputs"`
					Persistence *gqlTopic `json:"persistence"`
				} `json:"processors"`
				Sources     []gqlRef `json:"sources"`
				Sinks       []gqlRef `json:"sinks"`
				Views       []gqlRef `json:"views"`
				ViewSources []gqlRef `json:"viewSources"`
				ViewSinks   []gqlRef `json:"viewSinks"`
			} `json:"components"`
		} `json:"services"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// FromDiscover reads the mesh from a running `kafmesh discover` at base
// (http://host:port, its GraphQL API at base/query) and returns one
// contract per service, named "service NAME (pods …)". Services that
// reported no descriptors get only topic rules. An unreachable discover,
// an answer that is not the expected GraphQL, or GraphQL errors are
// returned as errors.
func FromDiscover(ctx context.Context, base string, opts ...DiscoverOption) ([]*Contract, error) {
	cfg := discoverConfig{client: &http.Client{Timeout: 30 * time.Second}, maxBytes: 256 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("discover address %q: want http://host:port", base)
	}
	endpoint := strings.TrimRight(base, "/") + "/query"
	body, _ := json.Marshal(map[string]string{"query": meshQuery})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.token)
	}
	resp, err := cfg.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query discover: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, cfg.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read discover's answer: %w", err)
	}
	if int64(len(b)) > cfg.maxBytes {
		return nil, fmt.Errorf("discover's answer is larger than %d bytes", cfg.maxBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discover answered %s: %s", resp.Status, firstLine(b))
	}
	var m gqlMesh
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("discover's answer is not GraphQL JSON: %w", err)
	}
	if len(m.Errors) > 0 {
		hint := ""
		if strings.Contains(m.Errors[0].Message, "descriptorSet") {
			hint = " (this discover predates Service.descriptorSet; upgrade it)"
		}
		return nil, fmt.Errorf("discover: %s%s", m.Errors[0].Message, hint)
	}
	var out []*Contract
	for _, s := range m.Data.Services {
		var pods []string
		for _, p := range s.Pods {
			if p.Namespace != "" {
				pods = append(pods, p.Namespace+"/"+p.Name)
			} else {
				pods = append(pods, p.Name)
			}
		}
		slices.Sort(pods)
		name := "service " + s.Name
		if len(pods) > 0 {
			name += " (pods " + strings.Join(pods, ", ") + ")"
		}
		c := &Contract{Name: name, Service: s.Name, Topics: map[string]*TopicUse{}}
		if s.DescriptorSet != nil && *s.DescriptorSet != "" {
			raw, err := base64.StdEncoding.DecodeString(*s.DescriptorSet)
			if err != nil {
				return nil, fmt.Errorf("service %s: descriptorSet: %w", s.Name, err)
			}
			files, err := ParseDescriptorSet(raw)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", s.Name, err)
			}
			c.Descriptors = files
		}
		use := func(t gqlTopic, part string, writes, reads, copart bool) {
			if t.Name == "" {
				return
			}
			u := c.Topics[t.Name]
			if u == nil {
				u = &TopicUse{Topic: t.Name, Message: t.Message, Raw: t.Type == "RAW"}
				c.Topics[t.Name] = u
			}
			if t.Settings != nil {
				u.Partitions = t.Settings.Partitions
			}
			u.Writes = u.Writes || writes
			u.Reads = u.Reads || reads
			u.CoPartitioned = u.CoPartitioned || copart
			u.Parts = append(u.Parts, part)
		}
		for _, comp := range s.Components {
			for _, r := range comp.Sources {
				use(r.Topic, comp.Name+"/source source", true, false, false)
			}
			for _, p := range comp.Processors {
				co := len(p.Joins) > 0 || p.Persistence != nil
				pn := comp.Name + "/" + p.Name
				for _, r := range p.Inputs {
					use(r.Topic, pn+" input", false, true, co)
				}
				for _, r := range p.Joins {
					use(r.Topic, pn+" join", false, true, true)
				}
				for _, r := range p.Lookups {
					use(r.Topic, pn+" lookup", false, true, false)
				}
				for _, r := range p.Outputs {
					use(r.Topic, pn+" output", true, false, false)
				}
				if p.Persistence != nil {
					use(*p.Persistence, pn+" state", true, true, true)
				}
			}
			for _, r := range comp.Sinks {
				use(r.Topic, comp.Name+"/"+r.Name+" sink", false, true, false)
			}
			for _, r := range comp.Views {
				use(r.Topic, comp.Name+"/view view", false, true, false)
			}
			for _, r := range comp.ViewSources {
				use(r.Topic, comp.Name+"/"+r.Name+" viewSource", true, false, false)
			}
			for _, r := range comp.ViewSinks {
				use(r.Topic, comp.Name+"/"+r.Name+" viewSink", false, true, false)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
