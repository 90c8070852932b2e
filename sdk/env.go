package sdk

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

// Env is what the hub gives an action: configuration, the state cipher and the clients.
// The zero value reads the process environment and works for tests.
type Env struct {
	// BaseURL is ACTION_HUB_BASE_URL, the public prefix of every URL the hub makes.
	BaseURL string
	// Getenv reads a variable; nil means os.Getenv.
	Getenv func(string) string
	// Crypto is the ActionCrypto of CIPHER_MASTER (nil when unset: OAuth fails at use).
	Crypto *actioncrypto.Crypto
	// HTTPClient is the client for vendor calls and downloads; nil means a default one.
	HTTPClient *http.Client
	// StreamTimeout is the idle timeout of download_url reads (ACTION_HUB_STREAM_REQUEST_TIMEOUT).
	StreamTimeout time.Duration
	// Logger is the hub's logger; nil means slog.Default().
	Logger *slog.Logger
}

// Get returns an environment variable.
func (e *Env) Get(key string) string {
	if e == nil || e.Getenv == nil {
		return os.Getenv(key)
	}
	return e.Getenv(key)
}

// ErrNotConfigured is wrapped by Require when gating variables are missing: the action is
// then not registered, as in the Node hub.
var ErrNotConfigured = errors.New("required environment variables are missing")

// Require returns the values of keys, or an error wrapping ErrNotConfigured that names the
// missing ones.
func (e *Env) Require(keys ...string) ([]string, error) {
	vals := make([]string, len(keys))
	var missing []string
	for i, k := range keys {
		vals[i] = e.Get(k)
		if vals[i] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotConfigured, strings.Join(missing, ", "))
	}
	return vals, nil
}

// VendorURLVar is the prefix of the variables that override a vendor's base URL:
// ACTION_HUB_VENDOR_URL_<VENDOR>, for regional endpoints, on-prem installs and tests.
const VendorURLVar = "ACTION_HUB_VENDOR_URL_"

// VendorURL returns the base URL for vendor (for example "segment"): the override variable
// ACTION_HUB_VENDOR_URL_SEGMENT when set, else def. A trailing slash is removed.
func (e *Env) VendorURL(vendor, def string) string {
	if v := e.Get(VendorURLVar + strings.ToUpper(vendor)); v != "" {
		return strings.TrimRight(v, "/")
	}
	return strings.TrimRight(def, "/")
}

// Client returns the HTTP client for vendor calls.
func (e *Env) Client() *http.Client {
	if e == nil || e.HTTPClient == nil {
		return defaultClient
	}
	return e.HTTPClient
}

var defaultClient = &http.Client{Transport: http.DefaultTransport}

// Log returns the hub's logger.
func (e *Env) Log() *slog.Logger {
	if e == nil || e.Logger == nil {
		return slog.Default()
	}
	return e.Logger
}

// ActionURL returns BASE + "/actions/" + encodeURIComponent(name) + suffix, by plain
// concatenation as the Node hub does.
func (e *Env) ActionURL(name, suffix string) string {
	base := ""
	if e != nil {
		base = e.BaseURL
	}
	return base + "/actions/" + EncodeURIComponent(name) + suffix
}

// EncryptPayload reports whether ENCRYPT_PAYLOAD_<NAME> is exactly "true".
func (e *Env) EncryptPayload(actionName string) bool {
	return e.Get("ENCRYPT_PAYLOAD_"+strings.ToUpper(actionName)) == "true"
}

// EncodeURIComponent escapes like JavaScript's encodeURIComponent.
func EncodeURIComponent(s string) string {
	const keep = "-_.!~*'()"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
