package slack

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	fake "github.com/actionhub/actionhub/internal/fakes/slack"
	"github.com/actionhub/actionhub/sdk"
)

func TestConformance(t *testing.T) {
	f := fake.New(t, workspaces())
	expect := func(t *testing.T, res actiontest.ExecuteResult) {
		s := f.Shares()
		if len(s) == 0 || string(s[len(s)-1].Upload.Data) != "a,b\n1,2\n" {
			t.Errorf("file not shared")
		}
	}
	env := map[string]string{"ACTION_HUB_VENDOR_URL_SLACK": f.APIURL()}
	t.Run(LegacyName, func(t *testing.T) {
		actiontest.Conformance(t, sdk.Module{Name: LegacyName, New: NewLegacy}, actiontest.CheckOptions{
			Env: env, Params: map[string]string{"slack_api_token": token1},
			Data: []byte("a,b\n1,2\n"), Format: sdk.FormatCSV, FormParams: map[string]string{"channel": "C001"}, Expect: expect})
	})
	t.Run(AppName, func(t *testing.T) {
		actiontest.Conformance(t, sdk.Module{Name: AppName, New: NewApp}, actiontest.CheckOptions{
			Env: env, Params: map[string]string{"state_json": multiState([2]string{"T1", token1})},
			Data: []byte("a,b\n1,2\n"), Format: sdk.FormatCSV, FormParams: map[string]string{"channel": "C002"}, Expect: expect})
	})
}
