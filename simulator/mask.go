package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"
)

// Masked replaces a secret wherever the simulator shows or keeps one.
const Masked = "********"

// maxShownString is the longest string value kept whole in a displayed exchange; longer
// values (pushed attachments) are cut.
const maxShownString = 2048

// maxShownBody is the most of a non-JSON body (an HTML error page) kept for display.
const maxShownBody = 64 << 10

// secretKeys are JSON keys whose values are always masked, wherever they appear.
var secretKeys = map[string]bool{
	"state_json": true, "access_token": true, "refresh_token": true, "id_token": true,
	"client_secret": true, "password": true, "payload": true, "code": true,
}

// Masker hides secrets in JSON bodies for display: sensitive admin params in "data",
// the user state (state_json, state.data, the token route's state), tokens, and the
// encrypted state in OAuth links. Key order and values are otherwise kept.
type Masker struct {
	// Sensitive names the action's sensitive params (masked inside "data").
	Sensitive map[string]bool
	// All masks every string and number leaf (bodies that are a user state as a whole).
	All bool
}

// MaskJSON returns b pretty-printed with secrets masked, or, when b is not JSON, its text
// (cut to a displayable size).
func (m Masker) MaskJSON(b []byte) string {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return ""
	}
	v, err := parseOrdered(trimmed)
	if err != nil {
		return cutText(string(b), maxShownBody)
	}
	v = m.mask(v, "", "")
	var out strings.Builder
	writeOrdered(&out, v, "")
	return out.String()
}

// MaskString masks a whole secret value, keeping only its length visible.
func MaskString(s string) string {
	if s == "" {
		return ""
	}
	return Masked
}

// MaskAuthorization masks the key of an Authorization header.
func MaskAuthorization(h string) string {
	if i := strings.Index(h, `token="`); i >= 0 {
		return h[:i] + `token="` + Masked + `"`
	}
	if h == "" {
		return ""
	}
	return Masked
}

// maskURLState hides the state and code query parameters of a URL (the encrypted OAuth
// state), keeping the rest of the URL as it was written.
func maskURLState(s string) string {
	base, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if k == "state" || k == "code" {
			parts[i] = k + "=" + Masked
		}
	}
	out := base + "?" + strings.Join(parts, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

func (m Masker) mask(v any, key, parent string) any {
	switch x := v.(type) {
	case *ordObject:
		for i := range x.keys {
			k := x.keys[i]
			switch {
			case secretKeys[k]:
				x.vals[i] = maskLeaf(x.vals[i])
			case k == "state":
				// the token route's {"state": S2}, or a reply's {"state": {"data": ...}}
				if o, ok := x.vals[i].(*ordObject); ok {
					for j := range o.keys {
						o.vals[j] = maskLeaf(o.vals[j])
					}
				} else {
					x.vals[i] = maskLeaf(x.vals[i])
				}
			case k == "tokens":
				x.vals[i] = Masker{All: true}.mask(x.vals[i], k, key)
			case key == "data" && parent == "" && m.Sensitive[k]:
				x.vals[i] = maskLeaf(x.vals[i])
			case k == "oauth_url":
				if s, ok := x.vals[i].(string); ok {
					x.vals[i] = maskURLState(s)
				}
			default:
				x.vals[i] = m.mask(x.vals[i], k, key)
			}
		}
		return x
	case []any:
		for i := range x {
			x[i] = m.mask(x[i], key, parent)
		}
		return x
	case string:
		if m.All {
			return maskLeaf(x)
		}
		return cutText(x, maxShownString)
	case json.Number:
		if m.All {
			return Masked
		}
	}
	return v
}

// maskLeaf masks a scalar; objects and arrays are masked through.
func maskLeaf(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return MaskString(x)
	case *ordObject, []any:
		return Masker{All: true}.mask(x, "", "")
	}
	return Masked
}

// cutText shortens s to about max bytes on a rune boundary, saying how long it was.
func cutText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + itoa(int64(len(s))) + " bytes, cut for display)"
}

// ordObject is a JSON object that keeps its key order.
type ordObject struct {
	keys []string
	vals []any
}

func parseOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	return v, nil
}

var errTrailing = &json.SyntaxError{}

func parseValue(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			o := &ordObject{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k)
				o.vals = append(o.vals, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, errTrailing
	}
	return t, nil
}

func writeOrdered(b *strings.Builder, v any, indent string) {
	switch x := v.(type) {
	case *ordObject:
		if len(x.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range x.keys {
			b.WriteString(indent + "  ")
			b.Write(appendJSONString(nil, k))
			b.WriteString(": ")
			writeOrdered(b, x.vals[i], indent+"  ")
			if i < len(x.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(indent + "  ")
			writeOrdered(b, e, indent+"  ")
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case string:
		b.Write(appendJSONString(nil, x))
	case json.Number:
		b.WriteString(x.String())
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	default:
		j, _ := json.Marshal(x)
		b.Write(j)
	}
}
