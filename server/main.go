package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/actionhub/actionhub/metrics"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Main runs the hub the way cmd/actionhub does, serving every registered action: it reads
// .env and the environment, then serves until SIGINT or SIGTERM, draining in-flight executes.
// Subcommand generate-api-key prints a key for ACTION_HUB_SECRET. Private hubs call it from
// their main after registering their actions. It returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actionhub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	production := fs.Bool("production", false, "require ACTION_HUB_BASE_URL, ACTION_HUB_LABEL and ACTION_HUB_SECRET instead of development defaults")
	envFile := fs.String("env-file", ".env", "dotenv file to load (existing environment wins)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: actionhub [flags] [generate-api-key]\n\nServes the Looker Action API. With no environment it starts in development mode.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dotenv, err := LoadDotEnv(*envFile)
	if err != nil {
		fmt.Fprintf(stderr, "reading %s: %v\n", *envFile, err)
		return 1
	}
	getenv := func(k string) string {
		if v, ok := os.LookupEnv(k); ok {
			return v
		}
		return dotenv[k]
	}
	if fs.Arg(0) == "generate-api-key" {
		secret := getenv("ACTION_HUB_SECRET")
		if secret == "" {
			fmt.Fprintln(stderr, "No ACTION_HUB_SECRET environment variable set.")
			return 1
		}
		fmt.Fprintf(stdout, "API Key: %s\nThis key is valid until ACTION_HUB_SECRET changes.\n", GenerateAPIKey(secret))
		return 0
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	mode := Auto
	if *production || getenv("ACTION_HUB_MODE") == "production" {
		mode = Production
	}
	cfg, err := LoadConfig(getenv, mode)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// A soft heap goal: the GC works harder near it instead of letting the heap double,
		// so many concurrent executes stay within a container's memory limit.
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	m := metrics.New()
	srv, err := New(cfg, Options{Logger: log, Observer: m})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	m.SetActions(srv.Actions())
	vendorhttp.SetObserver(m)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ops := srv.OpsHandler(m)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		ms := &http.Server{Handler: ops, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
	} else {
		srv.Handle("GET /metrics", ops)
		srv.Handle("GET /healthz", ops)
		srv.Handle("GET /readyz", ops)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 60 * time.Second}
	if cfg.SocketTimeout > 0 {
		hs.ReadHeaderTimeout = cfg.SocketTimeout
		hs.IdleTimeout = cfg.SocketTimeout
	}
	if cfg.Development {
		key := GenerateAPIKey(cfg.Secret)
		fmt.Fprintf(stdout, `Action Hub running in development mode (no ACTION_HUB_SECRET set).
Serving %d actions at %s

In Looker, go to Admin > Actions > Add Action Hub and enter:
  URL:   %s
  Token: %s

The secret and token are made anew for this run; set ACTION_HUB_SECRET, ACTION_HUB_BASE_URL and
ACTION_HUB_LABEL for a stable setup. Try it without Looker: go run ./cmd/lookersim list --hub %s --key '%s'
`, len(srv.Actions()), cfg.BaseURL, cfg.BaseURL, key, cfg.BaseURL, key)
	}
	log.Info("Action Hub listening!", "addr", ln.Addr().String(), "actions", len(srv.Actions()), "development", cfg.Development)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight executes", "in_flight", srv.InFlight(), "deadline", cfg.ShutdownTimeout.String())
	dctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	drainErr := srv.Drain(dctx)
	if err := hs.Shutdown(dctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "error", err.Error())
	}
	if drainErr != nil {
		log.Error("shutdown deadline passed", "error", drainErr.Error())
		return 1
	}
	log.Info("stopped")
	return 0
}

// OpsHandler serves /metrics, /healthz and /readyz (ready until the server drains).
func (s *Server) OpsHandler(m *metrics.Metrics) http.Handler {
	health := metrics.Health(func() bool { return !s.draining.Load() })
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	return mux
}
