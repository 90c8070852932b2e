package benchkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/actionhub/actionhub/server"
)

// Looker calls a hub as Looker does: the API key in the Authorization header, Looker's
// User-Agent, JSON bodies.
type Looker struct {
	URL, Key string
	Client   *http.Client
}

// NewLooker returns a Looker for the hub at url with a client that keeps up to conns
// connections open.
func NewLooker(url, key string, conns int) *Looker {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: 0,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	return &Looker{URL: url, Key: key, Client: &http.Client{Transport: tr}}
}

// Reply is a hub's answer.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Envelope is the "looker" object of an execute reply.
type Envelope struct {
	Success          bool              `json:"success"`
	Message          string            `json:"message"`
	ValidationErrors map[string]string `json:"validation_errors"`
}

// Do sends a request; body is JSON-encoded unless it is []byte (sent as is) or nil.
func (l *Looker) Do(ctx context.Context, method, path string, body any) (*Reply, error) {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return nil, err
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.URL+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", server.AuthorizationHeader(l.Key))
	req.Header.Set("User-Agent", "LookerOutgoingWebhook/24.18.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Execute posts body to the action's execute route and decodes the envelope; a reply
// that is not a 200 envelope is an error.
func (l *Looker) Execute(ctx context.Context, action string, body any) (*Envelope, error) {
	r, err := l.Do(ctx, http.MethodPost, "/actions/"+action+"/execute", body)
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusOK {
		return nil, fmt.Errorf("execute %s: %d %s", action, r.Status, bytes.TrimSpace(r.Body))
	}
	var env struct {
		Looker Envelope `json:"looker"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(r.Body), &env); err != nil {
		return nil, fmt.Errorf("execute %s: reply is not an envelope: %v", action, err)
	}
	return &env.Looker, nil
}
