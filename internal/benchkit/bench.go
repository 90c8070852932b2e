// Package benchkit measures the hub as it runs in production: the real binary as a child
// process, fed over loopback by a Looker-like client and a one-time download server that
// streams generated data, delivering to the repository's vendor fakes (answering at once,
// counting instead of storing). Run does the whole measurement of cmd/bench; the parts
// (Downloads, StartHub, Looker, Load, T) serve the load and operations tests as well.
//
// Peak RSS figures are the VmHWM of the hub's own process (/proc/<pid>/status), a fresh
// process for each measured row, so they cover the hub alone: not the fakes, the
// generator or the client, which live in the measuring process.
package benchkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	brazefake "github.com/actionhub/actionhub/internal/fakes/braze"
	"github.com/actionhub/actionhub/internal/fakes/s3fake"
	segmentfake "github.com/actionhub/actionhub/internal/fakes/segment"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// Options of a Run.
type Options struct {
	// SegmentRows and BrazeRows are the row counts of the Segment Identify and Braze runs.
	SegmentRows, BrazeRows []int
	// S3Bytes is the size of the amazon_s3 upload.
	S3Bytes int64
	// Clients is the number of concurrent clients of the latency rows.
	Clients int
	// LatencyDuration is how long each latency row runs.
	LatencyDuration time.Duration
	// HubBinary is a built hub; "" builds HubPackage into a temporary directory.
	HubBinary string
	// HubPackage is the main package built when HubBinary is "" (default BenchHub).
	HubPackage string
	// Progress receives a line per finished row (nil: none).
	Progress io.Writer
}

// DefaultOptions are the full run: 100k and 1M rows, 1 GiB, 64 clients for 5 s.
func DefaultOptions() Options {
	return Options{SegmentRows: []int{100_000, 1_000_000}, BrazeRows: []int{100_000, 1_000_000},
		S3Bytes: 1 << 30, Clients: 64, LatencyDuration: 5 * time.Second}
}

// QuickOptions are a small run with the same rows (used by tests).
func QuickOptions() Options {
	return Options{SegmentRows: []int{2_000, 10_000}, BrazeRows: []int{2_000, 10_000},
		S3Bytes: 16 << 20, Clients: 64, LatencyDuration: 500 * time.Millisecond}
}

// Row kinds.
const (
	KindDelivery  = "delivery"  // an execute through the hub to a vendor fake
	KindReference = "reference" // the same bytes read from the socket into io.Discard
	KindLatency   = "latency"   // closed-loop requests from concurrent clients
)

// Row is one measured line of the table.
type Row struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Size string `json:"size"`
	// Rows and Bytes are what was sent (Bytes: the download's size).
	Rows    int64   `json:"rows,omitempty"`
	Bytes   int64   `json:"bytes,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	// RowsPerSec and MBPerSec are throughputs (MB = 10^6 bytes).
	RowsPerSec float64 `json:"rows_per_sec,omitempty"`
	MBPerSec   float64 `json:"mb_per_sec,omitempty"`
	// PeakRSSMB is the hub process's VmHWM in MiB (delivery and latency rows).
	PeakRSSMB float64 `json:"peak_rss_mib,omitempty"`
	// Latency rows.
	Clients   int     `json:"clients,omitempty"`
	Requests  int64   `json:"requests,omitempty"`
	P50ms     float64 `json:"p50_ms,omitempty"`
	P99ms     float64 `json:"p99_ms,omitempty"`
	ReqPerSec float64 `json:"requests_per_sec,omitempty"`
}

// Result is a whole run.
type Result struct {
	Date    time.Time `json:"date"`
	Machine Machine   `json:"machine"`
	Hub     string    `json:"hub"`
	RSS     string    `json:"rss"`
	Notes   []string  `json:"notes"`
	Rows    []Row     `json:"rows"`
	Seconds float64   `json:"seconds"`
}

// Fake vendor credentials.
const (
	segmentKey  = "bench-segment-write-key"
	brazeKey    = "bench-braze-api-key"
	s3AccessKey = "AKIABENCHACCESSKEY01"
	s3Secret    = "bench/secret+Key0123456789abcdefghijklmn"
	s3Bucket    = "bench"
)

// BrazeColumns are the generated columns of the Braze rows: the identifier (tag braze_id)
// and two custom attributes.
var BrazeColumns = []rowsgen.Column{
	{Name: "users.id", Tags: []string{"braze_id"}, Kind: rowsgen.String},
	{Name: "users.email", Tags: []string{"braze[email]"}, Kind: rowsgen.Email},
	{Name: "orders.total", Tags: []string{"braze[total]"}, Kind: rowsgen.Float, Measure: true},
}

// run holds what the rows of a Run share.
type run struct {
	opt  Options
	bin  string
	t    *T
	dl   *Downloads
	http *http.Client
	seg  *segmentfake.Server
	bz   *brazefake.Server
	s3   *s3fake.Server
	res  *Result
}

// Run measures every row of Options and returns the result.
func Run(ctx context.Context, opt Options) (res *Result, err error) {
	if opt.Clients <= 0 {
		opt.Clients = 64
	}
	if opt.LatencyDuration <= 0 {
		opt.LatencyDuration = 5 * time.Second
	}
	if opt.HubPackage == "" {
		opt.HubPackage = BenchHub
	}
	start := time.Now()
	r := &run{opt: opt, t: NewT("bench"), res: &Result{Date: start.UTC().Truncate(time.Second), Machine: ThisMachine()}}
	defer r.t.Close()
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(Failure)
			if !ok {
				panic(p)
			}
			err = f
		}
	}()
	r.bin = opt.HubBinary
	if r.bin == "" {
		dir, err := os.MkdirTemp("", "actionhub-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		r.progress("building %s (CGO_ENABLED=0)", opt.HubPackage)
		if r.bin, err = Build(ctx, opt.HubPackage, dir); err != nil {
			return nil, err
		}
		r.res.Hub = opt.HubPackage + " built with go build, CGO_ENABLED=0, run with -production"
	} else {
		r.res.Hub = r.bin + " run with -production"
	}
	r.res.RSS = "VmHWM of the hub's child process (/proc/<pid>/status), a fresh process per row; the fakes, generator and client run in the bench process and are not counted"
	r.res.Notes = []string{
		"loopback only: Looker client, download server and vendor fakes in the bench process, the hub in a child process",
		"the hub's own vendor rate limits are off (SEGMENT_RATE_LIMIT=0, BRAZE_RATE_LIMIT=0) so the figures are the hub's capacity",
		"vendor fakes answer at once and count without storing (segment and braze Light mode, s3 Discard backend)",
		"reference rows read the same generated bytes from a one-time URL into io.Discard over loopback",
		"MB = 10^6 bytes",
	}
	if r.dl, err = NewDownloads(); err != nil {
		return nil, err
	}
	defer r.dl.Close()
	r.http = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	r.seg = segmentfake.New(r.t, segmentfake.Options{WriteKey: segmentKey, Light: true})
	r.bz = brazefake.New(r.t, brazefake.Options{APIKey: brazeKey, Light: true})
	r.s3 = s3fake.New(r.t, s3fake.Options{Buckets: []string{s3Bucket}, Discard: true})

	for _, n := range opt.SegmentRows {
		if err := r.segment(ctx, n); err != nil {
			return nil, err
		}
	}
	for _, n := range opt.BrazeRows {
		if err := r.braze(ctx, n); err != nil {
			return nil, err
		}
	}
	if opt.S3Bytes > 0 {
		if err := r.amazonS3(ctx, opt.S3Bytes); err != nil {
			return nil, err
		}
	}
	if err := r.latency(ctx); err != nil {
		return nil, err
	}
	r.res.Seconds = time.Since(start).Seconds()
	return r.res, nil
}

func (r *run) progress(format string, args ...any) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, "bench: "+format+"\n", args...)
	}
}

func (r *run) add(row Row) {
	r.res.Rows = append(r.res.Rows, row)
	switch row.Kind {
	case KindLatency:
		r.progress("%-26s %-15s p50 %.2f ms  p99 %.2f ms  %.0f req/s  hub peak RSS %.1f MiB", row.Name, row.Size, row.P50ms, row.P99ms, row.ReqPerSec, row.PeakRSSMB)
	default:
		line := fmt.Sprintf("%-26s %-15s %6.2f s", row.Name, row.Size, row.Seconds)
		if row.RowsPerSec > 0 {
			line += fmt.Sprintf("  %.0f rows/s", row.RowsPerSec)
		}
		line += fmt.Sprintf("  %.1f MB/s", row.MBPerSec)
		if row.PeakRSSMB > 0 {
			line += fmt.Sprintf("  hub peak RSS %.1f MiB", row.PeakRSSMB)
		}
		r.progress("%s", line)
	}
}

// hub starts a fresh hub pointed at the fakes.
func (r *run) hub() (*Hub, error) {
	return StartHub(HubOptions{Binary: r.bin, Env: map[string]string{
		"ACTION_HUB_VENDOR_URL_SEGMENT": r.seg.URL,
		"ACTION_HUB_VENDOR_URL_BRAZE":   r.bz.URL,
		"ACTION_HUB_VENDOR_URL_S3":      r.s3.URL,
		"SEGMENT_RATE_LIMIT":            "0",
		"BRAZE_RATE_LIMIT":              "0",
	}})
}

// reference reads gen's bytes from a one-time URL into io.Discard.
func (r *run) reference(name, size string, rows int64, gen func(io.Writer) error) (int64, error) {
	u := r.dl.Add(gen)
	t0 := time.Now()
	n, err := Fetch(r.http, u)
	if err != nil {
		return 0, fmt.Errorf("reference download: %w", err)
	}
	row := Row{Kind: KindReference, Name: name, Size: size, Rows: rows, Bytes: n}
	row.setThroughput(time.Since(t0))
	r.add(row)
	return n, nil
}

func (row *Row) setThroughput(d time.Duration) {
	row.Seconds = d.Seconds()
	if row.Rows > 0 {
		row.RowsPerSec = float64(row.Rows) / d.Seconds()
	}
	row.MBPerSec = float64(row.Bytes) / 1e6 / d.Seconds()
}

// deliver runs one execute on a fresh hub and measures it.
func (r *run) deliver(ctx context.Context, row Row, action string, body map[string]any, check func(*Envelope) error) error {
	h, err := r.hub()
	if err != nil {
		return err
	}
	defer h.Kill()
	l := NewLooker(h.URL, h.Key, 1)
	t0 := time.Now()
	env, err := l.Execute(ctx, action, body)
	d := time.Since(t0)
	if err == nil {
		err = check(env)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w (hub log: %s)", row.Name, row.Size, err, lastLines(h.Stderr(), 5))
	}
	rss, err := h.PeakRSS()
	if err != nil {
		return err
	}
	row.PeakRSSMB = float64(rss) / (1 << 20)
	row.setThroughput(d)
	r.add(row)
	return nil
}

func (r *run) segment(ctx context.Context, n int) error {
	opts := rowsgen.Options{Rows: n}
	size := Group(int64(n)) + " rows"
	bytes, err := r.reference("reference (segment data)", size, int64(n), Rows(opts))
	if err != nil {
		return err
	}
	before := r.seg.Received()
	body := map[string]any{
		"type": "query", "data": map[string]any{"segment_write_key": segmentKey}, "form_params": map[string]any{},
		"scheduled_plan": map[string]any{"title": "Users", "download_url": r.dl.Add(Rows(opts)),
			"query": map[string]any{"vis_config": map[string]any{"hidden_fields": []any{}}}},
	}
	return r.deliver(ctx, Row{Kind: KindDelivery, Name: "segment_event (Identify)", Size: size, Rows: int64(n), Bytes: bytes},
		"segment_event", body, func(e *Envelope) error {
			if err := Delivered(e, n); err != nil {
				return err
			}
			if got := r.seg.Received() - before; got != int64(n) {
				return fmt.Errorf("the Segment fake received %d messages, want %d", got, n)
			}
			if p := r.seg.Problems(); len(p) > 0 {
				return fmt.Errorf("the Segment fake refused: %s", p[0])
			}
			return nil
		})
}

func (r *run) braze(ctx context.Context, n int) error {
	opts := rowsgen.Options{Rows: n, Columns: BrazeColumns}
	size := Group(int64(n)) + " rows"
	bytes, err := r.reference("reference (braze data)", size, int64(n), Rows(opts))
	if err != nil {
		return err
	}
	before := r.bz.Received()
	body := map[string]any{
		"type": "query", "data": map[string]any{"braze_api_key": brazeKey, "braze_api_endpoint": "https://rest.iad-01.braze.com"},
		"form_params":    map[string]any{"braze_key": "external_id", "braze_segment": "Bench"},
		"scheduled_plan": map[string]any{"title": "Users", "download_url": r.dl.Add(Rows(opts))},
	}
	return r.deliver(ctx, Row{Kind: KindDelivery, Name: "braze", Size: size, Rows: int64(n), Bytes: bytes},
		"braze", body, func(e *Envelope) error {
			if err := Delivered(e, n); err != nil {
				return err
			}
			if got := r.bz.Received() - before; got != int64(n) {
				return fmt.Errorf("the Braze fake received %d objects, want %d", got, n)
			}
			if p := r.bz.Problems(); len(p) > 0 {
				return fmt.Errorf("the Braze fake refused: %s", p[0])
			}
			return nil
		})
}

func (r *run) amazonS3(ctx context.Context, n int64) error {
	size := Size(n)
	if _, err := r.reference("reference (bytes)", size, 0, Bytes(n)); err != nil {
		return err
	}
	key := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".bin"
	body := map[string]any{
		"type": "query", "data": map[string]any{"access_key_id": s3AccessKey, "secret_access_key": s3Secret, "region": "us-east-1"},
		"form_params":    map[string]any{"bucket": s3Bucket, "filename": key},
		"scheduled_plan": map[string]any{"title": "Bench", "download_url": r.dl.Add(Bytes(n))},
	}
	return r.deliver(ctx, Row{Kind: KindDelivery, Name: "amazon_s3", Size: size, Bytes: n},
		"amazon_s3", body, func(e *Envelope) error {
			if !e.Success {
				return fmt.Errorf("execute failed: %s", e.Message)
			}
			if got, ok := r.s3.Discarder.Size(s3Bucket, key); !ok || got != n {
				return fmt.Errorf("the S3 fake holds %d bytes for the object, want %d", got, n)
			}
			return nil
		})
}

func (r *run) latency(ctx context.Context) error {
	h, err := r.hub()
	if err != nil {
		return err
	}
	defer h.Kill()
	l := NewLooker(h.URL, h.Key, r.opt.Clients)
	size := strconv.Itoa(r.opt.Clients) + " clients"
	cases := []struct {
		name, path string
		body       any
		want       string
	}{
		{"action list (POST /)", "/", map[string]any{}, `"integrations":[`},
		{"form (braze)", "/actions/braze/form", map[string]any{"data": map[string]any{
			"braze_api_key": brazeKey, "braze_api_endpoint": "https://rest.iad-01.braze.com"}}, `"fields":[`},
	}
	for _, c := range cases {
		body, _ := json.Marshal(c.body)
		// One call first: it must succeed, and it warms the connections' path.
		if err := call(ctx, l, c.path, body, c.want); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		var (
			mu       sync.Mutex
			firstErr error
		)
		lat := Load(ctx, r.opt.Clients, r.opt.LatencyDuration, func(ctx context.Context) error {
			err := call(ctx, l, c.path, body, c.want)
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			return err
		})
		if lat.Errors > 0 {
			return fmt.Errorf("%s: %d of %d requests failed, first: %v", c.name, lat.Errors, lat.Errors+lat.Requests, firstErr)
		}
		if lat.Requests == 0 {
			return fmt.Errorf("%s: no request completed in %s", c.name, r.opt.LatencyDuration)
		}
		rss, err := h.PeakRSS()
		if err != nil {
			return err
		}
		r.add(Row{Kind: KindLatency, Name: c.name, Size: size, Clients: r.opt.Clients, Requests: lat.Requests,
			Seconds: r.opt.LatencyDuration.Seconds(), P50ms: ms(lat.P50), P99ms: ms(lat.P99), ReqPerSec: lat.PerSecond,
			PeakRSSMB: float64(rss) / (1 << 20)})
	}
	return nil
}

func call(ctx context.Context, l *Looker, path string, body []byte, want string) error {
	rep, err := l.Do(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	if rep.Status != http.StatusOK || !strings.Contains(string(rep.Body), want) {
		return fmt.Errorf("%d %.200s", rep.Status, rep.Body)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Delivered checks that an execute's envelope says every one of n rows was delivered
// (retries allowed: "Delivered 1,000 of 1,000 rows; 3 retries.").
func Delivered(e *Envelope, n int) error {
	want := "Delivered " + Group(int64(n)) + " of " + Group(int64(n)) + " rows"
	rest, ok := strings.CutPrefix(e.Message, want)
	if ok && rest != "." {
		r, isRetries := strings.CutSuffix(strings.TrimPrefix(rest, "; "), " retries.")
		ok = isRetries && strings.HasPrefix(rest, "; ") && r != "" && strings.Trim(r, "0123456789,") == ""
	}
	if !e.Success || !ok {
		return fmt.Errorf("success=%v %q, want %q", e.Success, e.Message, want+".")
	}
	return nil
}

// Group writes n with thousands separators, as the delivery reports do.
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Size writes a byte count in binary units (GiB, MiB, KiB) when exact, else in bytes.
func Size(n int64) string {
	for _, u := range []struct {
		div  int64
		unit string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.div && n%u.div == 0 {
			return strconv.FormatInt(n/u.div, 10) + " " + u.unit
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

// ParseSize reads a byte count: a number with an optional K, M or G suffix (binary units).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I"))
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a byte count such as 1073741824, 512M or 1G")
	}
	return n * mult, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WriteTable prints the result as a text table.
func (res *Result) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "Action Hub bench, %s\n", res.Date.Format(time.RFC3339))
	fmt.Fprintf(w, "Machine: %s, %d cores, %s, %s\n", res.Machine.CPU, res.Machine.Cores, res.Machine.OS, res.Machine.Go)
	fmt.Fprintf(w, "Hub: %s\nPeak RSS: %s\n\n", res.Hub, res.RSS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Scenario\tSize\tTime (s)\tRows/s\tMB/s\tPeak RSS (MiB)\tp50 (ms)\tp99 (ms)\tRequests/s\t")
	dash := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	for _, r := range res.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, r.Size, dash(r.Seconds, "%.3g"),
			dash(r.RowsPerSec, "%.0f"), dash(r.MBPerSec, "%.1f"), dash(r.PeakRSSMB, "%.1f"),
			dash(r.P50ms, "%.2f"), dash(r.P99ms, "%.2f"), dash(r.ReqPerSec, "%.0f"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, n := range res.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	_, err := fmt.Fprintf(w, "Total time: %.1f s\n", res.Seconds)
	return err
}
