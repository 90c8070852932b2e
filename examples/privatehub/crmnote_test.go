package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/sdk"
)

func TestCRMNoteThroughTheHub(t *testing.T) {
	var got map[string]string
	var auth string
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &got)
	}))
	defer crm.Close()
	var mod sdk.Module
	for _, m := range sdk.Modules() {
		if m.Name == "crm_note" {
			mod = m
		}
	}
	h := actiontest.New(t, actiontest.Options{Actions: []sdk.Module{mod}})
	list := h.Post(t, "/", map[string]any{})
	if !json.Valid(list.Body) || list.Status != 200 {
		t.Fatalf("list: %d %s", list.Status, list.Body)
	}
	res := h.Execute(t, "crm_note", map[string]any{"type": "cell",
		"data":        map[string]string{"crm_url": crm.URL, "crm_token": "tok", "value": "acct-42"},
		"form_params": map[string]string{"note": "Renewal call went well"}})
	if !res.Looker.Success || res.Looker.Message != "Note added." {
		t.Fatalf("execute: %s", res.Body)
	}
	if got["account_id"] != "acct-42" || got["note"] != "Renewal call went well" || auth != "Bearer tok" {
		t.Errorf("CRM received %v with %q", got, auth)
	}
	res = h.Execute(t, "crm_note", map[string]any{"type": "cell", "data": map[string]string{"crm_url": crm.URL, "crm_token": "tok"}})
	if res.Looker.Success || res.Looker.ValidationErrors["note"] == "" {
		t.Errorf("missing note: %s", res.Body)
	}
	if res := h.Execute(t, "crm_note", map[string]any{"type": "query", "data": map[string]string{"crm_url": crm.URL, "crm_token": "tok"}}); res.Status != 404 {
		t.Errorf("wrong type: %d", res.Status)
	}
}
