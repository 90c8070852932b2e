package simulator

import (
	"sort"
	"sync"
	"time"
)

// MaxStateBytes is the largest user state Looker keeps (32 KB).
const MaxStateBytes = 32 << 10

// StateURLTTL is how long an issued state URL stays usable: an OAuth round trip may take
// the user a while, so it lasts as long as a download URL.
const StateURLTTL = time.Hour

// maxStateURLs bounds the table of issued state URLs (oldest dropped first).
const maxStateURLs = 10000

// StateStore keeps what Looker keeps for a hub's OAuth actions: one state string per user
// and action, and the one-time state URLs (state_url, state_redir_url) issued with each
// request through which the hub may replace it.
type StateStore struct {
	// TTL overrides StateURLTTL when positive.
	TTL time.Duration
	// Now overrides time.Now (tests).
	Now func() time.Time

	mu     sync.Mutex
	states map[userAction]stateValue
	urls   map[string]*StateURL
}

type userAction struct{ user, action string }

type stateValue struct {
	value   string
	updated time.Time
	source  string
}

// StateURL is one issued state URL: whose state it replaces, and for a state_redir_url,
// the action's token route to call.
type StateURL struct {
	Token    string
	User     string
	Action   string
	Redirect bool
	TokenURL string
	expires  time.Time
	issued   time.Time
}

// StateEntry describes one stored state for display; the value itself is not in it.
type StateEntry struct {
	User    string    `json:"user"`
	Action  string    `json:"action"`
	Bytes   int       `json:"bytes"`
	Reset   bool      `json:"reset"`
	Updated time.Time `json:"updated"`
	Source  string    `json:"source"`
}

func (s *StateStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Get returns the user's state for action.
func (s *StateStore) Get(user, action string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.states[userAction{user, action}]
	return v.value, ok
}

// Set replaces the user's state for action; source says where it came from (for display:
// "state_url", "form reply", "token route", ...).
func (s *StateStore) Set(user, action, value, source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		s.states = map[userAction]stateValue{}
	}
	s.states[userAction{user, action}] = stateValue{value: value, updated: s.now(), source: source}
}

// Delete forgets the user's state for action.
func (s *StateStore) Delete(user, action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.states, userAction{user, action})
}

// Entries lists the stored states, sorted by user then action.
func (s *StateStore) Entries() []StateEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StateEntry, 0, len(s.states))
	for k, v := range s.states {
		out = append(out, StateEntry{User: k.user, Action: k.action, Bytes: len(v.value),
			Reset: v.value == "reset", Updated: v.updated, Source: v.source})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Action < out[j].Action
	})
	return out
}

// Issue makes a one-time state URL token for the user and action. A redirect URL
// (state_redir_url, OAuth v2) carries the action's token route.
func (s *StateStore) Issue(user, action string, redirect bool, tokenURL string) *StateURL {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = StateURLTTL
	}
	now := s.now()
	u := &StateURL{Token: randomHex(16), User: user, Action: action, Redirect: redirect,
		TokenURL: tokenURL, expires: now.Add(ttl), issued: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.urls == nil {
		s.urls = map[string]*StateURL{}
	}
	var oldest *StateURL
	for k, v := range s.urls {
		if now.After(v.expires) {
			delete(s.urls, k)
			continue
		}
		if oldest == nil || v.issued.Before(oldest.issued) {
			oldest = v
		}
	}
	if len(s.urls) >= maxStateURLs && oldest != nil {
		delete(s.urls, oldest.Token)
	}
	s.urls[u.Token] = u
	return u
}

// Peek returns a valid state URL without using it.
func (s *StateStore) Peek(token string, redirect bool) *StateURL {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.urls[token]
	if u == nil || u.Redirect != redirect || s.now().After(u.expires) {
		return nil
	}
	return u
}

// Claim uses a state URL: it returns it once, then nil (also when expired or of the other
// kind).
func (s *StateStore) Claim(token string, redirect bool) *StateURL {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.urls[token]
	if u == nil || u.Redirect != redirect {
		return nil
	}
	delete(s.urls, token)
	if s.now().After(u.expires) {
		return nil
	}
	return u
}
