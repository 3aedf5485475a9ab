package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startKafmesh runs the command as a separate process and returns it with
// a reader of its standard output.
func startKafmesh(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "KAFMESH_RUN_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// readUntil reads lines until one matches re, and returns its submatches.
func readUntil(t *testing.T, r *bufio.Reader, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	found := make(chan []string, 1)
	go func() {
		for {
			line, err := r.ReadString('\n')
			if m := re.FindStringSubmatch(line); m != nil {
				found <- m
				return
			}
			if err != nil {
				close(found)
				return
			}
		}
	}()
	select {
	case m, ok := <-found:
		if !ok {
			t.Fatalf("output ended without a line matching %s", re)
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("no line matching %s within %s", re, timeout)
	}
	return nil
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The README's first command as a user runs it: kafmesh dev prints where
// the UI is, the UI and the API answer, and Ctrl-C stops it with status 0.
// kafmesh discover, pointed at the service dev started, serves the UI too.
func TestDevCommandRunsTheMeshUntilInterrupted(t *testing.T) {
	dev, out := startKafmesh(t, "dev", "--listen", "127.0.0.1:0", "--devices", "3")
	url := readUntil(t, out, regexp.MustCompile(`web UI\s+(http://\S+/)`), 90*time.Second)[1]
	service := readUntil(t, out, regexp.MustCompile(`gRPC on (\S+):`), 5*time.Second)[1]

	if code, page := httpGet(t, url); code != 200 || !strings.Contains(page, `<script src="app.js?v=`) {
		t.Errorf("GET %s: %d\n%s", url, code, page)
	}
	resp, err := http.Post(url+"query", "application/json", strings.NewReader(`{"query":"{ services { name } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"name":"kafmesh"`) {
		t.Errorf("services: %s", b)
	}

	discover, dout := startKafmesh(t, "discover", "--listen", "127.0.0.1:0", "--target", service, "--store", "discover.db", "--log-level", "warn")
	addr := readUntil(t, dout, regexp.MustCompile(`listening on (\S+)`), 30*time.Second)[1]
	if code, page := httpGet(t, "http://"+addr+"/#/"); code != 200 || !strings.Contains(page, `<main id="page"`) {
		t.Errorf("kafmesh discover does not serve the UI: %d\n%s", code, page)
	}
	_ = discover.Process.Signal(syscall.SIGTERM)
	_ = discover.Wait()

	if err := dev.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	readUntil(t, out, regexp.MustCompile(`kafmesh dev: stopped\.`), 60*time.Second)
	if err := dev.Wait(); err != nil {
		t.Errorf("kafmesh dev after Ctrl-C: %v", err)
	}
}
