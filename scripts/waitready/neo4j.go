package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runNeo4j waits until Neo4j answers a Bolt handshake and runs a query.
func runNeo4j(args []string) error {
	fs := newFlags("neo4j")
	bolt := fs.String("bolt", "127.0.0.1:17687", "Bolt host:port")
	httpAddr := fs.String("http", "127.0.0.1:17474", "HTTP host:port (for the query check)")
	database := fs.String("database", "neo4j", "database the query runs against")
	pid := fs.Int("pid", 0, "stop waiting when this process exits (0: do not watch a process)")
	timeout := fs.Duration("timeout", 120*time.Second, "how long to wait")
	_ = fs.Parse(args)
	return waitFor("neo4j at bolt://"+*bolt, *pid, *timeout, func(ctx context.Context) error {
		if err := boltHandshake(ctx, *bolt); err != nil {
			return err
		}
		return cypherReturnsOne(ctx, *httpAddr, *database)
	})
}

// boltMagic opens every Bolt connection ("GoGoBolt").
const boltMagic = 0x6060B017

// boltHandshake sends the Bolt preamble proposing protocol versions 5.0 and
// 4.4 and succeeds when the server agrees to one of them.
func boltHandshake(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("bolt port not answering: %w", err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	// Magic, then four big-endian version proposals: 0x00000005 is 5.0,
	// 0x00000404 is 4.4, zeros are empty slots.
	var hello [20]byte
	binary.BigEndian.PutUint32(hello[0:], boltMagic)
	binary.BigEndian.PutUint32(hello[4:], 0x00000005)
	binary.BigEndian.PutUint32(hello[8:], 0x00000404)
	if _, err := conn.Write(hello[:]); err != nil {
		return fmt.Errorf("bolt handshake write: %w", err)
	}
	var agreed [4]byte
	if _, err := io.ReadFull(conn, agreed[:]); err != nil {
		return fmt.Errorf("bolt handshake read: %w", err)
	}
	if binary.BigEndian.Uint32(agreed[:]) == 0 {
		return errors.New("bolt server supports none of the proposed versions 5.0, 4.4")
	}
	return nil
}

// cypherReturnsOne runs RETURN 1 through Neo4j's HTTP transaction API, which
// succeeds only once the database is online (Bolt may listen earlier).
func cypherReturnsOne(ctx context.Context, addr, database string) error {
	body := []byte(`{"statements":[{"statement":"RETURN 1 AS ready"}]}`)
	url := "http://" + addr + "/db/" + database + "/tx/commit"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("query over http: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("query over http: reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("query over http: %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var result struct {
		Results []struct {
			Data []struct {
				Row []json.Number `json:"row"`
			} `json:"data"`
		} `json:"results"`
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&result); err != nil {
		return fmt.Errorf("query over http: decoding %q: %w", raw, err)
	}
	if len(result.Errors) > 0 {
		return fmt.Errorf("query over http: %s: %s", result.Errors[0].Code, result.Errors[0].Message)
	}
	if len(result.Results) != 1 || len(result.Results[0].Data) != 1 ||
		len(result.Results[0].Data[0].Row) != 1 || result.Results[0].Data[0].Row[0] != "1" {
		return fmt.Errorf("query over http: RETURN 1 answered %s", bytes.TrimSpace(raw))
	}
	return nil
}
