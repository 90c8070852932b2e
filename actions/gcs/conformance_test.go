package gcs

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/gcsfake"
)

func TestConformance(t *testing.T) {
	sa, _ := accounts(t)
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}, Account: sa})
	p := map[string]string{}
	for k, v := range params(sa) {
		p[k] = v.(string)
	}
	actiontest.Conformance(t, Module, actiontest.CheckOptions{
		Env:        map[string]string{"ACTION_HUB_VENDOR_URL_GCS": fake.URL, "ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH_TOKEN": fake.TokenURL},
		Params:     p,
		Data:       []byte(`{"fields":{},"data":[]}`),
		FormParams: map[string]string{"bucket": "alpha"},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if got, ct, err := fake.Object("alpha", "Conformance.json"); err != nil || string(got) != `{"fields":{},"data":[]}` || ct != "application/json" {
				t.Errorf("object = %q %q, %v", got, ct, err)
			}
		},
	})
}
