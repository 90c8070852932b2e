package simulator

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DownloadTTL is how long an unused download URL stays valid, as Looker's
// scheduled_plan.download_url (one use or 3600 s).
const DownloadTTL = 3600 * time.Second

// Source writes a download's content to w, counting rows in rows when it has any.
type Source func(ctx context.Context, w io.Writer, rows *atomic.Int64) error

// Downloads serves one-time download URLs as Looker does to a hub: each URL answers one
// GET with the streamed content, then 404; an unused URL expires after TTL. Content is
// produced while it is sent, so its size does not matter.
type Downloads struct {
	// TTL overrides DownloadTTL when positive.
	TTL time.Duration
	// Now overrides time.Now (tests).
	Now func() time.Time

	mu    sync.Mutex
	items map[string]*Download
}

// Download is one issued download URL and what happened to it.
type Download struct {
	// Token is the last path element of the URL.
	Token       string
	contentType string
	expires     time.Time
	source      Source

	rows, bytes atomic.Int64
	fetched     atomic.Bool
	done        chan struct{}

	mu       sync.Mutex
	started  time.Time
	finished time.Time
	err      string
	complete bool
}

// DownloadStats says whether and how the hub fetched a download URL.
type DownloadStats struct {
	Fetched  bool          `json:"fetched"`
	Complete bool          `json:"complete"`
	Rows     int64         `json:"rows"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
}

func (ds *Downloads) now() time.Time {
	if ds.Now != nil {
		return ds.Now()
	}
	return time.Now()
}

func (ds *Downloads) ttl() time.Duration {
	if ds.TTL > 0 {
		return ds.TTL
	}
	return DownloadTTL
}

// Add issues a download whose content src writes, served with contentType.
func (ds *Downloads) Add(contentType string, src Source) *Download {
	d := &Download{Token: randomHex(16), contentType: contentType, source: src,
		expires: ds.now().Add(ds.ttl()), done: make(chan struct{})}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.items == nil {
		ds.items = map[string]*Download{}
	}
	now := ds.now()
	for k, v := range ds.items {
		if now.After(v.expires) {
			delete(ds.items, k)
		}
	}
	ds.items[d.Token] = d
	return d
}

// Pending returns how many download URLs are still unused and valid.
func (ds *Downloads) Pending() int {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	n := 0
	now := ds.now()
	for _, v := range ds.items {
		if !now.After(v.expires) {
			n++
		}
	}
	return n
}

// claim takes the download for token out of the table: it is then used, whatever happens.
func (ds *Downloads) claim(token string) *Download {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d := ds.items[token]
	if d == nil {
		return nil
	}
	delete(ds.items, token)
	if ds.now().After(d.expires) {
		return nil
	}
	return d
}

// ServeHTTP answers GET <anything>/<token>. The first GET streams the content; any later
// request, or one after expiry, gets 404. A failure while streaming cuts the connection,
// so the hub sees an incomplete body rather than a short valid one.
func (ds *Downloads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	d := ds.claim(token)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	d.fetched.Store(true)
	d.mu.Lock()
	d.started = time.Now()
	d.mu.Unlock()
	w.Header().Set("Content-Type", d.contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	err := d.source(r.Context(), &countWriter{w: w, n: &d.bytes}, &d.rows)
	d.mu.Lock()
	d.finished = time.Now()
	d.complete = err == nil
	if err != nil {
		d.err = err.Error()
	}
	d.mu.Unlock()
	close(d.done)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
}

// Stats returns what happened to the download so far.
func (d *Download) Stats() DownloadStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := DownloadStats{Fetched: d.fetched.Load(), Complete: d.complete, Rows: d.rows.Load(),
		Bytes: d.bytes.Load(), Error: d.err}
	switch {
	case !d.finished.IsZero():
		s.Duration = d.finished.Sub(d.started)
	case !d.started.IsZero():
		s.Duration = time.Since(d.started)
	}
	return s
}

// Wait waits until a started download ends, at most timeout. It returns at once when the
// hub has not fetched the URL.
func (d *Download) Wait(timeout time.Duration) {
	if !d.fetched.Load() {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-d.done:
	case <-t.C:
	}
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
