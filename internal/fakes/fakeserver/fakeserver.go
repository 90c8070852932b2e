// Package fakeserver is the plumbing that the fake vendor servers of tests (Segment,
// Braze, mParticle) share: a queue of injected faults applied one per request, the
// counters of requests and faults, and the record of what the fake refused (problems a
// correct client never causes).
//
// A fake embeds [Base] in its Server, which gives it Inject, PendingFaults, Requests,
// Faulted, Problems and Problem, serves its handler with [Start], reads bodies with
// [ReadBody] and starts its handler with [Base.Arrive] and [Base.Before]:
//
//	n := s.Arrive()
//	f, answered := s.Before(w, r, fakeserver.Answers{ServerErrorStatus: 503})
//	if answered {
//		return
//	}
//	// ... check, commit ...
//	if f.Kind == fakeserver.DropAfterCommit {
//		fakeserver.Drop(w)
//		return
//	}
package fakeserver

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// FaultKind is what the fake does to one request instead of (or after) answering it.
type FaultKind int

// Faults.
const (
	// None answers normally.
	None FaultKind = iota
	// TooMany answers 429 with the fault's RetryAfter header, committing nothing.
	TooMany
	// ServerError answers the fault's Status (the fake's default when 0), committing
	// nothing.
	ServerError
	// Hang waits for the fault's Delay (or until the client hangs up), commits nothing and
	// closes the connection without an answer.
	Hang
	// DropBeforeCommit closes the connection without reading or storing anything.
	DropBeforeCommit
	// DropAfterCommit stores the request, then closes the connection without answering:
	// the client cannot know whether it was received.
	DropAfterCommit
)

// Fault is one injected misbehaviour.
type Fault struct {
	Kind FaultKind
	// RetryAfter is the Retry-After header of TooMany ("" sends none).
	RetryAfter string
	// Status is ServerError's status (0: the fake's default).
	Status int
	// Delay is how long Hang waits (default 10s, cut short when the client hangs up).
	Delay time.Duration
}

// maxProblems bounds the problems kept.
const maxProblems = 100

// Base is embedded in a fake's Server. The zero value is ready; it is safe for
// concurrent use.
type Base struct {
	requests atomic.Int64 // HTTP requests received
	faulted  atomic.Int64 // requests a fault was applied to

	mu       sync.Mutex
	faults   []Fault
	problems []string
}

// Inject queues faults: each of the next requests gets the next fault, in arrival order.
func (b *Base) Inject(faults ...Fault) {
	b.mu.Lock()
	b.faults = append(b.faults, faults...)
	b.mu.Unlock()
}

// PendingFaults is the number of injected faults not yet applied.
func (b *Base) PendingFaults() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.faults)
}

// Requests is the number of HTTP requests received, faulted ones included.
func (b *Base) Requests() int64 { return b.requests.Load() }

// Faulted is the number of requests a fault was applied to.
func (b *Base) Faulted() int64 { return b.faulted.Load() }

// Problems returns what the fake refused (bad auth, oversized or malformed requests): a
// correct client causes none.
func (b *Base) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// AddProblem records a refusal (the first 100 are kept).
func (b *Base) AddProblem(msg string) {
	b.mu.Lock()
	if len(b.problems) < maxProblems {
		b.problems = append(b.problems, msg)
	}
	b.mu.Unlock()
}

// Arrive counts a request and returns its number, from 1.
func (b *Base) Arrive() int64 { return b.requests.Add(1) }

// NextFault takes the next queued fault (None when the queue is empty) and counts it as
// applied when it is one.
func (b *Base) NextFault() Fault {
	b.mu.Lock()
	var f Fault
	if len(b.faults) > 0 {
		f = b.faults[0]
		b.faults = b.faults[1:]
	}
	b.mu.Unlock()
	if f.Kind != None {
		b.faulted.Add(1)
	}
	return f
}

// Answers are how a vendor answers the faults Before applies.
type Answers struct {
	// TooMany, when set, writes the 429 answer (its own headers, WriteHeader, a body);
	// Retry-After is already set. By default: a bare 429.
	TooMany func(w http.ResponseWriter, f Fault)
	// ServerErrorStatus is ServerError's status when the fault sets none (default 500).
	ServerErrorStatus int
}

// Before takes the request's fault (NextFault) and applies it when it happens before
// anything is committed (TooMany, ServerError, Hang, DropBeforeCommit): answered is then
// true and the handler returns. Otherwise the fault (None or DropAfterCommit) is the
// handler's to finish.
func (b *Base) Before(w http.ResponseWriter, r *http.Request, a Answers) (f Fault, answered bool) {
	f = b.NextFault()
	switch f.Kind {
	case TooMany:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if a.TooMany != nil {
			a.TooMany(w, f)
		} else {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	case ServerError:
		st := f.Status
		if st == 0 {
			st = a.ServerErrorStatus
		}
		if st == 0 {
			st = http.StatusInternalServerError
		}
		http.Error(w, "injected failure", st)
	case Hang:
		d := f.Delay
		if d == 0 {
			d = 10 * time.Second
		}
		// Reading the body lets the server notice when the client hangs up.
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(d):
			Drop(w) // never an answer: returning would send an empty 200
		case <-r.Context().Done():
		}
	case DropBeforeCommit:
		Drop(w)
	default:
		return f, false
	}
	return f, true
}

// Drop closes the client's connection without an answer.
func Drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}
