package actiontest_test

import (
	"testing"

	"github.com/actionhub/actionhub/actions/debug"
	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/sdk"
)

func TestDebugActionConforms(t *testing.T) {
	actiontest.Conformance(t, sdk.Static(&debug.Action{}), actiontest.CheckOptions{
		Data: []byte("a,b\n1,2\n"), Format: sdk.FormatCSV, FormParams: map[string]string{"sleep": "0"}})
}
