package dospaces_test

import (
	"testing"

	"github.com/actionhub/actionhub/actions/dospaces"
	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/s3fake"
	"github.com/actionhub/actionhub/sdk"
)

func TestConformance(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{AccessKey: accessKey, Buckets: []string{"space"}})
	actiontest.Conformance(t, dospaces.Module, actiontest.CheckOptions{
		Env:        map[string]string{"ACTION_HUB_VENDOR_URL_DIGITALOCEAN_SPACES": fake.URL},
		Params:     map[string]string{"access_key_id": accessKey, "secret_access_key": secret, "region": "ams3"},
		Data:       []byte("a,b\n1,2\n"),
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"bucket": "space", "path": "looker"},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if got, err := fake.Object("space", "looker/Conformance.csv"); err != nil || string(got) != "a,b\n1,2\n" {
				t.Errorf("object = %q, %v", got, err)
			}
		},
	})
}
