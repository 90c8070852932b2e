// Package faults injects the failures of a real network into the fake vendor servers of
// tests: rate limiting (429 with Retry-After), server errors, answers that come too late,
// and connections dropped before or after the vendor committed the request.
//
// A fake asks an [Injector] for the fault of each data request, handles the "before"
// faults before it looks at the request and the "after" faults once it has committed it,
// so a test can tell apart failures the client may safely retry (nothing happened) from
// ambiguous ones (the vendor did the work but the client never heard).
package faults

import (
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Kind is one injected failure.
type Kind int

// Fault kinds. The "Before" kinds leave the vendor's state untouched; the "After" kinds
// happen once the vendor committed the request.
const (
	None Kind = iota
	// RateLimit answers 429 with a Retry-After header; nothing is committed.
	RateLimit
	// ServerError answers 503 (or the fake's own 5xx); nothing is committed.
	ServerError
	// TimeoutBefore holds the request without an answer until the client gives up (or
	// Stall passes, then answers 504); nothing is committed.
	TimeoutBefore
	// DropBefore closes the connection without an answer; nothing is committed.
	DropBefore
	// TimeoutAfter commits the request, then holds the answer until the client gives up.
	TimeoutAfter
	// DropAfter commits the request, then closes the connection without an answer.
	DropAfter
	numKinds
)

var kindNames = [...]string{"none", "rate_limit", "server_error", "timeout_before", "drop_before", "timeout_after", "drop_after"}

// String returns the kind's name.
func (k Kind) String() string {
	if k >= 0 && k < numKinds {
		return kindNames[k]
	}
	return "invalid"
}

// Committing reports whether the vendor commits the request before the failure.
func (k Kind) Committing() bool { return k == TimeoutAfter || k == DropAfter }

// Injector decides the fault of each request: first from a queue filled by Push, then
// from Func. The zero value injects nothing. It is safe for concurrent use.
type Injector struct {
	// Func, when set, picks the fault of requests the queue does not cover; seq counts
	// the requests from 1.
	Func func(seq int64) Kind
	// RetryAfter is the Retry-After value of RateLimit faults ("0" when empty, so
	// tests do not wait; "none" sends no Retry-After header).
	RetryAfter string
	// Stall is how long the timeout faults hold a request at most (default 5s; the
	// client's own timeout should end it sooner).
	Stall time.Duration

	mu     sync.Mutex
	queue  []Kind
	seq    int64
	counts [numKinds]int
}

// Push queues faults for the next requests, in order.
func (in *Injector) Push(k ...Kind) {
	in.mu.Lock()
	in.queue = append(in.queue, k...)
	in.mu.Unlock()
}

// Next returns the fault of the next request and counts it.
func (in *Injector) Next() Kind {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seq++
	k := None
	if len(in.queue) > 0 {
		k = in.queue[0]
		in.queue = in.queue[1:]
	} else if in.Func != nil {
		k = in.Func(in.seq)
	}
	in.counts[k]++
	return k
}

// Count returns how many times k was injected.
func (in *Injector) Count(k Kind) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts[k]
}

// Total returns the number of faults injected (None excluded).
func (in *Injector) Total() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for k := RateLimit; k < numKinds; k++ {
		n += in.counts[k]
	}
	return n
}

// Random returns a Func that injects each of kinds with probability p/len(kinds) per
// request, deterministically from seed, and never more than max faults in a row (so a
// client with a few retries always gets through).
func Random(seed uint64, p float64, maxRun int, kinds ...Kind) func(int64) Kind {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	run := 0
	return func(int64) Kind {
		mu.Lock()
		defer mu.Unlock()
		if len(kinds) == 0 || run >= maxRun || r.Float64() >= p {
			run = 0
			return None
		}
		run++
		return kinds[r.IntN(len(kinds))]
	}
}

// Before handles the faults that happen before the vendor looks at the request and
// reports whether it answered (the handler must then return). write5xx writes the
// vendor's own error bodies for RateLimit (status 429) and ServerError (status 503);
// it must set Retry-After itself from RetryAfter when it wants to.
func (in *Injector) Before(w http.ResponseWriter, r *http.Request, k Kind, write func(status int)) bool {
	switch k {
	case RateLimit:
		switch ra := in.RetryAfter; ra {
		case "":
			w.Header().Set("Retry-After", "0")
		case "none":
		default:
			w.Header().Set("Retry-After", ra)
		}
		write(http.StatusTooManyRequests)
		return true
	case ServerError:
		write(http.StatusServiceUnavailable)
		return true
	case TimeoutBefore:
		in.stall(r)
		w.WriteHeader(http.StatusGatewayTimeout)
		return true
	case DropBefore:
		Drop(w)
		return true
	}
	return false
}

// After handles the faults that happen once the vendor committed the request and
// reports whether it did (the handler must then not answer).
func (in *Injector) After(w http.ResponseWriter, r *http.Request, k Kind) bool {
	switch k {
	case TimeoutAfter:
		in.stall(r)
		Drop(w)
		return true
	case DropAfter:
		Drop(w)
		return true
	}
	return false
}

func (in *Injector) stall(r *http.Request) {
	// The server notices a client that hung up only once the body has been read.
	io.Copy(io.Discard, r.Body)
	d := in.Stall
	if d <= 0 {
		d = 5 * time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// Drop closes the client's connection without an answer.
func Drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// DigitSet records values by the decimal number their digits spell ("user42@x" is 42),
// one bit each, so a benchmark's fake can check a million deliveries for loss and
// duplicates in a few hundred kilobytes. It is not safe for concurrent use.
type DigitSet struct {
	words []uint64
	// Distinct counts the values added once; Repeated counts values added again, and
	// values without digits.
	Distinct, Repeated int64
}

// Add records v.
func (b *DigitSet) Add(v string) {
	var n uint64
	digits := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' && n < 1<<40 {
			n = n*10 + uint64(c-'0')
			digits++
		}
	}
	if digits == 0 {
		b.Repeated++
		return
	}
	w := int(n / 64)
	for w >= len(b.words) {
		b.words = append(b.words, make([]uint64, len(b.words)+1024)...)
	}
	bit := uint64(1) << (n % 64)
	if b.words[w]&bit != 0 {
		b.Repeated++
		return
	}
	b.words[w] |= bit
	b.Distinct++
}
