package simulator

import (
	"sync"
	"time"
)

// DefaultHistorySize is how many sends the simulator remembers.
const DefaultHistorySize = 100

// Send is one recorded interaction with the hub: a list, form or execute call, a token
// exchange, or a state the hub stored. Everything in it is masked.
type Send struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	User   string    `json:"user,omitempty"`
	Action string    `json:"action,omitempty"`
	// Kind is "list", "form", "execute", "oauth_token" or "state".
	Kind string `json:"kind"`
	// Type, Format and Via describe an execute (query/cell/dashboard, data format,
	// "download" or "push").
	Type   string `json:"type,omitempty"`
	Format string `json:"format,omitempty"`
	Via    string `json:"via,omitempty"`
	// Input is what the send was made from, to send it again.
	Input *ExecInput `json:"input,omitempty"`

	Exchanges []*Exchange `json:"exchanges,omitempty"`

	// OK is the overall outcome: a 200 reply with success (execute), fields (form), a
	// list, or a stored state.
	OK               bool              `json:"ok"`
	Success          *bool             `json:"success,omitempty"`
	Message          string            `json:"message,omitempty"`
	ValidationErrors map[string]string `json:"validation_errors,omitempty"`
	RefreshQuery     bool              `json:"refresh_query,omitempty"`
	ErrorInfo        *ErrorInfo        `json:"error_info,omitempty"`
	// Error is why the call failed (HTTP error text, transport error, form error).
	Error      string         `json:"error,omitempty"`
	HTTPStatus int            `json:"http_status,omitempty"`
	Fields     []Field        `json:"fields,omitempty"`
	Download   *DownloadStats `json:"download,omitempty"`
	// Pushed is the size of a pushed attachment in bytes, and PushedRows its rows.
	Pushed     int64 `json:"pushed_bytes,omitempty"`
	PushedRows int64 `json:"pushed_rows,omitempty"`
	// StateChange says what happened to the user's state ("stored 512 bytes", "reset").
	StateChange string        `json:"state_change,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
}

// History keeps the last sends in memory.
type History struct {
	// Max is the number kept; 0 means DefaultHistorySize.
	Max int

	mu    sync.Mutex
	items []*Send
	next  int64
}

// Add records s, giving it an ID, and drops the oldest beyond Max.
func (h *History) Add(s *Send) *Send {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	s.ID = h.next
	if s.Time.IsZero() {
		s.Time = time.Now()
	}
	h.items = append(h.items, s)
	max := h.Max
	if max <= 0 {
		max = DefaultHistorySize
	}
	if len(h.items) > max {
		h.items = append([]*Send(nil), h.items[len(h.items)-max:]...)
	}
	return s
}

// Get returns the send with id, or nil when it is unknown or dropped.
func (h *History) Get(id int64) *Send {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.items {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// List returns the sends, newest first.
func (h *History) List() []*Send {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Send, len(h.items))
	for i, s := range h.items {
		out[len(h.items)-1-i] = s
	}
	return out
}
