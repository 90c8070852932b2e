package opstest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/benchkit"
)

var (
	binDir string
	binMu  sync.Mutex
	bins   = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opstest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds pkg (benchkit.ProductionHub or benchkit.BenchHub) once per test run.
func binary(t testing.TB, pkg string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if b, ok := bins[pkg]; ok {
		return b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := benchkit.Build(ctx, pkg, binDir)
	if err != nil {
		t.Fatal(err)
	}
	bins[pkg] = b
	return b
}

// startHub starts a hub binary and kills it at the end of the test.
func startHub(t testing.TB, pkg string, env map[string]string) *benchkit.Hub {
	t.Helper()
	h, err := benchkit.StartHub(benchkit.HubOptions{Binary: binary(t, pkg), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Kill()
		if t.Failed() {
			t.Logf("hub stderr (tail):\n%s", tailLines(h.Stderr(), 20))
		}
	})
	return h
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// downloads starts a one-time download server closed at the end of the test.
func downloads(t testing.TB) *benchkit.Downloads {
	t.Helper()
	d, err := benchkit.NewDownloads()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
