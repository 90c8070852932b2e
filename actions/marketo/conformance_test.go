package marketo

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	marketofake "github.com/actionhub/actionhub/internal/fakes/marketo"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func TestConformance(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	actiontest.Conformance(t, Module(nil), actiontest.CheckOptions{
		Params:     map[string]string{"url": fake.URL, "clientID": clientID, "clientSecret": secret},
		FormParams: map[string]string{"lookupField": "email", "subaction": "addList", "campaignId": "8"},
		Data:       rowsgen.Bytes(mapped(3)),
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if res.Looker.Message != "Delivered 3 of 3 rows." {
				t.Errorf("message %q", res.Looker.Message)
			}
		},
	})
}
