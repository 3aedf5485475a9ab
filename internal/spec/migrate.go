package spec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"
)

// Migration is what [Migrate] would change to turn a kafmesh 2021
// definition into the strict form: the changes, with their positions, and
// the files to write and remove.
type Migration struct {
	// Changes are the edits in the order found, each at the position of
	// what it changes.
	Changes Diagnostics
	// Write holds the new content of every file that changes (absolute
	// paths).
	Write map[string][]byte
	// Remove lists files whose content moved elsewhere (absolute paths).
	Remove []string
}

// componentLists are the keys of a component that hold lists of parts.
var componentLists = []string{"sources", "processors", "sinks", "views", "viewSources", "viewSinks"}

// Migrate reads the definition at path (relative to workDir) and its
// component files and computes the strict form: unknown (dead) keys
// removed, emitters renamed sources, and a component declared in several
// files merged into its first file. It changes nothing on disk; the caller
// writes m.Write and removes m.Remove. A file that is not valid YAML is an
// error (run kafmesh check for the details).
func Migrate(path, workDir string) (*Migration, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(workDir, path)
	}
	m := &Migration{Write: map[string][]byte{}}
	display := func(abs string) string {
		if rel, err := filepath.Rel(workDir, abs); err == nil && !filepath.IsAbs(rel) && (len(rel) < 2 || rel[:2] != "..") {
			return rel
		}
		return abs
	}
	note := func(file string, n *yaml.Node, format string, args ...any) {
		m.Changes = append(m.Changes, Diagnostic{Severity: Warning, Position: Position{File: display(file), Line: n.Line, Col: n.Column}, Message: fmt.Sprintf(format, args...)})
	}
	read := func(file string) (*yaml.Node, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w (kafmesh check shows where)", display(file), err)
		}
		return &doc, nil
	}
	// prune removes the keys of mapping n that are not in allowed.
	prune := func(file string, n *yaml.Node, what string, allowed []string) bool {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return false
		}
		changed := false
		for i := 0; i+1 < len(n.Content); {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.Value != "<<" && !slices.Contains(allowed, k.Value) {
				note(file, k, "removed unknown key %q in %s", k.Value, what)
				// The comments written above and beside the key go
				// with it; a foot comment (often the end of a section
				// or file) stays, on what came before.
				if f := joinComments(k.FootComment, n.Content[i+1].FootComment); f != "" {
					if i >= 2 {
						n.Content[i-2].FootComment = joinComments(n.Content[i-2].FootComment, f)
					} else {
						n.FootComment = joinComments(n.FootComment, f)
					}
				}
				n.Content = slices.Delete(n.Content, i, i+2)
				changed = true
				continue
			}
			i += 2
		}
		return changed
	}
	value := func(n *yaml.Node, key string) *yaml.Node {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	// docRoot is the top mapping of a document.
	docRoot := func(doc *yaml.Node) *yaml.Node {
		if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
			return deref(doc.Content[0])
		}
		return deref(doc)
	}
	items := func(n *yaml.Node) []*yaml.Node {
		if n = deref(n); n != nil && n.Kind == yaml.SequenceNode {
			return n.Content
		}
		return nil
	}

	def, err := read(path)
	if err != nil {
		return nil, err
	}
	root := docRoot(def)
	defChanged := prune(path, root, "the service definition", serviceKeys)
	defChanged = prune(path, value(root, "output"), "output", outputKeys) || defChanged
	defChanged = prune(path, value(root, "messages"), "messages", messagesKeys) || defChanged
	defChanged = prune(path, value(root, "defaults"), "defaults", defaultsKeys) || defChanged
	if defChanged {
		if m.Write[path], err = encodeYAML(def); err != nil {
			return nil, err
		}
	}

	// The component files, as Load finds them.
	var files []string
	for _, g := range items(value(root, "components")) {
		if g.Kind != yaml.ScalarNode {
			continue
		}
		pattern := g.Value
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(filepath.Dir(path), pattern)
		}
		matches, err := doublestar.FilepathGlob(pattern, doublestar.WithFilesOnly())
		if err != nil {
			return nil, fmt.Errorf("components glob %q: %w", g.Value, err)
		}
		slices.Sort(matches)
		for _, f := range matches {
			if !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	}
	type comp struct {
		file string
		doc  *yaml.Node
	}
	var comps []comp
	first := map[string]int{}
	changed := map[string]bool{}
	for _, file := range files {
		doc, err := read(file)
		if err != nil {
			return nil, err
		}
		c := docRoot(doc)
		if c == nil || c.Kind != yaml.MappingNode {
			continue
		}
		ch := false
		// emitters was renamed sources.
		for i := 0; i+1 < len(c.Content); i += 2 {
			if c.Content[i].Value != "emitters" {
				continue
			}
			if src := value(c, "sources"); src != nil && deref(src).Kind == yaml.SequenceNode {
				moved := items(c.Content[i+1])
				carryComments(moved, keyNode(c, "sources"), c.Content[i], c.Content[i+1])
				deref(src).Content = append(deref(src).Content, moved...)
				note(file, c.Content[i], "moved the emitters into sources")
				c.Content = slices.Delete(c.Content, i, i+2)
			} else {
				note(file, c.Content[i], "renamed emitters to sources")
				c.Content[i].Value = "sources"
			}
			ch = true
			break
		}
		ch = prune(file, c, "the component", componentKeys) || ch
		for _, p := range items(value(c, "processors")) {
			ch = prune(file, p, "processor", processorKeys) || ch
			for key, role := range map[string]Role{"inputs": RoleInput, "joins": RoleJoin, "lookups": RoleLookup, "outputs": RoleOutput} {
				for _, e := range items(value(p, key)) {
					ch = prune(file, e, entryNoun(role), entryKeys(role)) || ch
				}
			}
			ch = prune(file, value(p, "persistence"), "persistence", entryKeys(RoleState)) || ch
		}
		for key, role := range map[string]Role{"sources": RoleSource, "sinks": RoleSink, "views": RoleView, "viewSources": RoleViewSource, "viewSinks": RoleViewSink} {
			for _, e := range items(value(c, key)) {
				ch = prune(file, e, entryNoun(role), entryKeys(role)) || ch
			}
		}
		changed[file] = ch
		name := value(c, "name")
		if name == nil || deref(name).Kind != yaml.ScalarNode {
			comps = append(comps, comp{file, doc})
			continue
		}
		i, seen := first[deref(name).Value]
		if !seen {
			first[deref(name).Value] = len(comps)
			comps = append(comps, comp{file, doc})
			continue
		}
		// A component split over two files: its parts join the first,
		// with their comments. The comments of what does not move (the
		// file's header, the name key) go above the first part moved.
		into := docRoot(comps[i].doc)
		moves := map[string]bool{}
		for _, key := range componentLists {
			moves[key] = len(items(value(c, key))) > 0
		}
		rest := []string{doc.HeadComment, doc.LineComment, c.HeadComment, c.LineComment}
		for j := 0; j+1 < len(c.Content); j += 2 {
			if k, v := c.Content[j], c.Content[j+1]; !moves[k.Value] {
				rest = append(rest, k.HeadComment, k.LineComment, v.HeadComment, v.LineComment, k.FootComment, v.FootComment)
			}
		}
		rest = append(rest, c.FootComment, doc.FootComment)
		var firstMoved *yaml.Node
		for _, key := range componentLists {
			if !moves[key] {
				continue
			}
			k, v := keyNode(c, key), value(c, key)
			parts := items(v)
			if dst := value(into, key); dst != nil && deref(dst).Kind == yaml.SequenceNode {
				carryComments(parts, keyNode(into, key), k, v)
				deref(dst).Content = append(deref(dst).Content, parts...)
				if firstMoved == nil {
					firstMoved = parts[0]
				}
			} else {
				// The key and its list move as they are, comments and all.
				// A list written as an alias moves as the anchored list
				// itself (its anchor stays in this file, which goes, or
				// was under a key pruned above), the alias's comments on
				// the key.
				list := deref(v)
				if list != v {
					k.HeadComment = joinComments(k.HeadComment, v.HeadComment, v.LineComment)
					k.FootComment = joinComments(k.FootComment, v.FootComment)
				}
				into.Content = append(into.Content, k, list)
				if firstMoved == nil {
					firstMoved = k
				}
			}
		}
		if header := joinComments(rest...); header != "" && firstMoved != nil {
			firstMoved.HeadComment = joinComments("# (merged from "+display(file)+")", header, firstMoved.HeadComment)
		}
		note(file, c, "merged component %q into %s and removed this file", deref(name).Value, display(comps[i].file))
		changed[comps[i].file] = true
		changed[file] = false
		m.Remove = append(m.Remove, file)
	}
	m.Changes.Sort()
	for _, c := range comps {
		if changed[c.file] {
			if m.Write[c.file], err = encodeYAML(c.doc); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func encodeYAML(doc *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// carryComments keeps the comments of a list's key and value node when the
// list's items move into another list, under dstKey: the ones above and
// beside go above the first item, the foot comments below the list.
func carryComments(items []*yaml.Node, dstKey, key, list *yaml.Node) {
	if len(items) == 0 {
		return
	}
	items[0].HeadComment = joinComments(key.HeadComment, key.LineComment, list.HeadComment, list.LineComment, items[0].HeadComment)
	dstKey.FootComment = joinComments(dstKey.FootComment, key.FootComment, list.FootComment)
}

// keyNode is the key node of key in mapping n (which holds it).
func keyNode(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

// joinComments joins the non-empty comment blocks, one per line.
func joinComments(blocks ...string) string {
	var out []string
	for _, b := range blocks {
		if b != "" {
			out = append(out, b)
		}
	}
	return strings.Join(out, "\n")
}
