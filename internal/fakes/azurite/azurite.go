// Package azurite runs Microsoft's Azure Storage emulator, Azurite (its blob service, from
// npm), for tests: on a free loopback port, in memory, with telemetry off, behind a small
// reverse proxy that counts the Blob REST operations and injects faults (5xx answers).
//
// Azurite is found on PATH (azurite-blob) or under <module root>/.cache/node_modules/.bin,
// where the CI installs it with
//
//	npm install --prefix .cache azurite@3.37.0
//
// When it is missing the tests are skipped with that hint, or fail when the environment
// variable AZURITE_REQUIRED is 1 (the CI sets it).
package azurite

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Azurite's well-known development account;
// https://learn.microsoft.com/azure/storage/common/storage-use-azurite#well-known-storage-account-and-key
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// InstallHint says how to get Azurite.
const InstallHint = "Azurite (the Azure Storage emulator) is not installed: run `npm install --prefix .cache azurite@3.37.0` " +
	"in the module root, or put azurite-blob on PATH"

// StartTimeout bounds Azurite's start.
const StartTimeout = 60 * time.Second

// Server is a running Azurite behind the fault proxy.
type Server struct {
	// URL is the account's blob endpoint through the proxy (ACTION_HUB_VENDOR_URL_AZURE_BLOB),
	// e.g. http://127.0.0.1:41234/devstoreaccount1.
	URL string
	// DirectURL is the same endpoint without the proxy.
	DirectURL string

	cmd   *exec.Cmd
	dir   string
	proxy *httptest.Server
	exit  chan struct{}
	out   *tail

	mu    sync.Mutex
	ops   map[string]int
	fails map[string]int
}

// Binary returns the path of azurite-blob, or "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p
	}
	dir, err := os.Getwd()
	for err == nil {
		if _, e := os.Stat(filepath.Join(dir, "go.mod")); e == nil {
			p := filepath.Join(dir, ".cache", "node_modules", ".bin", "azurite-blob")
			if _, e := os.Stat(p); e == nil {
				return p
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// missing skips tb, or fails it when AZURITE_REQUIRED=1.
func missing(tb testing.TB) {
	tb.Helper()
	if os.Getenv("AZURITE_REQUIRED") == "1" {
		tb.Fatalf("%s (AZURITE_REQUIRED=1)", InstallHint)
	}
	tb.Skip(InstallHint + " (set AZURITE_REQUIRED=1 to make this a failure)")
}

// Start starts an Azurite for one test; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary()
	if bin == "" {
		missing(tb)
	}
	s, err := start(bin)
	if err != nil {
		tb.Fatalf("azurite: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
)

// Shared returns one Azurite for the whole test binary, started on first use; call
// StopShared from TestMain after m.Run. Tests sharing it should use their own containers.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary()
	if bin == "" {
		missing(tb)
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = start(bin)
	}
	if sharedErr != nil {
		tb.Fatalf("azurite: %v", sharedErr)
	}
	return shared
}

// StopShared stops the Azurite of Shared, if one was started.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin string) (*Server, error) {
	var last error
	// The free port may be taken between the probe and Azurite's listen: try again.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startOnce(bin)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func startOnce(bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, exit: make(chan struct{}), out: &tail{}, ops: map[string]int{}, fails: map[string]int{}}
	s.cmd = exec.Command(bin,
		"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--inMemoryPersistence", "--extentMemoryLimit", "512",
		"--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent")
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.exit) }()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(StartTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.exit:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("azurite-blob exited at start: %s", s.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("azurite-blob did not listen on %s within %s: %s", addr, StartTimeout, s.out.String())
		}
	}
	s.DirectURL = "http://" + addr + "/" + Account
	target, _ := url.Parse("http://" + addr)
	rp := httputil.NewSingleHostReverseProxy(target)
	// A client that gives up on a request (a cut upload) is not the proxy's error.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	s.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := Op(r)
		s.mu.Lock()
		s.ops[op]++
		fail := s.fails[op] > 0
		if fail {
			s.fails[op]--
		}
		s.mu.Unlock()
		if fail {
			r.Body.Close()
			w.Header().Set("Content-Type", "application/xml")
			w.Header().Set("x-ms-error-code", "InternalError")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>InternalError</Code><Message>The server encountered an internal error. Please retry the request.</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	s.URL = s.proxy.URL + "/" + Account
	return s, nil
}

// Stop stops Azurite (SIGINT, then SIGKILL after 10 s) and the proxy.
func (s *Server) Stop() {
	if s.proxy != nil {
		s.proxy.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exit:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exit
		}
	}
	os.RemoveAll(s.dir)
}

// Op names a Blob REST request: "ListContainers", "CreateContainer", "PutBlock",
// "PutBlockList", "PutBlob", "GetBlobProperties", "GetBlob", or the method and path.
func Op(r *http.Request) string {
	q := r.URL.Query()
	// The path is /<account>[/<container>[/<blob>]].
	parts := strings.SplitN(strings.Trim(r.URL.Path, "/"), "/", 3)
	switch {
	case len(parts) == 1 && q.Get("comp") == "list":
		return "ListContainers"
	case len(parts) == 2 && r.Method == http.MethodPut && q.Get("restype") == "container":
		return "CreateContainer"
	case len(parts) == 3 && r.Method == http.MethodPut && q.Get("comp") == "block":
		return "PutBlock"
	case len(parts) == 3 && r.Method == http.MethodPut && q.Get("comp") == "blocklist":
		return "PutBlockList"
	case len(parts) == 3 && r.Method == http.MethodPut && q.Get("comp") == "":
		return "PutBlob"
	case len(parts) == 3 && r.Method == http.MethodHead:
		return "GetBlobProperties"
	case len(parts) == 3 && r.Method == http.MethodGet && q.Get("comp") == "":
		return "GetBlob"
	}
	return r.Method + " " + r.URL.Path
}

// Count returns how many requests of an operation (see Op) went through the proxy.
func (s *Server) Count(op string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.ops[op] }

// Fail makes the next n requests of an operation answer 500 InternalError.
func (s *Server) Fail(op string, n int) { s.mu.Lock(); s.fails[op] += n; s.mu.Unlock() }

// Reset clears the counters and pending faults.
func (s *Server) Reset() {
	s.mu.Lock()
	s.ops, s.fails = map[string]int{}, map[string]int{}
	s.mu.Unlock()
}

// tail keeps the last 4 KiB of Azurite's output for error messages.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
