package graph

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// LegacyIDs maps the numeric ids of the 2021 kafmesh discovery (the row ids
// of its Postgres tables services and components) to today's ids, so that
// serviceById(id: 1) and componentById(id: 3) keep answering for clients
// that stored the old numbers. The numbers are not derivable from the mesh:
// they come from the 2021 database, exported once (see ReadLegacyIDs).
type LegacyIDs struct {
	services   map[string]string // old number -> today's id
	components map[string]string
}

// ReadLegacyIDs reads a legacy id file: CSV rows "service,<id>,<name>" and
// "component,<id>,<service name>,<component name>", as exported from the
// 2021 discovery's Postgres (docs/migrating-from-2021.md has the query).
// Blank lines and lines starting with # are skipped. An unknown kind, a
// non-numeric id, a missing name or one number given twice for a kind is
// an error naming the line.
func ReadLegacyIDs(path string) (*LegacyIDs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("legacy ids: %w", err)
	}
	defer f.Close()
	ids, err := ParseLegacyIDs(f)
	if err != nil {
		return nil, fmt.Errorf("legacy ids %s: %w", path, err)
	}
	return ids, nil
}

// ParseLegacyIDs parses the legacy id file format of ReadLegacyIDs.
func ParseLegacyIDs(r io.Reader) (*LegacyIDs, error) {
	ids := &LegacyIDs{services: map[string]string{}, components: map[string]string{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		kind := strings.ToLower(strings.TrimSpace(rec[0]))
		var m map[string]string
		var id string
		switch {
		case kind == "service" && len(rec) == 3 && rec[2] != "":
			m, id = ids.services, mesh.ServiceID(rec[2])
		case kind == "component" && len(rec) == 4 && rec[2] != "" && rec[3] != "":
			m, id = ids.components, mesh.ComponentID(rec[2], rec[3])
		default:
			return nil, fmt.Errorf("line %d: want service,<id>,<name> or component,<id>,<service>,<component>, not %q", line, strings.Join(rec, ","))
		}
		num := strings.TrimSpace(rec[1])
		if !isLegacyID(num) {
			return nil, fmt.Errorf("line %d: %q is not a numeric id", line, rec[1])
		}
		if _, dup := m[num]; dup {
			return nil, fmt.Errorf("line %d: %s id %s given twice", line, kind, num)
		}
		m[num] = id
	}
}

// Len is the number of ids mapped.
func (l *LegacyIDs) Len() int {
	if l == nil {
		return 0
	}
	return len(l.services) + len(l.components)
}

// isLegacyID reports whether id is a 2021 id: a decimal number.
func isLegacyID(id string) bool {
	_, err := strconv.ParseUint(id, 10, 63)
	return err == nil
}

// resolveID turns a 2021 numeric id of kind into today's id. Any other id
// passes unchanged. A numeric id the legacy ids do not map is an error
// that says what ids are now and how to find them.
func (r *Resolver) resolveID(kind mesh.Kind, id string) (string, error) {
	if !isLegacyID(id) {
		return id, nil
	}
	m := map[mesh.Kind]map[string]string{}
	if r.legacy != nil {
		m[mesh.KindService], m[mesh.KindComponent] = r.legacy.services, r.legacy.components
	}
	if to, ok := m[kind][id]; ok {
		return to, nil
	}
	how := "start discover with --legacy-ids to map the 2021 numbers"
	if r.legacy != nil {
		how = fmt.Sprintf("the --legacy-ids file maps no %s %s", strings.ToLower(string(kind)), id)
	}
	example, query := mesh.ServiceID("devices"), "services { id name }"
	if kind == mesh.KindComponent {
		example, query = mesh.ComponentID("devices", "heartbeats"), "services { name components { id name } }"
	}
	return "", fmt.Errorf("%s id %q is a numeric id of the 2021 discovery; ids are strings now (like %q): find it by name with `%s` or search(text:), or %s (docs/migrating-from-2021.md)",
		strings.ToLower(string(kind)), id, example, query, how)
}

// legacyByID is byID for the kinds the 2021 API had ById fields for.
func legacyByID[T any](ctx context.Context, r *Resolver, kind mesh.Kind, id string) (T, error) {
	id, err := r.resolveID(kind, id)
	if err != nil {
		var zero T
		return zero, err
	}
	return byID[T](ctx, id), nil
}
