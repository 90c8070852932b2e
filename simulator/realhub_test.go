package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/examples/rowcount"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/simulator"
)

// TestCLIAgainstRealHub runs lookersim against this repository's server: list, then
// 100,000 generated rows through the simulator's download URL, and a pushed send.
func TestCLIAgainstRealHub(t *testing.T) {
	h := actiontest.New(t, actiontest.Options{Actions: []sdk.Module{sdk.Static(rowcount.Action{})}})
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := simulator.Main(context.Background(), append(args, "--hub", h.URL, "--key", h.Key), &out, &errb, func(string) string { return "" })
		return code, out.String() + errb.String()
	}
	code, out := run("list")
	if code != 0 || !strings.Contains(out, "row_count") {
		t.Fatalf("list: %d %s", code, out)
	}
	code, out = run("execute", "--action", "row_count", "--rows", "100000", "--format", "json_detail_lite_stream", "--via", "download", "--json")
	if code != 0 || !strings.Contains(out, "Counted 100000 rows.") {
		t.Fatalf("execute via download: %d %s", code, out)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Errorf("--json output is not JSON: %v", err)
	}
	code, out = run("execute", "--action", "row_count", "--rows", "1000", "--format", "csv", "--via", "push")
	if code != 0 || !strings.Contains(out, "Counted 1000 rows.") {
		t.Fatalf("execute pushed: %d %s", code, out)
	}
	code, out = run("execute", "--action", "row_count", "--rows", "10", "--type", "cell")
	if code == 0 || !strings.Contains(out, "does not support requests of type") {
		t.Fatalf("wrong type must fail: %d %s", code, out)
	}
}
