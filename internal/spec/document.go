package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	goyamlparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"
)

// document parses one YAML file and returns its root node, or nil when the
// file is empty or not valid YAML (reported).
func (p *parser) document(src []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	err := decodeNode(dec, &doc)
	if errors.Is(err, io.EOF) || (err == nil && len(doc.Content) == 0) {
		p.errorf(Position{File: p.file, Line: 1, Col: 1}, "the file is empty; write the definition as a YAML mapping")
		return nil
	}
	if err != nil {
		p.syntaxError(src, err)
		return nil
	}
	var extra yaml.Node
	switch err := decodeNode(dec, &extra); {
	case err == nil:
		p.errorf(p.at(&extra), "a second YAML document starts here; a definition file holds one document: remove the \"---\" line and what follows it")
	case !errors.Is(err, io.EOF):
		p.syntaxError(src, err)
	}
	return doc.Content[0]
}

// decodeNode decodes the next document; a panic inside the YAML library is
// turned into an error so no input can crash the loader.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// yamlErrorLine matches yaml.v3's error text: "yaml: line 3: message" (the
// line is left out when it is the first one).
var yamlErrorLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxError reports a YAML syntax error. yaml.v3 gives no column and its
// line is often where the enclosing block starts, so the exact place is
// taken from a second parser (goccy/go-yaml) when it finds the error too.
func (p *parser) syntaxError(src []byte, err error) {
	pos := Position{File: p.file, Line: 1, Col: 1}
	msg := err.Error()
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			pos.Line, _ = strconv.Atoi(m[1])
		}
		msg = m[2]
	}
	if line, col, located, ok := locateSyntaxError(src); ok {
		pos.Line, pos.Col, msg = line, col, located
	}
	if strings.Contains(msg, "\t") {
		msg = strings.ReplaceAll(msg, "\t", `\t`) + "; indent YAML with spaces, not tabs"
	}
	p.errorf(pos, "invalid YAML: %s", msg)
}

// locateSyntaxError parses src with goccy/go-yaml and returns the position
// and message of the syntax error it finds, if any.
func locateSyntaxError(src []byte) (line, col int, msg string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := goyamlparser.ParseBytes(src, 0)
	var se *goyaml.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil || se.Token.Position.Line < 1 {
		return 0, 0, "", false
	}
	return se.Token.Position.Line, max(se.Token.Position.Column, 1), se.Message, true
}
