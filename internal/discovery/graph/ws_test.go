package graph_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
)

// wsClient speaks graphql-transport-ws or the older graphql-ws over a real
// websocket.
type wsClient struct {
	t     *testing.T
	ctx   context.Context
	conn  *coderws.Conn
	proto string

	mu   sync.Mutex
	msgs map[string]chan wsMessage
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialGraphQL(t *testing.T, ctx context.Context, url, proto string) *wsClient {
	t.Helper()
	conn, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &coderws.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatal(err)
	}
	if conn.Subprotocol() != proto {
		t.Fatalf("server chose subprotocol %q, want %q", conn.Subprotocol(), proto)
	}
	t.Cleanup(func() { conn.Close(coderws.StatusNormalClosure, "") })
	c := &wsClient{t: t, ctx: ctx, conn: conn, proto: proto, msgs: map[string]chan wsMessage{}}
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	go c.read()
	if m := c.wait(""); m.Type != "connection_ack" {
		t.Fatalf("got %+v, want connection_ack", m)
	}
	return c
}

func (c *wsClient) send(m wsMessage) {
	b, _ := json.Marshal(m)
	if err := c.conn.Write(c.ctx, coderws.MessageText, b); err != nil {
		c.t.Errorf("websocket write: %v", err)
	}
}

func (c *wsClient) box(id string) chan wsMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.msgs[id] == nil {
		c.msgs[id] = make(chan wsMessage, 64)
	}
	return c.msgs[id]
}

func (c *wsClient) read() {
	for {
		_, b, err := c.conn.Read(c.ctx)
		if err != nil {
			return
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			continue
		}
		switch m.Type {
		case "ping":
			c.send(wsMessage{Type: "pong"})
			continue
		case "ka", "pong":
			continue
		}
		c.box(m.ID) <- m
	}
}

func (c *wsClient) wait(id string) wsMessage {
	c.t.Helper()
	select {
	case m := <-c.box(id):
		return m
	case <-time.After(10 * time.Second):
		c.t.Fatalf("no message for subscription %q", id)
	}
	return wsMessage{}
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	typ := "subscribe"
	if c.proto == "graphql-ws" {
		typ = "start"
	}
	c.send(wsMessage{ID: id, Type: typ, Payload: payload})
}

// next returns the next result of subscription id.
func (c *wsClient) next(id string) watchPayload {
	c.t.Helper()
	m := c.wait(id)
	want := "next"
	if c.proto == "graphql-ws" {
		want = "data"
	}
	if m.Type != want {
		c.t.Fatalf("got %s %s, want %s", m.Type, m.Payload, want)
	}
	var p watchPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		c.t.Fatalf("payload %s: %v", m.Payload, err)
	}
	return p
}

// errorOf returns the error that ended subscription id.
func (c *wsClient) errorOf(id string) string {
	c.t.Helper()
	m := c.wait(id)
	switch m.Type {
	case "error":
		return string(m.Payload)
	case "next", "data":
		// Some protocols carry the resolver's error in a result.
		var p watchPayload
		_ = json.Unmarshal(m.Payload, &p)
		if len(p.Errors) > 0 {
			return p.Errors[0].Message
		}
	}
	c.t.Fatalf("got %s %s, want an error", m.Type, m.Payload)
	return ""
}
