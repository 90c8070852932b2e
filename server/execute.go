package server

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// keepAlive is the Node hub's long-reply writer: nothing is sent until the action finishes
// or the first keep-alive interval passes; then status 200 and "application/json" go out
// with a "\n", and another "\n" every interval. After that point an error can only be told
// in the body, so it becomes a looker envelope (the Node hub hangs instead).
type keepAlive struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	started bool
	done    bool
	stop    chan struct{}
}

func startKeepAlive(w http.ResponseWriter, every time.Duration) *keepAlive {
	k := &keepAlive{w: w, stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-k.stop:
				return
			case <-t.C:
				k.mu.Lock()
				if k.done {
					k.mu.Unlock()
					return
				}
				if !k.started {
					k.started = true
					k.w.Header().Set("Content-Type", "application/json")
					k.w.WriteHeader(http.StatusOK)
				}
				k.w.Write([]byte("\n"))
				if f, ok := k.w.(http.Flusher); ok {
					f.Flush()
				}
				k.mu.Unlock()
			}
		}
	}()
	return k
}

// finish stops the newlines and reports whether headers were already sent.
func (k *keepAlive) finish() bool {
	k.mu.Lock()
	k.done = true
	close(k.stop)
	return k.started // caller writes, then calls unlock
}

func (k *keepAlive) unlock() { k.mu.Unlock() }

// lookerEnvelope is the execute reply, keys in the Node hub's order.
type lookerEnvelope struct {
	Looker lookerBody `json:"looker"`
}

type lookerBody struct {
	Message          string            `json:"message,omitempty"`
	RefreshQuery     bool              `json:"refresh_query"`
	Success          bool              `json:"success"`
	ValidationErrors map[string]string `json:"validation_errors"`
	State            *sdk.State        `json:"state,omitempty"`
	Error            *sdk.ErrorInfo    `json:"error,omitempty"`
	WebhookID        string            `json:"webhookId,omitempty"`
}

// validate applies validateAndExecute's checks in the Node hub's order.
func validate(d *sdk.Definition, req *sdk.Request, forExecute bool) error {
	if forExecute && !d.SupportsType(req.Type) {
		types := make([]string, len(d.SupportedActionTypes))
		for i, t := range d.SupportedActionTypes {
			types[i] = `"` + string(t) + `"`
		}
		if req.Type != "" {
			return sdk.Errorf(`This action does not support requests of type "%s". The request must be of type: %s.`, req.Type, strings.Join(types, ", "))
		}
		return sdk.Errorf(`No request type specified. The request must be of type: %s.`, strings.Join(types, ", "))
	}
	for _, p := range d.Params {
		if p.Required && req.Params[p.Name] == "" {
			return sdk.Errorf(`Required setting "%s" not specified in action settings.`, p.Label)
		}
	}
	if forExecute && d.Streaming && !req.HasData() {
		return sdk.Errorf("A streaming action was sent incompatible data. The action must have a download url or an attachment.")
	}
	return nil
}

// run calls fn with panic recovery. The panic value is not kept: it may hold secrets.
func run[T any](fn func() (T, error)) (out T, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic (%T)", p)
			panicked = true
			lastStack.Store(string(debug.Stack()))
		}
	}()
	out, err = fn()
	return
}

func (s *Server) prepare(w http.ResponseWriter, r *http.Request) (sdk.Action, *sdk.Request, bool) {
	name := r.PathValue("id")
	infoOf(r).action = name
	req, err := s.decode(w, r)
	if err != nil {
		writeRequestError(w, err)
		return nil, nil, false
	}
	a, err := s.find(name, req.LookerVersion)
	if err != nil {
		writeRequestError(w, err)
		return nil, nil, false
	}
	req.ActionName = a.Definition().Name
	_, v2 := a.(sdk.OAuthV2Action)
	req.SetOAuthV2(v2)
	return a, req, true
}

func (s *Server) execute(w http.ResponseWriter, r *http.Request) {
	a, req, ok := s.prepare(w, r)
	if !ok {
		return
	}
	info := infoOf(r)
	d := a.Definition()
	if err := validate(d, req, true); err != nil {
		writeRequestError(w, err)
		return
	}
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "The Action Hub is shutting down; retry on another replica.")
		return
	}
	s.inflight.Add(1)
	s.active.Add(1)
	defer func() { s.active.Add(-1); s.inflight.Done() }()
	if s.observer != nil {
		s.observer.ExecuteStarted(d.Name)
	}
	start := time.Now()
	ka := startKeepAlive(w, s.cfg.KeepAlive)
	resp, err, panicked := run(func() (*sdk.Response, error) { return a.Execute(r.Context(), req) })
	if panicked {
		// The panic value may hold user data or secrets: log only where it happened.
		s.log.Error("action panicked", "action", d.Name, "stack", panicStack())
	}
	if resp != nil && resp.Report != nil {
		info.report = resp.Report
	}
	if s.observer != nil {
		var rep *sdk.Report
		if resp != nil {
			rep = resp.Report
		}
		s.observer.ExecuteFinished(d.Name, rep, time.Since(start))
	}
	started := ka.finish()
	defer ka.unlock()
	if err != nil {
		info.err = safeErrorText(err, panicked)
		if !started {
			if e, ok := sdk.AsError(err); ok {
				writeError(w, http.StatusNotFound, e.Text)
				return
			}
			if panicked {
				writeError(w, http.StatusInternalServerError, "Internal server error.")
				return
			}
		}
		msg := err.Error()
		if panicked {
			msg = "Internal server error."
		}
		resp = &sdk.Response{Success: false, Message: msg}
	}
	if resp == nil {
		resp = sdk.OK("")
	}
	body := lookerBody{Message: resp.Message, RefreshQuery: resp.RefreshQuery, Success: resp.Success,
		ValidationErrors: resp.ValidationErrors, State: resp.State, Error: resp.Error, WebhookID: ""}
	if body.ValidationErrors == nil {
		body.ValidationErrors = map[string]string{}
	}
	if resp.Report != nil && body.Message == "" {
		body.Message = resp.Report.Summary()
	}
	if resp.Error != nil || (!resp.Success && req.WebhookID != "") {
		body.WebhookID = req.WebhookID
	}
	if !started {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	}
	w.Write(marshal(lookerEnvelope{Looker: body}))
}

// safeErrorText is what the log may say about an action error: only sdk.Error texts (meant
// for users) and panics are logged in full; other errors may carry user data and are
// logged by kind, as the Node hub does with stream errors.
func safeErrorText(err error, panicked bool) string {
	if panicked {
		return "panic"
	}
	if e, ok := sdk.AsError(err); ok {
		return e.Text
	}
	return fmt.Sprintf("action error (%T)", err)
}

type formBody struct {
	Fields []sdk.Field `json:"fields"`
	State  *sdk.State  `json:"state,omitempty"`
}

type formError struct {
	Error string `json:"error"`
}

func (s *Server) form(w http.ResponseWriter, r *http.Request) {
	a, req, ok := s.prepare(w, r)
	if !ok {
		return
	}
	d := a.Definition()
	var fn func() (*sdk.Form, error)
	if da, ok := a.(sdk.DelegateOAuthAction); ok && truthy(req.Params["test"]) {
		fn = func() (*sdk.Form, error) { return da.OAuthCheckForm(r.Context(), req) }
	} else if fa, ok := a.(sdk.FormAction); ok {
		if err := validate(d, req, false); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write(marshal(formError{Error: err.Error()}))
			return
		}
		fn = func() (*sdk.Form, error) { return fa.Form(r.Context(), req) }
	} else {
		writeError(w, http.StatusNotFound, "No form defined for action.")
		return
	}
	ka := startKeepAlive(w, s.cfg.KeepAlive)
	form, err, panicked := run(fn)
	started := ka.finish()
	defer ka.unlock()
	var out any
	switch {
	case err != nil:
		infoOf(r).err = safeErrorText(err, panicked)
		if !started {
			if e, ok := sdk.AsError(err); ok {
				writeError(w, http.StatusNotFound, e.Text)
				return
			}
			writeError(w, http.StatusInternalServerError, "Internal server error.")
			return
		}
		msg := "Internal server error."
		if e, ok := sdk.AsError(err); ok {
			msg = e.Text
		}
		out = formError{Error: msg}
	case form == nil:
		out = formBody{Fields: []sdk.Field{}}
	case form.Error != "":
		out = formError{Error: form.Error}
	default:
		out = formBody{Fields: nonNil(form.Fields), State: form.State}
	}
	if !started {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	}
	w.Write(marshal(out))
}

func truthy(v string) bool { return v != "" && v != "false" && v != "0" }

// Drain stops accepting executes and waits for those in flight, up to ctx's deadline.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d executes still running at the shutdown deadline", s.active.Load())
	}
}

// InFlight returns the number of executes running.
func (s *Server) InFlight() int64 { return s.active.Load() }

var lastStack atomic.Value

// panicStack returns the stack of the last recovered panic: function names and lines, no values.
func panicStack() string {
	s, _ := lastStack.Load().(string)
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "\t") {
			keep = append(keep, strings.TrimSpace(line))
		}
	}
	return strings.Join(keep, " <- ")
}
