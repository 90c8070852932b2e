package azure

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/azurite"
	"github.com/actionhub/actionhub/sdk"
)

func TestConformance(t *testing.T) {
	az := azurite.Shared(t)
	container, cl := newContainer(t, az)
	actiontest.Conformance(t, Module, actiontest.CheckOptions{
		Env:        map[string]string{"ACTION_HUB_VENDOR_URL_AZURE_BLOB": az.URL},
		Params:     map[string]string{"account": azurite.Account, "accessKey": azurite.Key},
		Data:       []byte("a,b\n1,2\n"),
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"container": container},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if got, ct, err := blobContent(t, cl, container, "Conformance.csv"); err != nil || string(got) != "a,b\n1,2\n" || ct != "text/csv" {
				t.Errorf("blob = %q %q, %v", got, ct, err)
			}
		},
	})
}
