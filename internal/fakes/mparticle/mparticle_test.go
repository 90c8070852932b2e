package mparticlefake

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, s *Server, auth, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v2/bulkevents", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func batch(id string) string {
	return `{"events":[{"data":{"custom_attributes":{},"event_name":"e","custom_event_type":"other"},"event_type":"custom_event"}],` +
		`"user_attributes":{},"user_identities":{"customerid":"c"},"device_info":{},"schema_version":2,"environment":"production",` +
		`"source_request_id":"` + id + `"}`
}

func TestValidation(t *testing.T) {
	s := New(t, Options{APIKey: "k", APISecret: "s"})
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("k:s"))
	many := strings.TrimSuffix(strings.Repeat(batch("x")+",", MaxBatches+1), ",")
	cases := []struct {
		name, auth, body string
		want             int
	}{
		{"accepted", auth, "[" + batch("1") + "," + batch("2") + "]", 202},
		{"re-sent", auth, "[" + batch("1") + "]", 202},
		{"wrong secret", "Basic " + base64.StdEncoding.EncodeToString([]byte("k:x")), "[" + batch("3") + "]", 401},
		{"too many batches", auth, "[" + many + "]", 400},
		{"not an array", auth, batch("4"), 400},
		{"no identity", auth, `[{"events":[],"user_identities":{},"schema_version":2,"environment":"production"}]`, 400},
		{"null identity", auth, `[{"events":[],"user_identities":{"email":null},"schema_version":2,"environment":"production"}]`, 400},
		{"bad environment", auth, `[{"events":[],"user_identities":{"email":"e"},"schema_version":2,"environment":"prod"}]`, 400},
		{"bad event type", auth, "[" + strings.Replace(batch("5"), `"other"`, `"weird"`, 1) + "]", 400},
		{"too large", auth, "[" + strings.Replace(batch("6"), `"e"`, `"`+strings.Repeat("e", MaxRequestBytes)+`"`, 1) + "]", 413},
	}
	for _, c := range cases {
		if got := post(t, s, c.auth, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if len(s.Batches()) != 2 || s.Duplicates() != 1 || s.Received() != 3 {
		t.Errorf("batches %d, duplicates %d, received %d", len(s.Batches()), s.Duplicates(), s.Received())
	}
}
