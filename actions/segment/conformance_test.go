package segment

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	segmentfake "github.com/actionhub/actionhub/internal/fakes/segment"
)

func TestConformance(t *testing.T) {
	data := []byte(`{"fields":{"dimensions":[{"name":"users.id","tags":["user_id"]},{"name":"users.email","tags":["email"]}]},` +
		`"data":[{"users.id":{"value":"u1"},"users.email":{"value":"a@x.com"}},{"users.id":{"value":"u2"},"users.email":{"value":"b@x.com"}}]}`)
	for _, c := range []Call{Identify, Group, Track} {
		fake := segmentfake.New(t, segmentfake.Options{WriteKey: testKey})
		opt := actiontest.CheckOptions{
			Env:    map[string]string{"ACTION_HUB_VENDOR_URL_SEGMENT": fake.URL, EnvRateLimit: "0"},
			Params: map[string]string{ParamWriteKey: testKey},
		}
		if c != Group { // a group call needs a segment_group_id column
			opt.Data = data
			opt.FormParams = map[string]string{"event": "exported"}
			opt.Expect = func(t *testing.T, res actiontest.ExecuteResult) {
				if res.Looker.Message != "Delivered 2 of 2 rows." {
					t.Errorf("message %q", res.Looker.Message)
				}
			}
		}
		actiontest.Conformance(t, Module(c, Options{HTTP: fastHTTP}), opt)
	}
}
