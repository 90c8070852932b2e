package amazons3

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/s3fake"
	"github.com/actionhub/actionhub/sdk"
)

func TestConformance(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{AccessKey: testAccessKey, Buckets: []string{"alpha"}})
	data := []byte("a,b\n1,2\n")
	actiontest.Conformance(t, Module, actiontest.CheckOptions{
		Env:        map[string]string{"ACTION_HUB_VENDOR_URL_S3": fake.URL},
		Params:     map[string]string{"access_key_id": testAccessKey, "secret_access_key": testSecret, "region": "us-east-1"},
		Data:       data,
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"bucket": "alpha"},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if got, err := fake.Object("alpha", "Conformance.csv"); err != nil || string(got) != string(data) {
				t.Errorf("object = %q, %v", got, err)
			}
		},
	})
}
