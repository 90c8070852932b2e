package rowcount

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/sdk"
)

func TestRowCount(t *testing.T) {
	data := []byte("email,name\na@x.com,Ann\nb@x.com,Bob\n")
	actiontest.Conformance(t, sdk.Static(Action{}), actiontest.CheckOptions{Data: data, Format: sdk.FormatCSV,
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if res.Looker.Message != "Counted 2 rows." {
				t.Errorf("message %q", res.Looker.Message)
			}
		}})
}
