package sendgrid

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	fake "github.com/actionhub/actionhub/internal/fakes/sendgrid"
	"github.com/actionhub/actionhub/sdk"
)

func TestConformance(t *testing.T) {
	f := fake.New(t, key)
	actiontest.Conformance(t, sdk.Module{Name: Name, New: New}, actiontest.CheckOptions{
		Env:        map[string]string{"ACTION_HUB_VENDOR_URL_SENDGRID": f.URL},
		Params:     map[string]string{"sendgrid_api_key": key},
		Data:       []byte("a,b\n1,2\n"),
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"to": "conformance@example.com"},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			m := f.Mails()
			if len(m) == 0 || string(m[len(m)-1].Attachments[0].Data) != "a,b\n1,2\n" {
				t.Errorf("mail not received")
			}
		},
	})
}
