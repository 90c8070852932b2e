package airtable

import (
	"encoding/json"
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	airtablefake "github.com/actionhub/actionhub/internal/fakes/airtable"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func TestConformance(t *testing.T) {
	fake := airtablefake.New(t, airtablefake.Options{ClientID: clientID, ClientSecret: clientSecret,
		Tables: map[string][]string{"appBase": {"Leads"}}})
	access, refresh := fake.Issue()
	state, _ := json.Marshal(Tokens{AccessToken: access, RefreshToken: refresh})
	actiontest.Conformance(t, Module(nil), actiontest.CheckOptions{
		Env: map[string]string{"AIRTABLE_CLIENT_ID": clientID, "AIRTABLE_CLIENT_SECRET": clientSecret,
			sdk.VendorURLVar + "AIRTABLE_API": fake.URL, sdk.VendorURLVar + "AIRTABLE_AUTH": fake.URL},
		Params:     map[string]string{"state_json": string(state), "state_url": "https://looker.example/state"},
		FormParams: map[string]string{"base": "appBase", "table": "Leads"},
		Data:       rowsgen.Bytes(numbered(3)),
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if res.Looker.Message != "Delivered 3 of 3 rows." || res.Looker.State == nil {
				t.Errorf("reply %+v", res.Looker)
			}
		},
	})
	if n := len(fake.Records("appBase", "Leads")); n != 6 {
		t.Fatalf("%d records, want 3 pushed + 3 streamed", n)
	}
}
