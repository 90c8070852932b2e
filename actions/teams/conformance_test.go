package teams

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
)

func TestConformance(t *testing.T) {
	f := newFake(t)
	mod := sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a, err := New(env)
		a.(*Action).Client = netguard.FromEnv(env.Get).Client(f.Rewire)
		return a, err
	}}
	actiontest.Conformance(t, mod, actiontest.CheckOptions{
		Env:        map[string]string{netguard.AllowPrivateVar: "true"},
		Data:       []byte("a,b\n1,2\n"),
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"webhookUrl": workflowURL, "title": "Conformance", "isAttached": "true"},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if res.Looker.Message != "success" || len(f.Requests()) == 0 {
				t.Errorf("%s", res.Body)
			}
		},
	})
}
