// Package metrics exposes the hub's Prometheus metrics and its health endpoints. It observes
// the server (requests, executes, delivery reports) and the vendor client (calls, retries,
// 429s). Labels carry only route, known action and vendor names and status codes: never a
// secret, a URL or user data.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/actionhub/actionhub/sdk"
)

// Metrics implements server.Observer and vendorhttp.Observer.
type Metrics struct {
	reg      *prometheus.Registry
	known    map[string]bool
	requests *prometheus.CounterVec
	reqDur   *prometheus.HistogramVec
	execDur  *prometheus.HistogramVec
	inflight prometheus.Gauge
	rows     *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	vCalls   *prometheus.CounterVec
	vDur     *prometheus.HistogramVec
	vRetries *prometheus.CounterVec
	v429     *prometheus.CounterVec
}

// New registers the hub's metrics in a new registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg, known: map[string]bool{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actionhub_requests_total",
		Help: "Action API requests by route, action and HTTP status."}, []string{"route", "action", "status"})
	m.reqDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "actionhub_request_duration_seconds",
		Help: "Action API request durations by route.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"route"})
	m.execDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "actionhub_execute_duration_seconds",
		Help: "Execute durations by action.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"action"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "actionhub_executes_in_flight", Help: "Executes running now."})
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actionhub_rows_total",
		Help: "Rows (or items) read, delivered, rejected and skipped, by action."}, []string{"action", "outcome"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actionhub_bytes_delivered_total",
		Help: "Bytes delivered by file actions."}, []string{"action"})
	m.vCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actionhub_vendor_calls_total",
		Help: "Vendor API calls by vendor and status (0 = transport error)."}, []string{"vendor", "status"})
	m.vDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "actionhub_vendor_call_duration_seconds",
		Help: "Vendor API call durations.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 9)}, []string{"vendor"})
	m.vRetries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actionhub_vendor_retries_total",
		Help: "Vendor calls retried, by vendor and the status that caused it."}, []string{"vendor", "status"})
	m.v429 = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actionhub_vendor_rate_limited_total",
		Help: "Vendor 429 answers."}, []string{"vendor"})
	for _, c := range []prometheus.Collector{m.requests, m.reqDur, m.execDur, m.inflight, m.rows, m.bytes, m.vCalls, m.vDur, m.vRetries, m.v429} {
		f(c)
	}
	return m
}

// SetActions names the served actions; any other name (from a request path) is counted as
// "unknown" so labels stay bounded. Call it before serving.
func (m *Metrics) SetActions(actions []string) {
	for _, a := range actions {
		m.known[a] = true
	}
}

func (m *Metrics) action(a string) string {
	if a == "" {
		return ""
	}
	if m.known[a] {
		return a
	}
	return "unknown"
}

// Request counts one finished request.
func (m *Metrics) Request(route, action string, status int, dur time.Duration) {
	m.requests.WithLabelValues(route, m.action(action), strconv.Itoa(status)).Inc()
	m.reqDur.WithLabelValues(route).Observe(dur.Seconds())
}

// ExecuteStarted counts an execute in flight.
func (m *Metrics) ExecuteStarted(action string) { m.inflight.Inc() }

// ExecuteFinished records an execute's duration and delivery report.
func (m *Metrics) ExecuteFinished(action string, r *sdk.Report, dur time.Duration) {
	m.inflight.Dec()
	a := m.action(action)
	m.execDur.WithLabelValues(a).Observe(dur.Seconds())
	if r == nil {
		return
	}
	s := r.Snapshot()
	m.rows.WithLabelValues(a, "read").Add(float64(s.Read))
	m.rows.WithLabelValues(a, "delivered").Add(float64(s.Delivered))
	m.rows.WithLabelValues(a, "rejected").Add(float64(s.Rejected))
	m.rows.WithLabelValues(a, "skipped").Add(float64(s.Skipped))
	if s.Bytes > 0 {
		m.bytes.WithLabelValues(a).Add(float64(s.Bytes))
	}
}

// Call counts one vendor call attempt.
func (m *Metrics) Call(vendor string, status int, dur time.Duration) {
	m.vCalls.WithLabelValues(vendor, strconv.Itoa(status)).Inc()
	m.vDur.WithLabelValues(vendor).Observe(dur.Seconds())
	if status == http.StatusTooManyRequests {
		m.v429.WithLabelValues(vendor).Inc()
	}
}

// Retry counts one retried vendor call.
func (m *Metrics) Retry(vendor string, status int) {
	m.vRetries.WithLabelValues(vendor, strconv.Itoa(status)).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Health serves /healthz (the process is up) and /readyz (it takes new executes: 503 while
// draining for shutdown).
func Health(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"draining"}`))
			return
		}
		w.Write([]byte(`{"status":"ready"}`))
	})
	return mux
}
