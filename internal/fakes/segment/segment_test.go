package segmentfake

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, s *Server, auth, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/batch", strings.NewReader(body))
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

func basic(key string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":")) }

const good = `{"type":"identify","messageId":"m1","userId":"u1","traits":{},"timestamp":"2026-01-02T03:04:05.000Z"}`

// The fake refuses what Segment refuses, and deduplicates on messageId.
func TestValidation(t *testing.T) {
	s := New(t, Options{WriteKey: "wk"})
	cases := []struct {
		name, auth, body string
		want             int
	}{
		{"accepted", basic("wk"), `{"batch":[` + good + `]}`, 200},
		{"re-sent", basic("wk"), `{"batch":[` + good + `]}`, 200},
		{"no auth", "", `{"batch":[]}`, 401},
		{"wrong key", basic("other"), `{"batch":[]}`, 401},
		{"password set", "Basic " + base64.StdEncoding.EncodeToString([]byte("wk:pw")), `{"batch":[]}`, 401},
		{"not json", basic("wk"), `{"batch":[`, 400},
		{"no user", basic("wk"), `{"batch":[{"type":"identify","messageId":"m2","traits":{}}]}`, 400},
		{"no messageId", basic("wk"), `{"batch":[{"type":"identify","userId":"u","traits":{}}]}`, 400},
		{"track without event", basic("wk"), `{"batch":[{"type":"track","messageId":"m3","userId":"u","properties":{}}]}`, 400},
		{"group without groupId", basic("wk"), `{"batch":[{"type":"group","messageId":"m4","userId":"u","traits":{}}]}`, 400},
		{"numeric userId", basic("wk"), `{"batch":[{"type":"identify","messageId":"m5","userId":5,"traits":{}}]}`, 400},
		{"message too big", basic("wk"), `{"batch":[{"type":"identify","messageId":"m6","userId":"u","traits":{"x":"` + strings.Repeat("a", MaxMessageBytes) + `"}}]}`, 400},
		{"batch too big", basic("wk"), `{"batch":[` + strings.Repeat(good+",", MaxBatchBytes/len(good)) + good + `]}`, 400},
	}
	for _, c := range cases {
		if got := post(t, s, c.auth, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if len(s.Messages()) != 1 || s.Duplicates() != 1 || s.Received() != 2 {
		t.Errorf("messages %d, duplicates %d, received %d", len(s.Messages()), s.Duplicates(), s.Received())
	}
	if len(s.Problems()) != len(cases)-2 {
		t.Errorf("problems %v", s.Problems())
	}
}

func TestFaults(t *testing.T) {
	s := New(t, Options{WriteKey: "wk"})
	s.Inject(Fault{Kind: TooMany, RetryAfter: "7"}, Fault{Kind: ServerError, Status: 502})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/batch", strings.NewReader(`{"batch":[]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("%v %v", resp, err)
	}
	if got := post(t, s, basic("wk"), `{"batch":[]}`); got != 502 {
		t.Errorf("%d", got)
	}
	s.Inject(Fault{Kind: DropAfterCommit})
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/v1/batch", strings.NewReader(`{"batch":[`+good+`]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", basic("wk"))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Error("no error from a dropped connection")
	}
	if len(s.Messages()) != 1 || s.Faulted() != 3 || s.PendingFaults() != 0 {
		t.Errorf("committed %d, faulted %d", len(s.Messages()), s.Faulted())
	}
}

// Light mode counts by marker and checks the marker against a full decode on samples.
func TestLight(t *testing.T) {
	s := New(t, Options{WriteKey: "wk", Light: true, SampleEvery: 2})
	body := `{"batch":[` + good + `,` + strings.Replace(good, "m1", "m2", 1) + `]}`
	for i := 0; i < 4; i++ {
		if got := post(t, s, basic("wk"), body); got != 200 {
			t.Fatalf("%d %v", got, s.Problems())
		}
	}
	if s.Received() != 8 || s.SampledBatches() != 2 || len(s.Messages()) != 0 {
		t.Errorf("received %d sampled %d kept %d", s.Received(), s.SampledBatches(), len(s.Messages()))
	}
	// A message that does not start with the marker is caught on a sampled request.
	odd := `{"batch":[{"messageId":"m9","type":"identify","userId":"u","traits":{}}]}`
	if got := post(t, s, basic("wk"), odd); got != 400 || !bytes.Contains([]byte(strings.Join(s.Problems(), " ")), []byte("miscounts")) {
		t.Errorf("%d %v", got, s.Problems())
	}
}
