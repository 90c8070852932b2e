package server

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

// Config is the hub's configuration, read from the Node hub's environment variables.
type Config struct {
	BaseURL string // ACTION_HUB_BASE_URL
	Label   string // ACTION_HUB_LABEL
	Secret  string // ACTION_HUB_SECRET
	// PreviousSecrets is ACTION_HUB_SECRET_PREVIOUS (comma-separated): keys made with these
	// are still accepted, so the secret can be rotated without a gap.
	PreviousSecrets []string
	// CipherMaster is CIPHER_MASTER (64 hex characters), the OAuth state key.
	CipherMaster string
	// Addr is the listen address (":"+PORT; "127.0.0.1:"+PORT in development mode).
	Addr string
	// Whitelist is ACTION_WHITELIST: when non-empty only these actions exist.
	Whitelist []string
	// DebugEndpoint is ACTION_HUB_DEBUG_ENDPOINT: registers the debug action.
	DebugEndpoint bool
	// Debug is ACTION_HUB_DEBUG: debug-level logs.
	Debug bool
	// StreamTimeout is ACTION_HUB_STREAM_REQUEST_TIMEOUT (ms in the variable).
	StreamTimeout time.Duration
	// KeepAlive is ACTION_HUB_JSON_KEEPALIVE_SEC: the newline interval on execute/form replies.
	KeepAlive time.Duration
	// SocketTimeout is ACTION_HUB_SOCKET_TIMEOUT (ms; 0 = none): idle and header timeout.
	SocketTimeout time.Duration
	// MaxBodyBytes is ACTION_HUB_MAX_BODY_BYTES (default 250 MB, Node's limit).
	MaxBodyBytes int64
	// ShutdownTimeout is ACTION_HUB_SHUTDOWN_TIMEOUT_SEC: how long in-flight executes may drain.
	ShutdownTimeout time.Duration
	// MetricsAddr is ACTION_HUB_METRICS_ADDR: when set, /metrics, /healthz and /readyz are
	// served there instead of on the main port.
	MetricsAddr string
	// MemoryLimit is ACTION_HUB_MEMORY_LIMIT_MB: the Go runtime's soft memory limit, unless
	// GOMEMLIMIT is set (default 384 MiB).
	MemoryLimit int64
	// Development is true when the hub made its own secret and key (no environment).
	Development bool
	// Getenv reads other variables (vendor settings); nil = os.Getenv.
	Getenv func(string) string
}

// Defaults of the Node hub.
const (
	DefaultPort            = "8080"
	DefaultKeepAlive       = 30 * time.Second
	DefaultMaxBodyBytes    = 250 << 20
	DefaultShutdownTimeout = 60 * time.Second
	DefaultMemoryLimit     = 384 << 20
)

// Mode chooses how LoadConfig treats missing variables.
type Mode int

// Modes of LoadConfig.
const (
	// Auto is production when ACTION_HUB_SECRET is set, development otherwise.
	Auto Mode = iota
	// Production requires ACTION_HUB_BASE_URL, ACTION_HUB_LABEL and ACTION_HUB_SECRET.
	Production
)

// LoadConfig reads the configuration from getenv. In development mode (no ACTION_HUB_SECRET
// and mode Auto) it listens on localhost, makes a random secret and cipher key for this run
// and fills the base URL and label. In production a missing required variable is an error
// that names it, with the Node hub's wording.
func LoadConfig(getenv func(string) string, mode Mode) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{Getenv: getenv}
	c.BaseURL = getenv("ACTION_HUB_BASE_URL")
	c.Label = getenv("ACTION_HUB_LABEL")
	c.Secret = getenv("ACTION_HUB_SECRET")
	c.CipherMaster = getenv("CIPHER_MASTER")
	port := getenv("PORT")
	if port == "" {
		port = DefaultPort
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("PORT must be a number, got %q", port)
	}
	if mode == Production || c.Secret != "" {
		for _, v := range []struct{ name, val string }{
			{"ACTION_HUB_BASE_URL", c.BaseURL}, {"ACTION_HUB_LABEL", c.Label}, {"ACTION_HUB_SECRET", c.Secret},
		} {
			if v.val == "" {
				//lint:ignore ST1005 the Node hub's wording, which admins search for
				return nil, fmt.Errorf("No %s environment variable set.", v.name)
			}
		}
		c.Addr = ":" + port
	} else {
		c.Development = true
		c.DebugEndpoint = true
		c.Addr = "127.0.0.1:" + port
		c.Secret = randomHex(32)
		if c.CipherMaster == "" {
			c.CipherMaster = actioncrypto.GenerateKey()
		}
		if c.BaseURL == "" {
			c.BaseURL = "http://localhost:" + port
		}
		if c.Label == "" {
			c.Label = "Action Hub (development)"
		}
	}
	if p := getenv("ACTION_HUB_SECRET_PREVIOUS"); p != "" && !c.Development {
		for _, s := range strings.Split(p, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.PreviousSecrets = append(c.PreviousSecrets, s)
			}
		}
	}
	if w := getenv("ACTION_WHITELIST"); w != "" {
		c.Whitelist = strings.Split(w, ",")
	}
	c.MetricsAddr = getenv("ACTION_HUB_METRICS_ADDR")
	c.DebugEndpoint = c.DebugEndpoint || getenv("ACTION_HUB_DEBUG_ENDPOINT") != ""
	c.Debug = getenv("ACTION_HUB_DEBUG") != ""
	var err error
	if c.StreamTimeout, err = millis(getenv, "ACTION_HUB_STREAM_REQUEST_TIMEOUT", 780000); err != nil {
		return nil, err
	}
	if c.SocketTimeout, err = millis(getenv, "ACTION_HUB_SOCKET_TIMEOUT", 0); err != nil {
		return nil, err
	}
	c.KeepAlive = DefaultKeepAlive
	if v := getenv("ACTION_HUB_JSON_KEEPALIVE_SEC"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("ACTION_HUB_JSON_KEEPALIVE_SEC must be a positive number of seconds, got %q", v)
		}
		c.KeepAlive = time.Duration(f * float64(time.Second))
	}
	c.MaxBodyBytes = DefaultMaxBodyBytes
	if v := getenv("ACTION_HUB_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("ACTION_HUB_MAX_BODY_BYTES must be a positive number, got %q", v)
		}
		c.MaxBodyBytes = n
	}
	c.MemoryLimit = DefaultMemoryLimit
	if v := getenv("ACTION_HUB_MEMORY_LIMIT_MB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("ACTION_HUB_MEMORY_LIMIT_MB must be a positive number of MiB, got %q", v)
		}
		c.MemoryLimit = n << 20
	}
	c.ShutdownTimeout = DefaultShutdownTimeout
	if v := getenv("ACTION_HUB_SHUTDOWN_TIMEOUT_SEC"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ACTION_HUB_SHUTDOWN_TIMEOUT_SEC must be a whole number of seconds, got %q", v)
		}
		c.ShutdownTimeout = time.Duration(n) * time.Second
	}
	return c, nil
}

func millis(getenv func(string) string, name string, def int64) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return time.Duration(def) * time.Millisecond, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a number of milliseconds, got %q", name, v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// LoadDotEnv reads KEY=VALUE lines from path into a map, as dotenv does: comments and blank
// lines skipped, optional "export ", single or double quotes removed, \n expanded inside
// double quotes. A missing file is not an error.
func LoadDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			v = strings.ReplaceAll(v[1:len(v)-1], `\n`, "\n")
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		default:
			if i := strings.Index(v, " #"); i >= 0 {
				v = strings.TrimSpace(v[:i])
			}
		}
		out[k] = v
	}
	return out, sc.Err()
}
