package vendorhttp

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Getenv reads one environment variable; *sdk.Env satisfies it.
type Getenv interface{ Get(name string) string }

// RateFromEnv reads the rate limit an operator set in the environment variable name (an
// action's <VENDOR>_RATE_LIMIT): a non-negative number of requests in the action's own unit,
// 0 lifting the limit. set is false when the variable is empty or unset; a value that is
// not a non-negative number is an error that names the variable, the value and unit (what
// the number counts, e.g. "requests per second").
func RateFromEnv(env Getenv, name, unit string) (n float64, set bool, err error) {
	v := strings.TrimSpace(env.Get(name))
	if v == "" {
		return 0, false, nil
	}
	n, err = strconv.ParseFloat(v, 64)
	if err != nil || !(n >= 0) || math.IsInf(n, 1) {
		return 0, false, fmt.Errorf("%s=%q: want a number of %s (0 for no limit)", name, v, unit)
	}
	return n, true, nil
}

// Limits are an action's delivery settings: the pacing and retries of its vendor client
// and the batches one execute sends at once. An action sets them from its defaults and its
// <VENDOR>_RATE_LIMIT variable (see RateFromEnv); tests and benchmarks adjust them after.
type Limits struct {
	// Rate is the requests per second per credential (0: unlimited), Burst the size of
	// the token bucket.
	Rate  float64
	Burst int
	// MaxInFlight is the batch requests one execute sends at once.
	MaxInFlight int
	// Timeout bounds each attempt; MaxRetries, MinBackoff and MaxBackoff are the vendor
	// client's (zero values: this package's defaults).
	Timeout                time.Duration
	MaxRetries             int
	MinBackoff, MaxBackoff time.Duration
	// Clock is the time source of waits; nil is the real clock (tests use a fake one).
	Clock Clock
}

// Config returns the client configuration of vendor with l's pacing, retries, timeout
// and clock, sending through client.
func (l Limits) Config(vendor string, client *http.Client) Config {
	return Config{Vendor: vendor, Client: client, Rate: l.Rate, Burst: l.Burst, Timeout: l.Timeout,
		MaxRetries: l.MaxRetries, MinBackoff: l.MinBackoff, MaxBackoff: l.MaxBackoff, Clock: l.Clock}
}
