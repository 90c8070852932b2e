package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// APIKey returns the key Looker must send for nonce: nonce + "/" + hex(HMAC-SHA512(secret, nonce)).
func APIKey(secret, nonce string) string {
	return nonce + "/" + digest(secret, nonce)
}

// GenerateAPIKey returns a key with a random 64-hex-character nonce, as yarn generate-api-key does.
func GenerateAPIKey(secret string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return APIKey(secret, hex.EncodeToString(b))
}

// AuthorizationHeader is the header value Looker sends for key.
func AuthorizationHeader(key string) string { return `Token token="` + key + `"` }

func digest(secret, nonce string) string {
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(nonce))
	return hex.EncodeToString(m.Sum(nil))
}

// checkAuthorization validates an Authorization header: exactly `Token token="<nonce>/<digest>"`
// (or lower-case "token"), two non-empty parts, digest compared in constant time. It is
// stricter than the Node hub's unanchored regex (the vectors mark those cases 403-recommended)
// and never fails on a digest of the wrong length.
func checkAuthorization(secret, header string) bool {
	if secret == "" {
		return false
	}
	rest, ok := strings.CutPrefix(header, "Token token=\"")
	if !ok {
		rest, ok = strings.CutPrefix(header, "token token=\"")
	}
	if !ok || !strings.HasSuffix(rest, "\"") {
		return false
	}
	key := rest[:len(rest)-1]
	nonce, got, ok := strings.Cut(key, "/")
	if !ok || nonce == "" || got == "" || strings.ContainsAny(got, "/\"") {
		return false
	}
	want := digest(secret, nonce)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
