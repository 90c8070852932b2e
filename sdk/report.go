package sdk

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// MaxReportedRejections is how many rejection reasons a Report keeps; the count stays exact.
const MaxReportedRejections = 20

// Rejection is one row (or item) the vendor or the action refused, and why.
type Rejection struct {
	// Row is the 1-based row number in the result, 0 when unknown.
	Row    int64  `json:"row"`
	Reason string `json:"reason"`
}

// Report is the delivery report of an execute: what was read, what reached the vendor,
// what was refused and why. It is safe for concurrent use.
type Report struct {
	mu sync.Mutex
	// Unit names what is counted ("rows" unless set: "files", "messages", ...).
	Unit string
	// AllowPartial makes Success true when at least one item was delivered, for actions
	// whose own rule accepts partial delivery.
	AllowPartial bool

	read, delivered, rejected, skipped int64
	batches, retries                   int64
	bytes                              int64
	reasons                            []Rejection
	reasonCount                        map[string]int64
	fatal                              string
}

// NewReport returns an empty report counting rows.
func NewReport() *Report { return &Report{Unit: "rows"} }

// AddRead counts n items read from the source.
func (r *Report) AddRead(n int64) { r.mu.Lock(); r.read += n; r.mu.Unlock() }

// AddDelivered counts n items the vendor accepted.
func (r *Report) AddDelivered(n int64) { r.mu.Lock(); r.delivered += n; r.mu.Unlock() }

// AddSkipped counts n items deliberately not sent (duplicates, empty rows); they are not failures.
func (r *Report) AddSkipped(n int64) { r.mu.Lock(); r.skipped += n; r.mu.Unlock() }

// AddBytes counts n bytes delivered (file actions).
func (r *Report) AddBytes(n int64) { r.mu.Lock(); r.bytes += n; r.mu.Unlock() }

// AddBatch counts one batch sent, and retries of it.
func (r *Report) AddBatch(retries int) {
	r.mu.Lock()
	r.batches++
	r.retries += int64(retries)
	r.mu.Unlock()
}

// AddRetries counts n retried calls.
func (r *Report) AddRetries(n int) { r.mu.Lock(); r.retries += int64(n); r.mu.Unlock() }

// Reject counts one refused item with its reason. The first MaxReportedRejections
// reasons are kept with their row numbers; every reason is counted.
func (r *Report) Reject(row int64, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected++
	if r.reasonCount == nil {
		r.reasonCount = map[string]int64{}
	}
	if _, seen := r.reasonCount[reason]; seen || len(r.reasonCount) < 1000 {
		r.reasonCount[reason]++
	}
	if len(r.reasons) < MaxReportedRejections {
		r.reasons = append(r.reasons, Rejection{Row: row, Reason: reason})
	}
}

// Fatal records an error that stopped the delivery (a cut download, a lost credential).
// Items read and not delivered by then count as rejected only if the caller rejects them.
func (r *Report) Fatal(msg string) {
	r.mu.Lock()
	if r.fatal == "" {
		r.fatal = msg
	}
	r.mu.Unlock()
}

// Snapshot is a report's figures at one moment, for logs and JSON.
type Snapshot struct {
	Unit       string      `json:"unit"`
	Read       int64       `json:"read"`
	Delivered  int64       `json:"delivered"`
	Rejected   int64       `json:"rejected"`
	Skipped    int64       `json:"skipped"`
	Batches    int64       `json:"batches"`
	Retries    int64       `json:"retries"`
	Bytes      int64       `json:"bytes,omitempty"`
	Rejections []Rejection `json:"rejections,omitempty"`
	Fatal      string      `json:"fatal,omitempty"`
}

// Snapshot returns the current figures.
func (r *Report) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	unit := r.Unit
	if unit == "" {
		unit = "rows"
	}
	return Snapshot{Unit: unit, Read: r.read, Delivered: r.delivered, Rejected: r.rejected,
		Skipped: r.skipped, Batches: r.batches, Retries: r.retries, Bytes: r.bytes,
		Rejections: append([]Rejection(nil), r.reasons...), Fatal: r.fatal}
}

// Success is true when nothing failed: no fatal error, no rejection, and every item read
// was delivered or skipped. With AllowPartial, one delivered item is enough.
func (r *Report) Success() bool {
	s := r.Snapshot()
	if s.Fatal != "" && !(r.AllowPartial && s.Delivered > 0) {
		return false
	}
	if r.AllowPartial {
		return s.Delivered > 0 || (s.Read == s.Skipped && s.Rejected == 0)
	}
	return s.Rejected == 0 && s.Delivered+s.Skipped == s.Read
}

// Summary is the short human text Looker shows in the schedule history, for example
// "Delivered 99,998 of 100,000 rows; 2 rejected: row 17: invalid email (x2)".
func (r *Report) Summary() string {
	s := r.Snapshot()
	r.mu.Lock()
	counts := make(map[string]int64, len(r.reasonCount))
	for k, v := range r.reasonCount {
		counts[k] = v
	}
	r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Delivered %s of %s %s", group(s.Delivered), group(s.Read), s.Unit)
	if s.Skipped > 0 {
		fmt.Fprintf(&b, "; %s skipped", group(s.Skipped))
	}
	if s.Rejected > 0 {
		fmt.Fprintf(&b, "; %s rejected", group(s.Rejected))
		shown := map[string]bool{}
		var parts []string
		for _, rj := range s.Rejections {
			if shown[rj.Reason] || len(parts) == 3 {
				continue
			}
			shown[rj.Reason] = true
			p := rj.Reason
			if rj.Row > 0 {
				p = fmt.Sprintf("row %d: %s", rj.Row, rj.Reason)
			}
			if n := counts[rj.Reason]; n > 1 {
				p += fmt.Sprintf(" (x%s)", group(n))
			}
			parts = append(parts, p)
		}
		if len(parts) > 0 {
			b.WriteString(": ")
			b.WriteString(strings.Join(parts, "; "))
		}
	}
	if lost := s.Read - s.Delivered - s.Skipped - s.Rejected; lost > 0 && s.Fatal != "" {
		fmt.Fprintf(&b, "; %s not sent", group(lost))
	}
	if s.Retries > 0 {
		fmt.Fprintf(&b, "; %s retries", group(s.Retries))
	}
	if s.Fatal != "" {
		fmt.Fprintf(&b, ". Stopped: %s", s.Fatal)
	}
	b.WriteString(".")
	return b.String()
}

// LogValue makes a Report print as structured attributes in log/slog.
func (r *Report) LogValue() slog.Value {
	s := r.Snapshot()
	attrs := []slog.Attr{
		slog.String("unit", s.Unit), slog.Int64("read", s.Read), slog.Int64("delivered", s.Delivered),
		slog.Int64("rejected", s.Rejected), slog.Int64("skipped", s.Skipped),
		slog.Int64("batches", s.Batches), slog.Int64("retries", s.Retries),
	}
	if s.Bytes > 0 {
		attrs = append(attrs, slog.Int64("bytes", s.Bytes))
	}
	if s.Fatal != "" {
		attrs = append(attrs, slog.String("fatal", s.Fatal))
	}
	return slog.GroupValue(attrs...)
}

func group(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}
