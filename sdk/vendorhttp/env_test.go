package vendorhttp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

type envMap map[string]string

func (m envMap) Get(k string) string { return m[k] }

func TestRateFromEnv(t *testing.T) {
	for v, want := range map[string]struct {
		n   float64
		set bool
	}{"": {0, false}, "  ": {0, false}, "0": {0, true}, " 12.5 ": {12.5, true}} {
		n, set, err := vendorhttp.RateFromEnv(envMap{"X_RATE_LIMIT": v}, "X_RATE_LIMIT", "requests per second")
		if err != nil || n != want.n || set != want.set {
			t.Errorf("%q: %v %v %v, want %v %v", v, n, set, err, want.n, want.set)
		}
	}
	for _, v := range []string{"fast", "-1"} {
		_, set, err := vendorhttp.RateFromEnv(envMap{"X_RATE_LIMIT": v}, "X_RATE_LIMIT", "calls per 20 seconds")
		if err == nil || set {
			t.Fatalf("%q accepted", v)
		}
		if want := `X_RATE_LIMIT="` + v + `": want a number of calls per 20 seconds (0 for no limit)`; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name the value", err)
		}
	}
}

func TestLimitsConfig(t *testing.T) {
	hc := &http.Client{}
	clock := vendorhttp.RealClock{}
	l := vendorhttp.Limits{Rate: 3, Burst: 2, MaxInFlight: 7, Timeout: time.Second, MaxRetries: 5,
		MinBackoff: time.Millisecond, MaxBackoff: time.Minute, Clock: clock}
	c := l.Config("acme", hc)
	if c.Vendor != "acme" || c.Client != hc || c.Rate != 3 || c.Burst != 2 || c.Timeout != time.Second ||
		c.MaxRetries != 5 || c.MinBackoff != time.Millisecond || c.MaxBackoff != time.Minute || c.Clock != clock {
		t.Fatalf("config %+v", c)
	}
}

func TestRateFromEnvRejectsNaNAndInf(t *testing.T) {
	for _, v := range []string{"NaN", "Inf", "+Inf", "-1"} {
		if _, _, err := vendorhttp.RateFromEnv(envMap{"X_RATE_LIMIT": v}, "X_RATE_LIMIT", "requests per second"); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}
