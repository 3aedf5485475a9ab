package spec

import (
	"go/token"
	"regexp"
	"strings"
)

// The case conversions below reproduce, rune for rune, the ones the 2021
// kafmesh generator used (a 2019 snapshot of github.com/iancoleman/strcase).
// Topic and consumer group names are derived from them, and existing
// deployments keep their data under those names, so they are frozen here
// rather than taken from a library whose later versions convert differently.

// digitRun finds a letter followed by digits (and the letter after them):
// the digits become a word of their own and the letter after them starts a
// new word ("abc2def" → "abc2Def").
var digitRun = regexp.MustCompile(`([a-zA-Z])(\d+)([a-zA-Z]?)`)

// capitalRun splits an UpperCamel name into its words ("DeviceIdHeartbeat"
// → "Device", "Id", "Heartbeat"). Anything before the first capital is
// dropped, as the 2021 generator did.
var capitalRun = regexp.MustCompile(`[A-Z][^A-Z]*`)

// camel converts s to UpperCamel (upper) or lowerCamel. Separators are
// space, '_', '-' and '.'; the letter after one is upper-cased. ASCII
// letters and digits are kept (capitals as they are), everything else is
// dropped. The exact string "ID" becomes "Id"/"id".
func camel(s string, upper bool) string {
	if s == "" {
		return ""
	}
	if s == "ID" {
		s = "id"
	}
	if !upper && s[0] >= 'A' && s[0] <= 'Z' {
		s = string(s[0]+('a'-'A')) + s[1:]
	}
	s = digitRun.ReplaceAllString(s, "$1 $2 $3")
	s = strings.Trim(s, " ")
	var b strings.Builder
	capNext := upper
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			if capNext {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
		}
		capNext = r == '_' || r == ' ' || r == '-' || r == '.'
	}
	return b.String()
}

// upperCamel converts one word or phrase to UpperCamel.
func upperCamel(s string) string { return camel(s, true) }

// lowerCamel converts one word or phrase to lowerCamel.
func lowerCamel(s string) string { return camel(s, false) }

// partGoName is the Go name of a named part (processor, sink, view source,
// view sink): each space-separated word in UpperCamel, joined.
// "heartbeat enricher" → "HeartbeatEnricher".
func partGoName(name string) string {
	var b strings.Builder
	for _, w := range strings.Split(name, " ") {
		b.WriteString(upperCamel(w))
	}
	return b.String()
}

// componentGroupWord is how a component name appears in processor group
// names: the first space-separated word lowerCamel, the others UpperCamel.
func componentGroupWord(name string) string {
	var b strings.Builder
	for i, w := range strings.Split(name, " ") {
		if i == 0 {
			b.WriteString(lowerCamel(w))
		} else {
			b.WriteString(upperCamel(w))
		}
	}
	return b.String()
}

// fixInitialisms replaces the words "Id" and "Api" of an UpperCamel name by
// "ID" and "API" (golint's initialisms, as the 2021 generator did).
func fixInitialisms(name string) string {
	var b strings.Builder
	for _, w := range capitalRun.FindAllString(name, -1) {
		switch w {
		case "Id":
			b.WriteString("ID")
		case "Api":
			b.WriteString("API")
		default:
			b.WriteString(w)
		}
	}
	return b.String()
}

// nameProblem checks a human name (service, processor, sink, view source or
// view sink name) that is turned into Go and Kafka names by case
// conversion. It returns "" when the name is usable, else what is wrong.
func nameProblem(name string) string {
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ' ', r == '-', r == '_':
		default:
			return "character " + quoteRune(r) + " is not allowed; use ASCII letters, digits, spaces, '-' or '_'"
		}
	}
	goName := partGoName(name)
	switch {
	case goName == "":
		return "it has no letters"
	case goName[0] >= '0' && goName[0] <= '9':
		return "it would start with a digit (" + goName + "); start it with a letter"
	}
	return ""
}

func quoteRune(r rune) string {
	if r == '\'' {
		return `"'"`
	}
	return "'" + string(r) + "'"
}

// goPackageProblem checks a name used as a Go package name (a component
// name, output.package). It returns "" when the name is usable.
func goPackageProblem(name string) string {
	if name == "" {
		return "it is empty"
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case r >= '0' && r <= '9':
			if i == 0 {
				return "it starts with a digit"
			}
		default:
			return "character " + quoteRune(r) + " is not allowed; use ASCII letters, digits and '_'"
		}
	}
	if token.IsKeyword(name) {
		return "it is a Go keyword"
	}
	if name == "_" {
		return "it is the blank identifier"
	}
	return ""
}

// topicProblem checks a Kafka topic name: 1 to 249 characters from
// [a-zA-Z0-9._-], and neither "." nor "..".
func topicProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case len(name) > 249:
		return "it is longer than 249 characters"
	case name == "." || name == "..":
		return "it cannot be \".\" or \"..\""
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return "character " + quoteRune(r) + " is not allowed in a Kafka topic name; use ASCII letters, digits, '.', '_' or '-'"
		}
	}
	return ""
}
