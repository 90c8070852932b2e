package hubspot

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	hubspotfake "github.com/actionhub/actionhub/internal/fakes/hubspot"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func TestConformance(t *testing.T) {
	for _, o := range []Object{Contacts, Companies} {
		t.Run(o.Name, func(t *testing.T) {
			fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
			actiontest.Conformance(t, Module(o, nil), actiontest.CheckOptions{
				Env:    map[string]string{sdk.VendorURLVar + "HUBSPOT": fake.URL},
				Params: map[string]string{"hubspot_access_token": token},
				Data:   rowsgen.Bytes(genOpts(3, o.Tag)),
				Expect: func(t *testing.T, res actiontest.ExecuteResult) {
					if res.Looker.Message != "Delivered 3 of 3 rows." {
						t.Errorf("message %q", res.Looker.Message)
					}
				},
			})
		})
	}
}
