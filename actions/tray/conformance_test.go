package tray

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	fake "github.com/actionhub/actionhub/internal/fakes/webhook"
	"github.com/actionhub/actionhub/internal/netguard"
)

func TestConformance(t *testing.T) {
	f := fake.New(t, "*.trayapp.io")
	data := []byte(`{"fields":{"dimensions":[]},"data":[]}`)
	actiontest.Conformance(t, module(f), actiontest.CheckOptions{
		Env:        map[string]string{netguard.AllowPrivateVar: "true"},
		Data:       data,
		FormParams: map[string]string{"url": hook},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			r := f.Requests()
			if len(r) == 0 || string(r[len(r)-1].Body) != string(data) {
				t.Errorf("the fake did not get the data")
			}
		},
	})
}
