package brazefake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, s *Server, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/users/track", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ans map[string]any
	json.Unmarshal(b, &ans)
	return resp.StatusCode, ans
}

func obj(id string) string {
	return `{"_update_existing_only":true,"external_id":"` + id + `","city":"Paris","looker_export":{"add":["X"]}}`
}

func TestValidation(t *testing.T) {
	s := New(t, Options{APIKey: "k", RejectUser: func(id string) string {
		if id == "bad" {
			return "invalid"
		}
		return ""
	}})
	many := strings.TrimSuffix(strings.Repeat(obj("u")+",", MaxObjects+1), ",")
	cases := []struct {
		name, auth, body string
		want             int
	}{
		{"accepted", "Bearer k", `{"attributes":[` + obj("a") + `,` + obj("b") + `]}`, 201},
		{"re-sent", "Bearer k", `{"attributes":[` + obj("a") + `]}`, 201},
		{"wrong key", "Bearer x", `{"attributes":[` + obj("a") + `]}`, 401},
		{"too many objects", "Bearer k", `{"attributes":[` + many + `]}`, 400},
		{"empty", "Bearer k", `{"attributes":[]}`, 400},
		{"not json", "Bearer k", `{"attributes":[`, 400},
	}
	for _, c := range cases {
		if got, _ := post(t, s, c.auth, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// Non-fatal errors name the refused objects by index.
	st, ans := post(t, s, "Bearer k", `{"attributes":[`+obj("c")+`,{"city":"no id"},`+obj("bad")+`]}`)
	errs, _ := json.Marshal(ans["errors"])
	if st != 201 || ans["message"] != "success" || !strings.Contains(string(errs), `"index":1`) || !strings.Contains(string(errs), `"index":2`) {
		t.Errorf("%d %v", st, ans)
	}
	users := s.Users()
	if len(users) != 3 || users["a"].Writes != 2 || users["a"].Attributes["city"] != "Paris" || users["a"].Added["looker_export"][0] != "X" ||
		len(users["a"].Added["looker_export"]) != 1 {
		t.Errorf("users %+v", users)
	}
	if s.Rejected() != 2 {
		t.Errorf("rejected %d", s.Rejected())
	}
}
