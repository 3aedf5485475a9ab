package codegen

import (
	"strings"
)

// commentWidth is the column generated comments are wrapped at (a tab
// counts as four).
const commentWidth = 80

// reflow re-wraps the full-line // comments of src at commentWidth, so the
// templates and the descriptions from YAML need no hand wrapping. Lines are
// joined within a paragraph; a blank comment line, a list item ("- ", "* ")
// and an indented (code) line keep their breaks.
func reflow(src string) string {
	lines := strings.Split(src, "\n")
	var out []string
	var para []string // words of the paragraph being collected
	indent := ""
	flush := func() {
		if len(para) == 0 {
			return
		}
		width := commentWidth - len(strings.ReplaceAll(indent, "\t", "    ")) - len("// ")
		line := ""
		for _, w := range para {
			switch {
			case line == "":
				line = w
			case len(line)+1+len(w) > width:
				out = append(out, indent+"// "+line)
				line = w
			default:
				line += " " + w
			}
		}
		out = append(out, indent+"// "+line)
		para = nil
	}
	for _, l := range lines {
		ind, text, isComment := commentLine(l)
		if !isComment || ind != indent {
			flush()
			indent = ind
		}
		switch {
		case !isComment:
			out = append(out, l)
		case text == "" || strings.HasPrefix(text, " ") || strings.HasPrefix(text, "\t"):
			flush()
			out = append(out, l)
		default:
			if strings.HasPrefix(text, "- ") || strings.HasPrefix(text, "* ") {
				flush()
			}
			para = append(para, strings.Fields(text)...)
		}
	}
	flush()
	return strings.Join(out, "\n")
}

// commentLine splits a full-line comment into its indentation and its text
// after "// " ("" for a bare "//").
func commentLine(l string) (indent, text string, ok bool) {
	trimmed := strings.TrimLeft(l, "\t ")
	indent = l[:len(l)-len(trimmed)]
	switch {
	case trimmed == "//":
		return indent, "", true
	case strings.HasPrefix(trimmed, "// "):
		return indent, trimmed[len("// "):], true
	}
	return "", "", false
}
