package benchkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/actionhub/actionhub/server"
)

// Credentials every hub started by StartHub uses unless HubOptions.Env overrides them.
const (
	Secret       = "benchkit-secret-0123456789abcdef"
	CipherMaster = "6a1f0c2e9b3d47a8c5e1f20b4d6a8c0e2f4a6b8d0c1e3f5a7b9d1c3e5f7a9b1c"
)

// Packages of the hub binaries.
const (
	// ProductionHub is the production command.
	ProductionHub = "./cmd/actionhub"
	// BenchHub is cmd/actionhub with the benchmarked actions imported by name.
	BenchHub = "./internal/benchkit/actionhub"
)

// ModuleRoot returns the directory of the go.mod of the working directory's module.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the actionhub module")
	}
	return filepath.Dir(mod), nil
}

// Build compiles the main package pkg (relative to the module root, e.g. ProductionHub)
// with CGO_ENABLED=0, as deploy/build-image.sh does, into dir and returns the binary's
// path.
func Build(ctx context.Context, pkg, dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// HubOptions configure StartHub.
type HubOptions struct {
	// Binary is the hub executable.
	Binary string
	// Env is the whole environment of the process (nothing else is inherited), on top of
	// defaults: ACTION_HUB_LABEL, ACTION_HUB_SECRET (Secret), CIPHER_MASTER
	// (CipherMaster), PORT (a free port unless set) and ACTION_HUB_BASE_URL
	// (http://127.0.0.1:PORT unless set).
	Env map[string]string
	// Args are the command-line arguments (default: -production).
	Args []string
}

// Hub is a hub running as a child process.
type Hub struct {
	// URL is the hub's loopback URL; Key is a valid API key.
	URL, Key string
	// Cmd is the process.
	Cmd *exec.Cmd

	stdout, stderr *tail
	done           chan struct{}
	waitErr        error
}

// FreePort returns a port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// StartHub starts the binary and waits until it answers GET / (up to 30 s).
func StartHub(opt HubOptions) (*Hub, error) {
	env := map[string]string{"ACTION_HUB_LABEL": "Bench Hub", "ACTION_HUB_SECRET": Secret, "CIPHER_MASTER": CipherMaster}
	for k, v := range opt.Env {
		env[k] = v
	}
	if env["PORT"] == "" {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		env["PORT"] = strconv.Itoa(p)
	}
	url := "http://127.0.0.1:" + env["PORT"]
	if env["ACTION_HUB_BASE_URL"] == "" {
		env["ACTION_HUB_BASE_URL"] = url
	}
	args := opt.Args
	if args == nil {
		args = []string{"-production"}
	}
	// An empty working directory of its own: no .env or status.json is picked up.
	dir, err := os.MkdirTemp("", "actionhub-run-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(opt.Binary, args...)
	cmd.Dir = dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	h := &Hub{URL: url, Key: server.GenerateAPIKey(env["ACTION_HUB_SECRET"]), Cmd: cmd,
		stdout: &tail{max: 64 << 10}, stderr: &tail{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = h.stdout, h.stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { h.waitErr = cmd.Wait(); os.RemoveAll(dir); close(h.done) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		select {
		case <-h.done:
			return nil, fmt.Errorf("the hub exited at start (%v): %s", h.waitErr, h.Stderr())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			h.Kill()
			return nil, fmt.Errorf("the hub did not answer within 30s: %s", h.Stderr())
		}
	}
}

// PID is the process id.
func (h *Hub) PID() int { return h.Cmd.Process.Pid }

// Stderr returns the last 64 KiB the hub wrote to stderr (its JSON logs).
func (h *Hub) Stderr() string { return h.stderr.String() }

// Stdout returns the last 64 KiB the hub wrote to stdout.
func (h *Hub) Stdout() string { return h.stdout.String() }

// Signal sends sig to the hub.
func (h *Hub) Signal(sig os.Signal) error { return h.Cmd.Process.Signal(sig) }

// Done is closed when the process has exited.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Wait waits up to d for the process to exit and returns its exit code.
func (h *Hub) Wait(d time.Duration) (int, error) {
	select {
	case <-h.done:
	case <-time.After(d):
		return -1, fmt.Errorf("the hub did not exit within %s", d)
	}
	if h.waitErr != nil {
		var ee *exec.ExitError
		if errors.As(h.waitErr, &ee) {
			return ee.ExitCode(), nil
		}
		return -1, h.waitErr
	}
	return 0, nil
}

// Kill kills the process (if running) and waits for it.
func (h *Hub) Kill() {
	select {
	case <-h.done:
		return
	default:
	}
	h.Cmd.Process.Signal(syscall.SIGKILL)
	<-h.done
}

// PeakRSS is the process's peak resident set size (VmHWM of /proc/<pid>/status), in bytes.
func (h *Hub) PeakRSS() (int64, error) { return procStatus(h.PID(), "VmHWM:") }

// RSS is the process's resident set size now (VmRSS), in bytes.
func (h *Hub) RSS() (int64, error) { return procStatus(h.PID(), "VmRSS:") }

// ResetPeakRSS resets VmHWM to the current RSS (Linux clear_refs).
func (h *Hub) ResetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", h.PID()), []byte("5"), 0)
}

// SelfPeakRSS is this process's VmHWM in bytes.
func SelfPeakRSS() (int64, error) { return procStatus(os.Getpid(), "VmHWM:") }

func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max { // trim now and then: amortised O(1) a byte
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return string(bytes.ToValidUTF8(b, nil))
}
