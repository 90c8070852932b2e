package mparticle

import (
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	mparticlefake "github.com/actionhub/actionhub/internal/fakes/mparticle"
)

func TestConformance(t *testing.T) {
	fake := mparticlefake.New(t, mparticlefake.Options{APIKey: testKey, APISecret: testSecret})
	actiontest.Conformance(t, Module(Options{HTTP: fastHTTP}), actiontest.CheckOptions{
		Env:    map[string]string{"ACTION_HUB_VENDOR_URL_MPARTICLE": fake.URL, EnvRateLimit: "0"},
		Params: map[string]string{ParamAPIKey: testKey, ParamAPISecret: testSecret},
	})
}
