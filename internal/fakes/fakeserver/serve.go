package fakeserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// DefaultSampleEvery is how often a fake in Light mode fully validates a request (one in
// 50) when its options set no rate.
const DefaultSampleEvery = 50

// Start serves h on a loopback test server, closed when the test ends, and returns its
// base URL.
func Start(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Sampled says whether request n (from [Base.Arrive]) of a Light-mode fake is one it
// fully validates: the first, then one in every (DefaultSampleEvery when every <= 0).
func Sampled(n int64, every int) bool {
	if every <= 0 {
		every = DefaultSampleEvery
	}
	return n%int64(every) == 1
}

// Problem records msg as a refusal (see [Base.Problems]) and answers status with body,
// the vendor's error object, as JSON.
func (b *Base) Problem(w http.ResponseWriter, status int, msg string, body any) {
	b.AddProblem(msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	out, _ := json.Marshal(body)
	w.Write(out)
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ReadBody reads r's body into a pooled buffer: all of it, or at most limit+1 bytes when
// limit > 0 (so that a body over limit shows as longer than limit). ok is false when the
// read failed (the client hung up): the handler then returns. Otherwise release gives the
// buffer back once body is no longer used.
func ReadBody(r *http.Request, limit int64) (body []byte, release func(), ok bool) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	var src io.Reader = r.Body
	if limit > 0 {
		src = io.LimitReader(r.Body, limit+1)
	}
	if _, err := buf.ReadFrom(src); err != nil {
		bodyPool.Put(buf)
		return nil, nil, false
	}
	return buf.Bytes(), func() { bodyPool.Put(buf) }, true
}

// StoreMax raises v to n when n is larger (the peak of a gauge, the largest request).
func StoreMax(v *atomic.Int64, n int64) {
	for {
		m := v.Load()
		if n <= m || v.CompareAndSwap(m, n) {
			return
		}
	}
}
