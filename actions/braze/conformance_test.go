package braze

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	brazefake "github.com/actionhub/actionhub/internal/fakes/braze"
)

func TestConformance(t *testing.T) {
	fake := brazefake.New(t, brazefake.Options{APIKey: testKey})
	data := []byte(`{"fields":{"dimensions":[{"name":"users.id","tags":["braze_id"]},{"name":"users.city","tags":["braze[city]"]}]},` +
		`"data":[{"users.id":{"value":"u1"},"users.city":{"value":"Oslo"}},{"users.id":{"value":"u2"},"users.city":{"value":"Rome"}}]}`)
	actiontest.Conformance(t, Module(Options{HTTP: fastHTTP}), actiontest.CheckOptions{
		Env:        map[string]string{"ACTION_HUB_VENDOR_URL_BRAZE": fake.URL, EnvRateLimit: "0"},
		Params:     map[string]string{ParamAPIKey: testKey, ParamEndpoint: "https://rest.iad-01.braze.com"},
		FormParams: map[string]string{"braze_key": "external_id", "braze_segment": "LOOKER_EXPORT"},
		Data:       data,
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if res.Looker.Message != "Delivered 2 of 2 rows." {
				t.Errorf("message %q", res.Looker.Message)
			}
		},
	})
}
