package vendorhttp

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Redacted replaces every secret a Redact call removes.
const Redacted = "[REDACTED]"

var (
	// Authorization values: "Bearer abc...", "Basic dXNl...". A value shorter than 8
	// characters is left alone so that "Basic auth" stays readable.
	authSchemeRe = regexp.MustCompile(`(?i)\b(bearer|basic|token|digest|oauth|sharedaccesssignature|sso-key)\s+[A-Za-z0-9\-._~+/:%]{8,}=*`)
	// "Authorization: ...", "x-api-key=...", header or field dumps.
	authHeaderRe = regexp.MustCompile(`(?i)((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)(["']?\s*[:=]\s*["']?)[^\s"',;]+(?:\s+[^\s"',;]+)?`)
	// URLs anywhere in the text: userinfo and query string are dropped.
	urlRe = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s"'<>\x60]+`)
	// key=value pairs outside URLs (form bodies, log lines).
	kvRe = regexp.MustCompile(`(?i)\b((?:api|app|access|refresh|id|client|write|private|secret|session)?[_-]?(?:key|token|secret)|apikey|password|passwd|pwd|signature|sig|code|auth)=([^&\s"',;]+)`)
	// JSON members whose value is a credential.
	jsonRe = regexp.MustCompile(`(?i)"((?:api|app|access|refresh|id|client|write|private|secret|session)?[_-]?(?:key|token|secret)|apikey|password|passwd|authorization|signature)"\s*:\s*"(?:[^"\\]|\\.)*"`)
)

// Redact removes credentials from s: every non-empty secret (also in its URL- and
// JSON-escaped forms), Authorization-style values ("Bearer ...", "Basic ..."), credential
// headers and key=value pairs, and the userinfo and query string of every URL. Every
// error text of this package passes through it; actions can use it for their own errors.
func Redact(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	s = redactSecrets(s, secrets)
	s = urlRe.ReplaceAllStringFunc(s, redactURL)
	s = authSchemeRe.ReplaceAllString(s, "$1 "+Redacted)
	s = authHeaderRe.ReplaceAllString(s, "$1$2"+Redacted)
	s = jsonRe.ReplaceAllString(s, `"$1":"`+Redacted+`"`)
	s = kvRe.ReplaceAllString(s, "$1="+Redacted)
	return s
}

func redactSecrets(s string, secrets []string) string {
	if len(secrets) == 0 {
		return s
	}
	forms := make([]string, 0, len(secrets)*4)
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		forms = append(forms, sec, url.QueryEscape(sec), url.PathEscape(sec))
		if j, err := json.Marshal(sec); err == nil {
			forms = append(forms, string(j[1:len(j)-1]))
		}
	}
	// Longest first, so that a secret containing another is removed whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		if f != "" && strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Redacted)
		}
	}
	return s
}

// redactURL keeps a URL's scheme, host and path and drops its userinfo, query and fragment.
func redactURL(raw string) string {
	// Trailing punctuation is most likely the sentence's, not the URL's.
	trail := ""
	for len(raw) > 0 && strings.ContainsRune(".,;:)]}", rune(raw[len(raw)-1])) {
		trail = raw[len(raw)-1:] + trail
		raw = raw[:len(raw)-1]
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		// Cannot tell the parts apart: keep only the scheme.
		if i := strings.Index(raw, "://"); i >= 0 {
			return raw[:i+3] + Redacted + trail
		}
		return Redacted + trail
	}
	out := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.User != nil {
		out = u.Scheme + "://" + Redacted + "@" + u.Host + u.EscapedPath()
	}
	if u.RawQuery != "" || u.ForceQuery {
		out += "?" + Redacted
	}
	return out + trail
}

// RedactURL returns u without its userinfo, query string and fragment, for logs and errors.
func RedactURL(u string) string { return redactURL(u) }
