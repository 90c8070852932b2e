package opstest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// parseYAML reads the subset of YAML the deployment files use into map[string]any,
// []any and string scalars: block mappings and sequences, flow mappings and sequences,
// plain, single- and double-quoted scalars, comments, and "---" document separators. What
// it does not know (anchors, aliases, tags, block scalars, multi-line plain scalars) is an
// error rather than a silent misreading, so a manifest that outgrows it fails the test.
// The module has no YAML library in go.sum, and these checks do not warrant one.
func parseYAML(src string) ([]any, error) {
	var docs []any
	var cur []yline
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		p := &yparser{lines: cur}
		v, err := p.block(cur[0].indent)
		if err != nil {
			return err
		}
		if p.pos < len(p.lines) {
			return fmt.Errorf("line %d: unexpected indentation", p.lines[p.pos].no)
		}
		docs = append(docs, v)
		cur = nil
		return nil
	}
	for i, raw := range strings.Split(src, "\n") {
		if strings.Contains(raw, "\t") && strings.TrimLeft(raw, " ") != strings.TrimLeft(raw, " \t") {
			return nil, fmt.Errorf("line %d: tab indentation", i+1)
		}
		text := stripComment(raw)
		if strings.TrimSpace(text) == "" {
			continue
		}
		if strings.TrimSpace(text) == "---" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		indent := len(text) - len(strings.TrimLeft(text, " "))
		cur = append(cur, yline{no: i + 1, indent: indent, text: strings.TrimSpace(text)})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

type yline struct {
	no, indent int
	text       string
}

type yparser struct {
	lines []yline
	pos   int
}

// stripComment removes a # comment that is outside quotes and starts a line or follows a
// space.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " ")
		}
	}
	return strings.TrimRight(s, " ")
}

func (p *yparser) block(indent int) (any, error) {
	if p.pos >= len(p.lines) {
		return nil, nil
	}
	l := p.lines[p.pos]
	if l.indent != indent {
		return nil, fmt.Errorf("line %d: indentation %d, want %d", l.no, l.indent, indent)
	}
	if l.text == "-" || strings.HasPrefix(l.text, "- ") {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yparser) sequence(indent int) ([]any, error) {
	out := []any{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: expected a sequence item", l.no)
		}
		if !(l.text == "-" || strings.HasPrefix(l.text, "- ")) {
			break // the next key of a mapping whose value this sequence is
		}
		item := strings.TrimSpace(strings.TrimPrefix(l.text, "-"))
		if item == "" {
			p.pos++
			if p.pos >= len(p.lines) || p.lines[p.pos].indent <= indent {
				out = append(out, nil)
				continue
			}
			v, err := p.block(p.lines[p.pos].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		if _, _, ok := splitKey(item); ok && item[0] != '{' && item[0] != '[' {
			// "- key: value" opens a mapping whose keys sit at the item's column.
			col := indent + (len(l.text) - len(item))
			p.lines[p.pos] = yline{no: l.no, indent: col, text: item}
			v, err := p.mapping(col)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := scalarOrFlow(item, l.no)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.pos++
	}
	return out, nil
}

func (p *yparser) mapping(indent int) (map[string]any, error) {
	out := map[string]any{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: unexpected indentation", l.no)
		}
		if l.text == "-" || strings.HasPrefix(l.text, "- ") {
			break // a sequence at the parent key's indentation ends the mapping
		}
		k, rest, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: expected key: value, got %q", l.no, l.text)
		}
		key, err := unquote(k, l.no)
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", l.no, key)
		}
		p.pos++
		if rest != "" {
			if out[key], err = scalarOrFlow(rest, l.no); err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case p.pos < len(p.lines) && p.lines[p.pos].indent > indent:
			out[key], err = p.block(p.lines[p.pos].indent)
		case p.pos < len(p.lines) && p.lines[p.pos].indent == indent && strings.HasPrefix(p.lines[p.pos].text, "-"):
			out[key], err = p.sequence(indent)
		default:
			out[key] = nil
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// splitKey splits "key: rest" or "key:" at the first colon outside quotes and brackets
// that is followed by a space or the end.
func splitKey(s string) (key, rest string, ok bool) {
	var quote byte
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 0 && (i+1 == len(s) || s[i+1] == ' '):
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), i > 0
		}
	}
	return "", "", false
}

func scalarOrFlow(s string, line int) (any, error) {
	switch s[0] {
	case '&', '*', '!', '|', '>', '%', '@', '`':
		return nil, fmt.Errorf("line %d: unsupported YAML %q", line, s)
	case '{', '[':
		f := &flow{s: s, line: line}
		v, err := f.value()
		if err != nil {
			return nil, err
		}
		f.space()
		if f.i != len(f.s) {
			return nil, fmt.Errorf("line %d: text after a flow collection: %q", line, s[f.i:])
		}
		return v, nil
	}
	return unquote(s, line)
}

func unquote(s string, line int) (string, error) {
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("line %d: %v in %s", line, err, s)
		}
		return v, nil
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case s != "" && (s[0] == '"' || s[0] == '\''):
		return "", fmt.Errorf("line %d: unterminated or multi-line quoted scalar %s", line, s)
	}
	return s, nil
}

// flow parses {a: b, c: [d, "e"]}.
type flow struct {
	s    string
	i    int
	line int
}

func (f *flow) space() {
	for f.i < len(f.s) && f.s[f.i] == ' ' {
		f.i++
	}
}

func (f *flow) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s in %q", f.line, fmt.Sprintf(format, args...), f.s)
}

func (f *flow) value() (any, error) {
	f.space()
	if f.i >= len(f.s) {
		return nil, f.errorf("missing value")
	}
	switch f.s[f.i] {
	case '{':
		f.i++
		m := map[string]any{}
		for {
			f.space()
			if f.i < len(f.s) && f.s[f.i] == '}' {
				f.i++
				return m, nil
			}
			k, err := f.scalar(true)
			if err != nil {
				return nil, err
			}
			f.space()
			if f.i >= len(f.s) || f.s[f.i] != ':' {
				return nil, f.errorf("missing ':' after %q", k)
			}
			f.i++
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, f.errorf("duplicate key %q", k)
			}
			m[k] = v
			if err := f.next('}'); err != nil {
				return nil, err
			}
			if f.s[f.i-1] == '}' {
				return m, nil
			}
		}
	case '[':
		f.i++
		a := []any{}
		for {
			f.space()
			if f.i < len(f.s) && f.s[f.i] == ']' {
				f.i++
				return a, nil
			}
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			if err := f.next(']'); err != nil {
				return nil, err
			}
			if f.s[f.i-1] == ']' {
				return a, nil
			}
		}
	}
	return f.scalar(false)
}

// next consumes a ',' or the closing bracket.
func (f *flow) next(closer byte) error {
	f.space()
	if f.i < len(f.s) && (f.s[f.i] == ',' || f.s[f.i] == closer) {
		f.i++
		return nil
	}
	return f.errorf("expected ',' or %q at %d", closer, f.i)
}

func (f *flow) scalar(key bool) (string, error) {
	f.space()
	if f.i >= len(f.s) {
		return "", f.errorf("missing scalar")
	}
	start := f.i
	if q := f.s[f.i]; q == '"' || q == '\'' {
		f.i++
		for f.i < len(f.s) && f.s[f.i] != q {
			if f.s[f.i] == '\\' && q == '"' {
				f.i++
			}
			f.i++
		}
		if f.i >= len(f.s) {
			return "", f.errorf("unterminated quote")
		}
		f.i++
		return unquote(f.s[start:f.i], f.line)
	}
	for f.i < len(f.s) {
		c := f.s[f.i]
		if c == ',' || c == '}' || c == ']' || c == '{' || c == '[' || (key && c == ':') || (c == ':' && f.i+1 < len(f.s) && f.s[f.i+1] == ' ') {
			break
		}
		f.i++
	}
	v := strings.TrimSpace(f.s[start:f.i])
	if v == "" {
		return "", f.errorf("empty scalar at %d", start)
	}
	if strings.ContainsAny(v[:1], "&*!|>%@`") {
		return "", f.errorf("unsupported YAML %q", v)
	}
	return v, nil
}

func TestParseYAML(t *testing.T) {
	src := `# comment
apiVersion: v1   # trailing comment
kind: "Service"
metadata:
  name: 'it''s'
  labels: {app: hub, "tier": web}
spec:
  ports:
    - {name: http, port: 80}
    - name: metrics
      port: 9090
      args: ["-production", 'x y']
  list:
  - a
  - "b # not a comment"
  empty:
  nested:
    -
      deep: [1, [2, 3], {k: v}]
---
second: doc
`
	docs, err := parseYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": "it's", "labels": map[string]any{"app": "hub", "tier": "web"}},
			"spec": map[string]any{
				"ports": []any{map[string]any{"name": "http", "port": "80"},
					map[string]any{"name": "metrics", "port": "9090", "args": []any{"-production", "x y"}}},
				"list":   []any{"a", "b # not a comment"},
				"empty":  nil,
				"nested": []any{map[string]any{"deep": []any{"1", []any{"2", "3"}, map[string]any{"k": "v"}}}},
			}},
		map[string]any{"second": "doc"},
	}
	if !reflect.DeepEqual(docs, want) {
		t.Fatalf("got  %#v\nwant %#v", docs, want)
	}
	for _, bad := range []string{"a: &anchor x", "a: *alias", "a: |\n  text", "a: !!str x", "a: [1, 2", "a: {b: c", "a: \"x", "a: 1\n  b: 2", "a: 1\na: 2", "a: {b: 1, b: 2}", "- a\nb: c", "\ta: 1"} {
		if _, err := parseYAML(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// path walks maps and sequences: path(v, "spec", "template", "spec", "containers", 0, "image").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func str(v any, keys ...any) string {
	s, _ := path(v, keys...).(string)
	return s
}
