package runner

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	discoverv1 "github.com/kafmesh/kafmesh/api/discover/v1"
	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
)

// discoveryAPI serves kafmesh.discovery.v1.DiscoveryAPI.
type discoveryAPI struct {
	discoveryv1.UnimplementedDiscoveryAPIServer
	a *apiState
}

func (d discoveryAPI) GetServiceInfo(context.Context, *discoveryv1.GetServiceInfoRequest) (*discoveryv1.GetServiceInfoResponse, error) {
	return d.a.getServiceInfo()
}

// discoverAPI serves the same call as kafmesh.discover.v1.Discover.
type discoverAPI struct {
	discoverv1.UnimplementedDiscoverServer
	a *apiState
}

func (d discoverAPI) GetServiceInfo(context.Context, *discoveryv1.GetServiceInfoRequest) (*discoveryv1.GetServiceInfoResponse, error) {
	return d.a.getServiceInfo()
}

func (a *apiState) getServiceInfo() (*discoveryv1.GetServiceInfoResponse, error) {
	info, err := a.serviceInfo()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "describe service: %v", err)
	}
	return &discoveryv1.GetServiceInfoResponse{Service: info}, nil
}

// serviceInfo describes the service: its components in definition order
// (components of registered parts that the definition does not list come
// after, in registration order), each with the parts registered in this
// process, and the descriptors of every message those parts name. It is
// safe to call while parts are being registered: it works on a copy of
// the registered parts.
func (a *apiState) serviceInfo() (*discoveryv1.Service, error) {
	s := a.svc
	out := &discoveryv1.Service{Name: s.def.Name, Description: s.def.Description}
	byName := map[string]*discoveryv1.Component{}
	component := func(name string) *discoveryv1.Component {
		c := byName[name]
		if c == nil {
			c = &discoveryv1.Component{Name: name}
			byName[name] = c
			out.Components = append(out.Components, c)
		}
		return c
	}
	for _, ci := range s.def.Components {
		component(ci.Name).Description = ci.Description
	}

	var messages []TopicRef
	use := func(r TopicRef) *discoveryv1.TopicDefinition {
		messages = append(messages, r)
		return topicDefinition(r)
	}
	for _, p := range s.registered() {
		c := component(p.component())
		switch spec := p.describe().(type) {
		case ProcessorSpec:
			pr := &discoveryv1.Processor{Name: spec.Name, GroupName: spec.Group, Description: spec.Description}
			for _, r := range spec.Inputs {
				pr.Inputs = append(pr.Inputs, &discoveryv1.Input{Topic: use(r)})
			}
			for _, r := range spec.Lookups {
				pr.Lookups = append(pr.Lookups, &discoveryv1.Lookup{Topic: use(r)})
			}
			for _, r := range spec.Joins {
				pr.Joins = append(pr.Joins, &discoveryv1.Join{Topic: use(r)})
			}
			for _, o := range spec.Outputs {
				pr.Outputs = append(pr.Outputs, &discoveryv1.Output{Topic: use(o.TopicRef), Description: o.Description})
			}
			if spec.State != nil {
				pr.Persistence = &discoveryv1.Persistence{Topic: use(*spec.State)}
			}
			c.Processors = append(c.Processors, pr)
		case SourceSpec:
			c.Sources = append(c.Sources, &discoveryv1.Source{Topic: use(spec.TopicRef)})
		case ViewSpec:
			c.Views = append(c.Views, &discoveryv1.View{Topic: use(spec.TopicRef)})
		case SinkSpec:
			c.Sinks = append(c.Sinks, &discoveryv1.Sink{Name: spec.Name, Description: spec.Description, Topic: use(spec.TopicRef)})
		case ViewSourceSpec:
			c.ViewSources = append(c.ViewSources, &discoveryv1.ViewSource{Name: spec.Name, Description: spec.Description, Topic: use(spec.TopicRef)})
		case ViewSinkSpec:
			c.ViewSinks = append(c.ViewSinks, &discoveryv1.ViewSink{Name: spec.Name, Description: spec.Description, Topic: use(spec.TopicRef)})
		default:
			s.log.Warn("part has no discovery description; left out of GetServiceInfo", "kind", p.kind(), "component", p.component(), "name", p.name())
		}
	}

	fds, missing, err := descriptorSet(s.def.Files, messages)
	if err != nil {
		return nil, err
	}
	out.FileDescriptorSet = fds
	if len(missing) > 0 {
		a.mu.Lock()
		var fresh []string
		for _, m := range missing {
			if !a.warned[m] {
				a.warned[m] = true
				fresh = append(fresh, m)
			}
		}
		a.mu.Unlock()
		if len(fresh) > 0 {
			s.log.Warn("no descriptor for messages named by parts (not in the definition's files nor linked in); tools cannot decode them",
				"messages", fresh)
		}
	}
	return out, nil
}

func topicDefinition(r TopicRef) *discoveryv1.TopicDefinition {
	t := discoveryv1.TopicType_TOPIC_TYPE_INVALID
	switch r.Type {
	case TopicProtobuf:
		t = discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF
	case TopicRaw:
		t = discoveryv1.TopicType_TOPIC_TYPE_RAW
	}
	return &discoveryv1.TopicDefinition{Topic: r.Topic, Message: r.Message, Type: t}
}
