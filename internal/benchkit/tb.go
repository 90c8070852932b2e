package benchkit

import (
	"fmt"
	"sync"
	"testing"
)

// T lets the repository's test fakes (internal/fakes/..., whose constructors take a
// testing.TB) run outside `go test`, in cmd/bench. Only the methods the fakes use are
// implemented: Helper, Name, Cleanup, Log(f), Error(f), Fatal(f), Failed. Fatal panics
// with a Failure, which Run turns back into an error. Close runs the cleanups.
type T struct {
	testing.TB // nil: a method not listed above panics

	name     string
	mu       sync.Mutex
	cleanups []func()
	errs     []string
}

// Failure is the panic value of T.Fatal.
type Failure struct{ Msg string }

func (f Failure) Error() string { return f.Msg }

// NewT returns a T named name.
func NewT(name string) *T { return &T{name: name} }

// Helper does nothing.
func (t *T) Helper() {}

// Name returns the name given to NewT.
func (t *T) Name() string { return t.name }

// Cleanup registers f to run at Close, last registered first.
func (t *T) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

// Log discards its arguments.
func (t *T) Log(args ...any) {}

// Logf discards its arguments.
func (t *T) Logf(format string, args ...any) {}

// Error records a failure.
func (t *T) Error(args ...any) { t.record(fmt.Sprint(args...)) }

// Errorf records a failure.
func (t *T) Errorf(format string, args ...any) { t.record(fmt.Sprintf(format, args...)) }

// Fatal panics with a Failure.
func (t *T) Fatal(args ...any) { panic(Failure{fmt.Sprint(args...)}) }

// Fatalf panics with a Failure.
func (t *T) Fatalf(format string, args ...any) { panic(Failure{fmt.Sprintf(format, args...)}) }

// Failed reports whether Error was called.
func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.errs) > 0
}

// Errors returns what Error recorded.
func (t *T) Errors() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.errs...)
}

func (t *T) record(s string) {
	t.mu.Lock()
	t.errs = append(t.errs, s)
	t.mu.Unlock()
}

// Close runs the cleanups.
func (t *T) Close() {
	t.mu.Lock()
	c := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}
