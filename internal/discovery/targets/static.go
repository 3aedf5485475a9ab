package targets

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Static is a fixed list of addresses plus, optionally, a targets file that
// is read again on every call, so editing the file changes the targets
// without a restart.
//
// The file holds one target per line: "host:port", optionally followed by
// whitespace and a display name. Blank lines and lines starting with # are
// ignored. A malformed line is an error that names file:line:column; the
// last good content of the file is used until it is fixed.
type Static struct {
	addrs []Target
	file  string

	mu       sync.Mutex
	lastGood []Target
}

// NewStatic validates addrs ("host:port" each) and returns the source.
// file may be empty.
func NewStatic(addrs []string, file string) (*Static, error) {
	s := &Static{file: file}
	for i, a := range addrs {
		if err := checkAddress(a); err != nil {
			return nil, fmt.Errorf("--target #%d %q: %w", i+1, a, err)
		}
		s.addrs = append(s.addrs, staticTarget(a, a))
	}
	return s, nil
}

func staticTarget(addr, name string) Target {
	return Target{ID: mesh.PodID("", addr, ""), Name: name, Address: addr, Source: "static"}
}

// Name implements Source.
func (s *Static) Name() string {
	if s.file != "" {
		return "static targets (" + s.file + ")"
	}
	return "static targets"
}

// Targets implements Source.
func (s *Static) Targets(context.Context) ([]Target, error) {
	out := append([]Target(nil), s.addrs...)
	if s.file == "" {
		return out, nil
	}
	fromFile, err := ReadTargetsFile(s.file)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return append(out, s.lastGood...), err
	}
	s.lastGood = fromFile
	return append(out, fromFile...), nil
}

// ReadTargetsFile parses a targets file (see Static).
func ReadTargetsFile(path string) ([]Target, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTargets(path, b)
}

// ParseTargets parses the content of a targets file; name is used in
// errors.
func ParseTargets(name string, b []byte) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Text()
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		col := strings.Index(raw, text) + 1
		fields := strings.Fields(text)
		addr := fields[0]
		if err := checkAddress(addr); err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %q: %w", name, line, col, addr, err)
		}
		display := addr
		if len(fields) > 1 {
			display = strings.Join(fields[1:], " ")
		}
		out = append(out, staticTarget(addr, display))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// checkAddress accepts host:port with a numeric port in 1..65535.
func checkAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if host == "" {
		return fmt.Errorf("want host:port: no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 1..65535", port)
	}
	return nil
}
