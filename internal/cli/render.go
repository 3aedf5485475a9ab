package cli

import (
	"fmt"
	"strings"
)

// renderMermaid writes the mesh as a Mermaid flowchart: a subgraph per
// component, topics as cylinders.
func renderMermaid(m mesh) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, c := range m.components {
		fmt.Fprintf(&b, "  subgraph c%d[%s]\n", i, mermaidLabel(c.name))
		for _, p := range c.parts {
			fmt.Fprintf(&b, "    %s[%s]\n", p.id, mermaidLabel(p.label))
		}
		b.WriteString("  end\n")
	}
	for _, t := range m.topics {
		fmt.Fprintf(&b, "  %s[(%s)]\n", t.id, mermaidLabel(t.label))
	}
	for _, e := range m.edges {
		fmt.Fprintf(&b, "  %s -->|%s| %s\n", e.from, e.label, e.to)
	}
	return b.String()
}

// mermaidLabel quotes a label; a double quote inside is written as the
// entity #quot; (Mermaid has no backslash escapes).
func mermaidLabel(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}

// renderDot writes the mesh as a Graphviz digraph: a cluster per component,
// topics as cylinders.
func renderDot(m mesh) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(m.service))
	b.WriteString("  rankdir=LR;\n")
	for i, c := range m.components {
		fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%s;\n", i, dotQuote(c.name))
		for _, p := range c.parts {
			fmt.Fprintf(&b, "    %s [label=%s, shape=box];\n", p.id, dotQuote(p.label))
		}
		b.WriteString("  }\n")
	}
	for _, t := range m.topics {
		fmt.Fprintf(&b, "  %s [label=%s, shape=cylinder];\n", t.id, dotQuote(t.label))
	}
	for _, e := range m.edges {
		fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", e.from, e.to, dotQuote(e.label))
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote makes a DOT quoted string: backslashes and double quotes are
// escaped.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
