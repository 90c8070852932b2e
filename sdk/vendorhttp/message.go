package vendorhttp

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// bodyMessage extracts a short human message from an error body: the usual JSON members
// (message, error_description, error, errors[0], detail, title), else the body's text when
// it is not HTML. The result is cut to maxMessageBytes; the caller redacts it.
func bodyMessage(body []byte, contentType string) string {
	t := strings.TrimSpace(string(body[:min(len(body), 64<<10)]))
	if t == "" {
		return ""
	}
	if t[0] == '{' || t[0] == '[' {
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			if m := jsonMessage(v, 0); m != "" {
				return shorten(m)
			}
		}
	}
	if t[0] == '<' || strings.Contains(contentType, "html") {
		return "" // an HTML error page says nothing the status does not
	}
	return shorten(t)
}

func jsonMessage(v any, depth int) string {
	if depth > 3 {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, e := range x {
			if m := jsonMessage(e, depth+1); m != "" {
				parts = append(parts, m)
			}
			if len(parts) == 3 {
				break
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		for _, k := range []string{"message", "error_description", "error", "errors", "detail", "title", "msg", "description", "reason", "fault"} {
			if e, ok := x[k]; ok {
				if m := jsonMessage(e, depth+1); m != "" {
					return m
				}
			}
		}
	}
	return ""
}

// shorten collapses white space and cuts s to maxMessageBytes on a rune boundary.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessageBytes {
		return s
	}
	cut := maxMessageBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
