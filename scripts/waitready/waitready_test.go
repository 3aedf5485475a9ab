package main

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestIsZombie(t *testing.T) {
	for stat, want := range map[string]bool{
		"123 (java) S 1 2 3":          false,
		"123 (java) Z 1 2 3":          true,
		"123 (my (odd) name) Z 1 2 3": true,
		"123 (sleep) R 1":             false,
		"garbage":                     false,
	} {
		if got := isZombie([]byte(stat)); got != want {
			t.Errorf("isZombie(%q) = %v, want %v", stat, got, want)
		}
	}
}

// fakeBolt accepts one connection, checks the preamble and answers version.
func fakeBolt(t *testing.T, version uint32) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		var hello [20]byte
		if _, err := io.ReadFull(conn, hello[:]); err != nil {
			return
		}
		if binary.BigEndian.Uint32(hello[:4]) != boltMagic {
			return // a real server hangs up on a bad preamble
		}
		var reply [4]byte
		binary.BigEndian.PutUint32(reply[:], version)
		_, _ = conn.Write(reply[:])
	}()
	return ln.Addr().String()
}

func TestBoltHandshake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := boltHandshake(ctx, fakeBolt(t, 5)); err != nil {
		t.Errorf("server agreeing to 5.0: %v", err)
	}
	if err := boltHandshake(ctx, fakeBolt(t, 0)); err == nil || !strings.Contains(err.Error(), "none of the proposed versions") {
		t.Errorf("server agreeing to nothing: got %v", err)
	}
}

func TestCypherReturnsOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, body, wantErr string
		status              int
	}{
		{"ready", `{"results":[{"columns":["ready"],"data":[{"row":[1],"meta":[null]}]}],"errors":[]}`, "", 200},
		{"database starting", `{"results":[],"errors":[{"code":"Neo.TransientError.General.DatabaseUnavailable","message":"starting"}]}`, "DatabaseUnavailable", 200},
		{"not found", `{"errors":[]}`, "404", 404},
		{"wrong answer", `{"results":[{"data":[{"row":[2]}]}],"errors":[]}`, "RETURN 1 answered", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/db/neo4j/tx/commit" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			err := cypherReturnsOne(ctx, strings.TrimPrefix(srv.URL, "http://"), "neo4j")
			if tc.wantErr == "" && err != nil {
				t.Errorf("got %v, want ready", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWaitForStopsWhenProcessExits(t *testing.T) {
	start := time.Now()
	// pid 2^22+1 is above Linux's pid_max limit, so it never exists.
	err := waitFor("svc", 1<<22+1, time.Minute, func(context.Context) error { return io.EOF })
	if err == nil || !strings.Contains(err.Error(), "process 4194305 exited") {
		t.Errorf("got %v, want an error saying the process exited", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("waited %v for a process that does not exist", time.Since(start))
	}
}

func TestWaitForTimesOutWithLastReason(t *testing.T) {
	calls := 0
	err := waitFor("svc", 0, 600*time.Millisecond, func(context.Context) error {
		calls++
		return io.ErrUnexpectedEOF
	})
	if err == nil || !strings.Contains(err.Error(), "not ready after 600ms") || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("got %v, want a timeout naming the last check's reason", err)
	}
	if calls < 2 {
		t.Errorf("checked %d times in 600ms, want it to retry", calls)
	}
	ready := 0
	if err := waitFor("svc", 0, time.Minute, func(context.Context) error {
		if ready++; ready < 3 {
			return io.EOF
		}
		return nil
	}); err != nil || ready != 3 {
		t.Errorf("got %v after %d checks, want ready on the third", err, ready)
	}
}
