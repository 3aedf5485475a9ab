package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/watch"
)

// mesh is a scraped example mesh served over real HTTP.
type fixture struct {
	url                string
	devA, devB, alerts *meshtest.Target
	refusing           string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{
		devA: meshtest.Serve(t, meshtest.Devices()), devB: meshtest.Serve(t, meshtest.Devices()),
		alerts: meshtest.Serve(t, meshtest.Alerts()), refusing: meshtest.Refusing(t),
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src, err := targets.NewStatic([]string{f.devA.Addr, f.devB.Addr, f.alerts.Addr, f.refusing}, "")
	if err != nil {
		t.Fatal(err)
	}
	r := scrape.New(st, []targets.Source{src}, scrape.WithTimeout(2*time.Second)).Round(ctx)
	if r.Failed() != 1 {
		t.Fatalf("scrape: %d failed, want only the refusing target", r.Failed())
	}
	h := graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph, Watch: watch.New().Watch, MaxDepth: 15})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
		Path    []any  `json:"path"`
	} `json:"errors"`
}

func post(t *testing.T, url, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

func query(t *testing.T, url, q string, vars map[string]any, into any) {
	t.Helper()
	resp := post(t, url, q, vars)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	if err := json.Unmarshal(resp.Data, into); err != nil {
		t.Fatalf("data %s: %v", resp.Data, err)
	}
}

type named struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type topicRef struct {
	Topic struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"topic"`
}

func names(ns []named) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

// The queries a 2021 kafmesh UI sends still work, and answer the mesh.
func TestOldClientQueries(t *testing.T) {
	f := setup(t)
	var data struct {
		Services []struct {
			named
			Description string  `json:"description"`
			DependsOn   []named `json:"dependsOn"`
			Components  []struct {
				named
				Service    named `json:"service"`
				Processors []struct {
					named
					GroupName   string     `json:"groupName"`
					Persistence *named     `json:"persistence"`
					Inputs      []topicRef `json:"inputs"`
					Joins       []topicRef `json:"joins"`
					Lookups     []topicRef `json:"lookups"`
					Outputs     []topicRef `json:"outputs"`
					Pods        []named    `json:"pods"`
				} `json:"processors"`
				Sinks []struct {
					named
					topicRef
				} `json:"sinks"`
				Sources     []topicRef `json:"sources"`
				Views       []topicRef `json:"views"`
				ViewSources []struct {
					named
					topicRef
				} `json:"viewSources"`
				ViewSinks []struct {
					named
					topicRef
				} `json:"viewSinks"`
				DependsOn []named `json:"dependsOn"`
			} `json:"components"`
		} `json:"services"`
		Pods []struct {
			named
			Processors []named `json:"processors"`
		} `json:"pods"`
		Topics []struct {
			named
			Message         string `json:"message"`
			ProcessorInputs []struct {
				Processor named `json:"processor"`
			} `json:"processorInputs"`
			ProcessorPersistences []named               `json:"processorPersistences"`
			Sinks                 []named               `json:"sinks"`
			ViewSinks             []named               `json:"viewSinks"`
			Sources               []struct{ ID string } `json:"sources"`
		} `json:"topics"`
	}
	query(t, f.url, `{
		services { id name description dependsOn { name }
			components { id name service { name } dependsOn { name }
				processors { id name groupName persistence { name }
					inputs { topic { name message } } joins { topic { name } } lookups { topic { name } } outputs { topic { name } }
					pods { id name } }
				sinks { id name topic { name } } sources { topic { name } } views { topic { name } }
				viewSources { name topic { name } } viewSinks { name topic { name } } } }
		pods { id name processors { name } }
		topics { id name message processorInputs { processor { name } } processorPersistences { name } sinks { name } viewSinks { name } sources { id } }
	}`, nil, &data)

	if len(data.Services) != 2 || data.Services[0].Name != "alerts" || data.Services[1].Name != "devices" {
		t.Fatalf("services %+v", data.Services)
	}
	alerts, devices := data.Services[0], data.Services[1]
	if alerts.ID != "Service:alerts" || !slices.Equal(names(alerts.DependsOn), []string{"devices"}) || len(devices.DependsOn) != 0 {
		t.Errorf("dependsOn: alerts %v devices %v", alerts.DependsOn, devices.DependsOn)
	}
	if devices.Description != "tracks devices" || len(devices.Components) != 2 {
		t.Fatalf("devices %+v", devices)
	}
	details, heartbeats := devices.Components[0], devices.Components[1]
	if details.Name != "details" || heartbeats.Name != "heartbeats" || heartbeats.Service.Name != "devices" {
		t.Fatalf("components %v %v", details.named, heartbeats.named)
	}
	if !slices.Equal(names(heartbeats.DependsOn), []string{"details"}) {
		t.Errorf("heartbeats depends on %v", heartbeats.DependsOn)
	}
	p := heartbeats.Processors[0]
	if p.Name != "enricher" || p.GroupName != "devices.heartbeats.enricher" || p.Persistence == nil || p.Persistence.Name != meshtest.TopicState {
		t.Errorf("processor %+v", p)
	}
	if len(p.Inputs) != 1 || p.Inputs[0].Topic.Name != meshtest.TopicHeartbeat || p.Inputs[0].Topic.Message != "kafmesh.deviceId.Heartbeat" ||
		p.Joins[0].Topic.Name != meshtest.TopicDetails || p.Lookups[0].Topic.Name != meshtest.TopicCustomers || p.Outputs[0].Topic.Name != meshtest.TopicEnriched {
		t.Errorf("processor topics %+v", p)
	}
	if len(p.Pods) != 2 {
		t.Errorf("enricher runs on %v, want both devices pods", p.Pods)
	}
	if heartbeats.Sinks[0].Name != "warehouse" || heartbeats.Sinks[0].Topic.Name != meshtest.TopicEnriched || heartbeats.Sources[0].Topic.Name != meshtest.TopicHeartbeat {
		t.Errorf("heartbeats parts %+v", heartbeats)
	}
	if details.Views[0].Topic.Name != meshtest.TopicDetails || details.ViewSources[0].Name != "registry" || details.ViewSinks[0].Name != "cache" {
		t.Errorf("details parts %+v", details)
	}
	if len(data.Pods) != 4 {
		t.Errorf("%d pods, want 4", len(data.Pods))
	}
	topics := map[string]int{}
	for i, tp := range data.Topics {
		topics[tp.Name] = i
	}
	enriched := data.Topics[topics[meshtest.TopicEnriched]]
	if len(enriched.ProcessorInputs) != 1 || enriched.ProcessorInputs[0].Processor.Name != "checker" || names(enriched.Sinks)[0] != "warehouse" {
		t.Errorf("enriched topic %+v", enriched)
	}
	if st := data.Topics[topics[meshtest.TopicState]]; len(st.ProcessorPersistences) != 1 || st.ProcessorPersistences[0].Name != "enricher" {
		t.Errorf("state topic %+v", st)
	}
	if d := data.Topics[topics[meshtest.TopicDetails]]; len(d.ViewSinks) != 1 {
		t.Errorf("details topic %+v", d)
	}

	// By id, as the old UI navigates.
	var byID struct {
		ServiceByID   *named `json:"serviceById"`
		ComponentByID *named `json:"componentById"`
		Missing       *named `json:"missing"`
	}
	query(t, f.url, `query($s: ID!, $c: ID!) { serviceById(id: $s) { id name } componentById(id: $c) { id name } missing: serviceById(id: "Service:nope") { id } }`,
		map[string]any{"s": devices.ID, "c": heartbeats.ID}, &byID)
	if byID.ServiceByID == nil || byID.ServiceByID.Name != "devices" || byID.ComponentByID == nil || byID.ComponentByID.Name != "heartbeats" || byID.Missing != nil {
		t.Errorf("by id %+v", byID)
	}
}

func TestNewFields(t *testing.T) {
	f := setup(t)
	var data struct {
		Devices struct {
			Dependents []named `json:"dependents"`
			Pods       []named `json:"pods"`
		} `json:"devices"`
		Topic struct {
			Type      string `json:"type"`
			Producers []struct {
				Typename string `json:"__typename"`
				Name     string `json:"name"`
			} `json:"producers"`
			Consumers []struct {
				Typename string `json:"__typename"`
				ID       string `json:"id"`
			} `json:"consumers"`
			ProducerServices []named `json:"producerServices"`
			ConsumerServices []named `json:"consumerServices"`
		} `json:"topic"`
		Heartbeat struct {
			MessageSchema struct {
				Name    string `json:"name"`
				File    string `json:"file"`
				Service named  `json:"service"`
				Fields  []struct {
					Name    string  `json:"name"`
					Number  int     `json:"number"`
					Type    string  `json:"type"`
					Label   string  `json:"label"`
					KeyType *string `json:"keyType"`
				} `json:"fields"`
			} `json:"messageSchema"`
		} `json:"heartbeat"`
		Search []struct {
			Typename string `json:"__typename"`
			ID       string `json:"id"`
		} `json:"search"`
		Pods []struct {
			named
			Address    string  `json:"address"`
			Source     string  `json:"source"`
			Healthy    bool    `json:"healthy"`
			FirstSeen  string  `json:"firstSeen"`
			LastSeen   *string `json:"lastSeen"`
			LastScrape *string `json:"lastScrape"`
			LastError  *string `json:"lastError"`
			Service    *named  `json:"service"`
		} `json:"pods"`
	}
	query(t, f.url, `{
		devices: serviceById(id: "Service:devices") { dependents { name } pods { id } }
		topic: topicById(id: "Topic:kafmesh.deviceId.EnrichedHeartbeat") { type
			producers { __typename ... on Processor { name } }
			consumers { __typename ... on Processor { id } ... on Sink { id } }
			producerServices { name } consumerServices { name } }
		heartbeat: topicById(id: "Topic:kafmesh.deviceId.Heartbeat") { messageSchema { name file service { name } fields { name number type label keyType } } }
		search(text: "enrich") { __typename ... on Processor { id } ... on Topic { id } }
		pods { id name address source healthy firstSeen lastSeen lastScrape lastError service { name } }
	}`, nil, &data)

	if !slices.Equal(names(data.Devices.Dependents), []string{"alerts"}) || len(data.Devices.Pods) != 2 {
		t.Errorf("devices %+v", data.Devices)
	}
	tp := data.Topic
	if tp.Type != "PROTOBUF" || len(tp.Producers) != 1 || tp.Producers[0].Typename != "Processor" || tp.Producers[0].Name != "enricher" {
		t.Errorf("producers %+v", tp)
	}
	var consumers []string
	for _, c := range tp.Consumers {
		consumers = append(consumers, c.Typename+" "+c.ID)
	}
	if !slices.Equal(consumers, []string{"Processor Processor:alerts/rules/checker", "Sink Sink:devices/heartbeats/warehouse"}) {
		t.Errorf("consumers %v", consumers)
	}
	if !slices.Equal(names(tp.ProducerServices), []string{"devices"}) || !slices.Equal(names(tp.ConsumerServices), []string{"alerts", "devices"}) {
		t.Errorf("services %v %v", tp.ProducerServices, tp.ConsumerServices)
	}
	ms := data.Heartbeat.MessageSchema
	if ms.Name != "kafmesh.deviceId.Heartbeat" || ms.File != "kafmesh/deviceId/heartbeat.proto" || ms.Service.Name != "devices" || len(ms.Fields) != 5 {
		t.Fatalf("message schema %+v", ms)
	}
	if c := ms.Fields[3]; c.Name != "counters" || c.Label != "map" || c.Type != "int64" || c.KeyType == nil || *c.KeyType != "string" || c.Number != 4 {
		t.Errorf("map field %+v", c)
	}
	var hits []string
	for _, h := range data.Search {
		hits = append(hits, h.Typename+" "+h.ID)
	}
	if !slices.Equal(hits, []string{"Processor Processor:devices/heartbeats/enricher", "Topic Topic:devices.heartbeats.enricher-table", "Topic Topic:kafmesh.deviceId.EnrichedHeartbeat"}) {
		t.Errorf("search %v", hits)
	}
	healthy := 0
	for _, p := range data.Pods {
		if _, err := time.Parse(time.RFC3339, p.FirstSeen); err != nil {
			t.Errorf("firstSeen %q: %v", p.FirstSeen, err)
		}
		if p.Source != "static" || p.Address != p.Name {
			t.Errorf("pod %+v", p)
		}
		if p.Address == f.refusing {
			if p.Healthy || p.LastError == nil || p.LastSeen != nil || p.LastScrape == nil || p.Service != nil {
				t.Errorf("refusing pod %+v", p)
			}
			continue
		}
		if p.Healthy && p.LastError == nil && p.LastSeen != nil && p.Service != nil {
			healthy++
		}
	}
	if healthy != 3 {
		t.Errorf("%d healthy pods with a service, want 3", healthy)
	}
}

func TestLimitsAndReadOnly(t *testing.T) {
	f := setup(t)
	deep := "{ services { components { service { components { service { components { service { components { service { components { service { components { service { components { service { name } } } } } } } } } } } } } } } }"
	if resp := post(t, f.url, deep, nil); len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "limit of 15") {
		t.Errorf("deep query: %+v", resp.Errors)
	}
	// A fragment cannot hide depth.
	frag := "fragment C on Component { service { components { service { components { service { components { service { components { service { name } } } } } } } } } } { services { components { ...C } } } "
	frag = strings.Replace(frag, "{ services { components { ...C } } }", "{ services { components { service { components { service { components { ...C } } } } } } }", 1)
	if resp := post(t, f.url, frag, nil); len(resp.Errors) == 0 {
		t.Error("a deep query through a fragment was accepted")
	}
	if resp := post(t, f.url, `mutation { x }`, nil); len(resp.Errors) == 0 {
		t.Error("a mutation was accepted")
	}
	// Introspection stays possible within the limits (GraphiQL, codegen).
	var intro struct {
		Schema struct {
			QueryType struct{ Name string } `json:"queryType"`
		} `json:"__schema"`
	}
	query(t, f.url, `{ __schema { queryType { name } types { name fields { name type { name kind ofType { name kind ofType { name kind ofType { name } } } } } } } }`, nil, &intro)
	if intro.Schema.QueryType.Name != "Query" {
		t.Errorf("introspection %+v", intro)
	}
}

func op(value string) *watchv1.Operation {
	return &watchv1.Operation{
		StartTime: timestamppb.New(time.UnixMilli(1700000000000)), EndTime: timestamppb.New(time.UnixMilli(1700000000007)),
		Input: &watchv1.Input{Topic: meshtest.TopicHeartbeat, Message: "kafmesh.deviceId.Heartbeat", Value: value},
		Actions: []*watchv1.Action{
			{Action: &watchv1.Action_ActionJoin{ActionJoin: &watchv1.Join{Topic: meshtest.TopicDetails, Message: "kafmesh.deviceId.Details", Value: `{"name":"d1"}`}}},
			{Action: &watchv1.Action_ActionOutput{ActionOutput: &watchv1.Output{Topic: meshtest.TopicEnriched, Message: "kafmesh.deviceId.EnrichedHeartbeat", Key: "device-1", Value: `{"ok":true}`}}},
		},
	}
}

const watchQuery = `subscription($id: ID!, $key: String!) {
	watchProcessor(options: { processorId: $id, key: $key }) {
		startTime endTime input { topic value }
		actions { __typename topic message value ... on Output { key } }
		pod { address }
	}
}`

type watchPayload struct {
	Data *struct {
		WatchProcessor *struct {
			StartTime int64 `json:"startTime"`
			EndTime   int64 `json:"endTime"`
			Input     struct{ Topic, Value string }
			Actions   []struct {
				Typename string `json:"__typename"`
				Topic    string `json:"topic"`
				Value    string `json:"value"`
				Key      string `json:"key"`
			} `json:"actions"`
			Pod struct{ Address string } `json:"pod"`
		} `json:"watchProcessor"`
	} `json:"data"`
	Errors []struct{ Message string } `json:"errors"`
}

func TestWatchProcessorOverBothWebsocketProtocols(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			f := setup(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := dialGraphQL(t, ctx, f.url, proto)

			c.subscribe("1", watchQuery, map[string]any{"id": "Processor:devices/heartbeats/enricher", "key": "device-1"})
			f.devA.WaitWatchers(t, 1)
			f.devB.WaitWatchers(t, 1)
			f.devA.Emit("heartbeats", "enricher", "device-1", op(`{"from":"a"}`))
			f.devB.Emit("heartbeats", "enricher", "device-1", op(`{"from":"b"}`))
			var from []string
			for i := 0; i < 2; i++ {
				p := c.next("1")
				if len(p.Errors) > 0 || p.Data == nil || p.Data.WatchProcessor == nil {
					t.Fatalf("payload %+v", p)
				}
				w := p.Data.WatchProcessor
				if w.StartTime != 1700000000000 || w.EndTime != 1700000000007 || w.Input.Topic != meshtest.TopicHeartbeat || len(w.Actions) != 2 ||
					w.Actions[0].Typename != "Join" || w.Actions[1].Typename != "Output" || w.Actions[1].Key != "device-1" {
					t.Fatalf("operation %+v", w)
				}
				from = append(from, w.Input.Value+"@"+w.Pod.Address)
			}
			sort.Strings(from)
			want := []string{`{"from":"a"}@` + f.devA.Addr, `{"from":"b"}@` + f.devB.Addr}
			sort.Strings(want)
			if !slices.Equal(from, want) {
				t.Fatalf("operations from %v, want %v", from, want)
			}

			// One pod dies: its failure arrives as an error, the stream goes on.
			f.devB.Stop()
			p := c.next("1")
			if len(p.Errors) == 0 || !strings.Contains(p.Errors[0].Message, f.devB.Addr) {
				t.Fatalf("after a pod died: %+v", p)
			}
			f.devA.Emit("heartbeats", "enricher", "device-1", op(`{"still":"a"}`))
			if p := c.next("1"); len(p.Errors) > 0 || p.Data.WatchProcessor.Input.Value != `{"still":"a"}` {
				t.Fatalf("after the error: %+v", p)
			}

			// An unknown processor is an error, not a crash; the connection lives on.
			c.subscribe("2", watchQuery, map[string]any{"id": "Processor:nope/x/y", "key": "k"})
			if msg := c.errorOf("2"); !strings.Contains(msg, "unknown processor") {
				t.Fatalf("unknown processor: %q", msg)
			}
			f.devA.Emit("heartbeats", "enricher", "device-1", op(`{"after":"unknown"}`))
			if p := c.next("1"); p.Data.WatchProcessor.Input.Value != `{"after":"unknown"}` {
				t.Fatalf("stream after another subscription failed: %+v", p)
			}
		})
	}
}
