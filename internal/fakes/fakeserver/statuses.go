package fakeserver

import "sync"

// Statuses are HTTP statuses queued per endpoint (a path, a call kind) for a fake to
// answer instead of, or after, doing a call's work: FailNext and FailAfter of the OAuth
// fakes. The zero value is ready; it is safe for concurrent use.
type Statuses struct {
	mu sync.Mutex
	q  map[string][]int
}

// Push queues statuses for the next calls of key.
func (s *Statuses) Push(key string, statuses ...int) {
	s.mu.Lock()
	if s.q == nil {
		s.q = map[string][]int{}
	}
	s.q[key] = append(s.q[key], statuses...)
	s.mu.Unlock()
}

// Pop takes the next status queued for key; 0 when there is none.
func (s *Statuses) Pop(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.q[key]
	if len(f) == 0 {
		return 0
	}
	s.q[key] = f[1:]
	return f[0]
}
