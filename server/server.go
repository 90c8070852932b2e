package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

// Server is the Action API handler. Create it with New.
type Server struct {
	cfg     *Config
	env     *sdk.Env
	log     *slog.Logger
	actions map[string]sdk.Action
	order   []string
	mux     *http.ServeMux
	// Observer, when set, is told about every request (metrics).
	observer Observer

	inflight sync.WaitGroup
	active   atomic.Int64
	draining atomic.Bool
}

// Observer receives one call per finished request; the metrics package implements it.
type Observer interface {
	Request(route, action string, status int, dur time.Duration)
	ExecuteStarted(action string)
	ExecuteFinished(action string, report *sdk.Report, dur time.Duration)
}

// Options are optional parts of a Server.
type Options struct {
	// Logger; nil = JSON logs on stderr.
	Logger *slog.Logger
	// HTTPClient for vendor calls and downloads; nil = default transport.
	HTTPClient *http.Client
	// Modules to serve; nil = every module registered with sdk.Register.
	Modules []sdk.Module
	// Observer for metrics.
	Observer Observer
}

// New builds the handler: it constructs every registered module with the hub's Env,
// leaving out (with a warning, as Node does) those whose variables are missing.
func New(cfg *Config, opt Options) (*Server, error) {
	log := opt.Logger
	if log == nil {
		level := slog.LevelInfo
		if cfg.Debug {
			level = slog.LevelDebug
		}
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	var crypto *actioncrypto.Crypto
	if cfg.CipherMaster != "" {
		crypto = actioncrypto.New(cfg.CipherMaster)
		if !crypto.Configured() {
			return nil, errors.New("CIPHER_MASTER must be 64 hexadecimal characters (32 bytes); make one with: openssl rand -hex 32")
		}
	}
	env := &sdk.Env{BaseURL: cfg.BaseURL, Getenv: cfg.Getenv, Crypto: crypto, HTTPClient: opt.HTTPClient,
		StreamTimeout: cfg.StreamTimeout, Logger: log}
	s := &Server{cfg: cfg, env: env, log: log, actions: map[string]sdk.Action{}, observer: opt.Observer}
	mods := opt.Modules
	if mods == nil {
		mods = sdk.Modules()
	}
	allowed := map[string]bool{}
	for _, n := range cfg.Whitelist {
		allowed[n] = true
	}
	for _, m := range mods {
		if m.Name == "debug" && !cfg.DebugEndpoint && opt.Modules == nil {
			continue
		}
		a, err := m.New(env)
		if errors.Is(err, sdk.ErrNotConfigured) {
			log.Warn(m.Name+" Action not registered because required environment variables are missing.", "action", m.Name, "detail", err.Error())
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("action %s: %w", m.Name, err)
		}
		def := a.Definition()
		if def.Name != m.Name {
			return nil, fmt.Errorf("module %s builds an action named %q", m.Name, def.Name)
		}
		if len(allowed) > 0 && !allowed[def.Name] {
			continue
		}
		s.actions[def.Name] = a
		s.order = append(s.order, def.Name)
	}
	sort.Strings(s.order)
	s.routes()
	return s, nil
}

// Env returns the environment given to actions.
func (s *Server) Env() *sdk.Env { return s.env }

// Actions returns the names of the served actions.
func (s *Server) Actions() []string { return append([]string(nil), s.order...) }

// Handle adds a route to the server's mux (metrics, health, ...).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.index)
	m.HandleFunc("HEAD /{$}", s.index)
	m.HandleFunc("GET /status", s.status)
	m.HandleFunc("POST /{$}", s.authed("list", s.list))
	m.HandleFunc("POST /actions/{id}", s.authed("action", s.one))
	m.HandleFunc("POST /actions/{id}/execute", s.authed("execute", s.execute))
	m.HandleFunc("POST /actions/{id}/form", s.authed("form", s.form))
	m.HandleFunc("GET /actions/{id}/oauth", s.oauth)
	m.HandleFunc("GET /actions/{id}/oauth_check", s.authed("oauth_check", s.oauthCheck))
	m.HandleFunc("GET /actions/{id}/oauth_redirect", s.oauthRedirect)
	m.HandleFunc("POST /actions/{id}/oauth_token", s.authed("oauth_token", s.oauthToken))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Cannot %s %s", r.Method, sanitizePath(r.URL.Path)))
	})
	s.mux = m
}

// ServeHTTP serves the Action API with logging and panic recovery.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := r.Header.Get("X-Request-Id")
	if rid == "" || len(rid) > 64 {
		rid = randomHex(8)
	}
	rec := &recorder{ResponseWriter: w, status: 0}
	info := &reqInfo{}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			lastStack.Store(string(debug.Stack()))
			s.log.Error("panic while serving request", "request_id", rid, "action", info.action,
				"panic_type", fmt.Sprintf("%T", p), "stack", panicStack())
			if rec.status == 0 {
				writeError(rec, http.StatusInternalServerError, "Internal server error.")
			}
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []any{"request_id", rid, "method", r.Method, "path", r.URL.Path, "status", status,
			"duration_ms", time.Since(start).Milliseconds()}
		if info.action != "" {
			attrs = append(attrs, "action", info.action)
		}
		if v := r.Header.Get("X-Looker-Webhook-Id"); v != "" {
			attrs = append(attrs, "webhook_id", v)
		}
		if v := r.Header.Get("X-Looker-Instance"); v != "" {
			attrs = append(attrs, "instance_id", v)
		}
		if info.report != nil {
			attrs = append(attrs, "report", info.report)
		}
		if info.err != "" {
			attrs = append(attrs, "error", info.err)
		}
		s.log.Info("request", attrs...)
		if s.observer != nil {
			s.observer.Request(routeName(info.route), info.action, status, time.Since(start))
		}
	}()
	rec.Header().Set("X-Request-Id", rid)
	// ServeMux would answer a non-canonical path (/actions/../x, //actions) with an empty
	// redirect; the Action API answers with its own 404 instead.
	if p := r.URL.Path; r.RequestURI == "*" || p == "" || p[0] != '/' || (p != "/" && path.Clean(p) != p) {
		writeError(rec, http.StatusNotFound, fmt.Sprintf("Cannot %s %s", r.Method, sanitizePath(p)))
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// sanitizePath keeps an echoed path short and printable.
func sanitizePath(p string) string {
	if len(p) > 200 {
		p = p[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, p)
}

func routeName(r string) string {
	if r == "" {
		return "other"
	}
	return r
}

type infoKey struct{}

// reqInfo carries what the log line needs from inside a handler. Only safe values go here.
type reqInfo struct {
	route  string
	action string
	report *sdk.Report
	err    string
}

func infoOf(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

const indexHTML = "<!DOCTYPE html>\n<html>\n<head><title>Looker Action Hub</title></head>\n<body>The Action Hub is operational!</body>\n</html>\n"

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	io.WriteString(w, indexHTML)
}

// status serves status.json from the working directory, as the Node hub does.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	b, err := os.ReadFile("status.json")
	if err != nil {
		writeError(w, http.StatusNotFound, "No status.json found.")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(b)
}

const unauthorized = "Invalid 'Authorization' header."

func (s *Server) authed(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		info := infoOf(r)
		info.route = route
		if !s.authorized(r.Header.Get("Authorization")) {
			s.log.Warn("Unauthorized request.", "path", r.URL.Path)
			writeError(w, http.StatusForbidden, unauthorized)
			return
		}
		h(w, r)
	}
}

func (s *Server) authorized(header string) bool {
	if checkAuthorization(s.cfg.Secret, header) {
		return true
	}
	for _, p := range s.cfg.PreviousSecrets {
		if checkAuthorization(p, header) {
			return true
		}
	}
	return false
}

// writeJSON writes v with Node's res.json content type, without HTML escaping (as
// JSON.stringify).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(marshal(v))
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"success":false,"error":"Internal server error."}`)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

type errorBody struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Success: false, Error: msg})
}

// --- request decoding -------------------------------------------------------------------

// bodyError is a request that could not be read: its status and message.
type bodyError struct {
	status int
	msg    string
}

func (e *bodyError) Error() string { return e.msg }

// decode reads and parses the body. As in the Node hub, a body that is not
// application/json is seen as {}.
func (s *Server) decode(w http.ResponseWriter, r *http.Request) (*sdk.Request, error) {
	var body []byte
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		lr := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		b, err := io.ReadAll(lr)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &bodyError{http.StatusRequestEntityTooLarge,
					fmt.Sprintf("Request body is larger than the limit of %d bytes.", s.cfg.MaxBodyBytes)}
			}
			return nil, &bodyError{http.StatusBadRequest, "Could not read the request body."}
		}
		body = b
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] != '{' && t[0] != '[' {
			return nil, &bodyError{http.StatusBadRequest, "Request body must be a JSON object."}
		}
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
			if !json.Valid(t) {
				return nil, &bodyError{http.StatusBadRequest, "Request body is not valid JSON."}
			}
			body = nil // a JSON array is accepted by Node's strict parser but carries no request
		}
	}
	req, err := sdk.DecodeRequest(body)
	if err != nil {
		if e, ok := sdk.AsError(err); ok {
			return nil, e
		}
		return nil, &bodyError{http.StatusBadRequest, err.Error()}
	}
	req.LookerVersion = sdk.LookerVersion(r.Header.Get("User-Agent"))
	req.WebhookID = r.Header.Get("X-Looker-Webhook-Id")
	req.InstanceID = r.Header.Get("X-Looker-Instance")
	req.Env = s.env
	return req, nil
}

// writeRequestError answers a decode or lookup error before anything was written.
func writeRequestError(w http.ResponseWriter, err error) {
	var be *bodyError
	if errors.As(err, &be) {
		writeError(w, be.status, be.msg)
		return
	}
	if e, ok := sdk.AsError(err); ok {
		writeError(w, http.StatusNotFound, e.Text)
		return
	}
	writeError(w, http.StatusInternalServerError, "Internal server error.")
}

// find applies ACTION_WHITELIST (at construction) and the Looker-version gate, then matches
// the name exactly.
func (s *Server) find(name, lookerVersion string) (sdk.Action, error) {
	a, ok := s.actions[name]
	if ok && visible(a.Definition(), lookerVersion) {
		return a, nil
	}
	return nil, &sdk.Error{Text: fmt.Sprintf("No action found with name %s.", name)}
}

// visible is the version gate: without a version nothing is filtered.
func visible(d *sdk.Definition, lookerVersion string) bool {
	if lookerVersion == "" {
		return true
	}
	return sdk.VersionAtLeast(lookerVersion, d.MinimumVersion())
}
