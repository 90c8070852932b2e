package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestCLIList(t *testing.T) {
	hub := newFakeHub(t)
	code, out, errs := runCLI(t, nil, "list", "--hub", hub.URL(), "--key", fakeKey)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Row Counter", "api_key*", "json_detail_lite_stream", "4 actions (Fake Hub)", "v2"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	c := hub.lastCall()
	if ua := c.Header.Get("User-Agent"); ua != "LookerOutgoingWebhook/"+DefaultLookerVersion {
		t.Errorf("User-Agent = %q", ua)
	}

	// The key can come from the environment; --json prints the list.
	code, out, _ = runCLI(t, map[string]string{EnvKey: fakeKey}, "list", "--hub", hub.URL(), "--json", "--looker-version", "7.3.0")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var l ActionList
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Integrations) != 4 || l.Integrations[0].Name != "x" {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if ua := hub.lastCall().Header.Get("User-Agent"); ua != "LookerOutgoingWebhook/7.3.0" {
		t.Errorf("User-Agent = %q", ua)
	}

	// A wrong key is an HTTP error: exit 1 with the hub's text.
	code, _, errs = runCLI(t, nil, "list", "--hub", hub.URL(), "--key", "bad/key")
	if code != ExitFailure || !strings.Contains(errs, "403") || !strings.Contains(errs, "Invalid 'Authorization' header.") {
		t.Errorf("bad key: exit %d, %q", code, errs)
	}
	if strings.Contains(errs, "bad/key") {
		t.Errorf("the key leaked into the error: %q", errs)
	}
}

func TestCLIUsage(t *testing.T) {
	hub := newFakeHub(t)
	for _, args := range [][]string{
		{},
		{"nope"},
		{"list", "--hub", hub.URL()}, // no key
		{"execute", "--hub", hub.URL(), "--key", fakeKey}, // no action
		{"execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x", "--via", "carrier-pigeon"},
		{"execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x", "--pivot", "orders.status"},
		{"form", "--hub", hub.URL(), "--key", fakeKey, "--action", "x", "--param", "novalue"},
	} {
		if code, _, _ := runCLI(t, nil, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

func TestCLIForm(t *testing.T) {
	hub := newFakeHub(t)
	base := []string{"form", "--hub", hub.URL(), "--key", fakeKey, "--action", "x"}

	// Without the required admin param the hub answers {"error": ...}: a failure.
	code, _, errs := runCLI(t, nil, base...)
	if code != ExitFailure || !strings.Contains(errs, `Required setting "API Key"`) {
		t.Fatalf("form error: exit %d, %q", code, errs)
	}

	code, out, errs := runCLI(t, nil, append(base, "--param", "api_key=secret-value")...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "kind (select)") || !strings.Contains(out, "options=a|b") || strings.Contains(out, "extra") {
		t.Errorf("form output:\n%s", out)
	}

	// The interactive re-query: with kind=b the form grows a field.
	code, out, _ = runCLI(t, nil, append(base, "--param", "api_key=secret-value", "--form", "kind=b", "--json")...)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var res struct {
		OK       bool
		Fields   []Field
		Exchange *Exchange
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err, out)
	}
	if !res.OK || len(res.Fields) != 4 || res.Fields[3].Name != "extra" || !res.Fields[3].Required {
		t.Errorf("fields after kind=b: %+v", res.Fields)
	}
	if res.Exchange == nil || res.Exchange.KeepAlives != 2 {
		t.Errorf("keep-alive newlines not seen: %+v", res.Exchange)
	}
	if strings.Contains(out, "secret-value") || strings.Contains(out, fakeKey) {
		t.Errorf("a secret is in the JSON output:\n%s", out)
	}
	fp := hub.body()["form_params"].(map[string]any)
	if fp["kind"] != "b" {
		t.Errorf("form_params sent: %v", fp)
	}
}

func TestCLIExecuteDownload(t *testing.T) {
	hub := newFakeHub(t)
	code, out, errs := runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x",
		"--param", "api_key=k", "--rows", "2500", "--format", "json_detail_lite_stream", "--via", "download",
		"--tag", "users.external_id=braze_id", "--form", "kind=a", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var rec Send
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Success == nil || !*rec.Success || rec.Message != "Delivered 2,500 of 2,500 rows." {
		t.Errorf("result: %+v", rec)
	}
	if rec.Download == nil || !rec.Download.Fetched || !rec.Download.Complete || rec.Download.Rows != 2500 {
		t.Errorf("download stats: %+v", rec.Download)
	}
	if hub.rows != 2500 {
		t.Errorf("hub counted %d rows", hub.rows)
	}
	// The tag went into the query fields; the body holds no attachment.
	b := hub.body()
	if b["attachment"] != nil || b["type"] != "query" {
		t.Errorf("body: attachment %v type %v", b["attachment"], b["type"])
	}
	q := b["scheduled_plan"].(map[string]any)["query"].(map[string]any)
	if !strings.Contains(toJSON(q["fields"]), "users.external_id") {
		t.Errorf("query fields: %v", q["fields"])
	}
	if strings.Contains(out, `"k"`) {
		t.Errorf("the sensitive param is in the output")
	}
}

func TestCLIExecutePushAndFailure(t *testing.T) {
	hub := newFakeHub(t)
	// Push to an action that takes pushed data: csv through the attachment.
	code, out, errs := runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "p",
		"--rows", "321", "--format", "csv")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "message: Delivered 321 of 321 rows.") || !strings.Contains(out, "pushed: 321 rows") {
		t.Errorf("output:\n%s", out)
	}
	att := hub.body()["attachment"].(map[string]any)
	if att["mimetype"] != "text/csv" || att["extension"] != "csv" {
		t.Errorf("attachment: %v %v", att["mimetype"], att["extension"])
	}

	// success:false makes the exit status 1.
	code, out, errs = runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x",
		"--param", "api_key=k", "--rows", "3", "--form", "kind=b", "--form", "extra=bad")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "validation error: extra: Extra must not be bad.") || !strings.Contains(errs, "reported failure") {
		t.Errorf("failure output:\n%s\n%s", out, errs)
	}

	// An HTTP error (unknown action on the hub side) is a failure too.
	code, _, errs = runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "missing")
	if code != ExitFailure || !strings.Contains(errs, "missing") {
		t.Errorf("unknown action: exit %d %q", code, errs)
	}
}

func TestCLIExecuteCellDashboardAndFile(t *testing.T) {
	hub := newFakeHub(t)
	code, _, errs := runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x",
		"--param", "api_key=k", "--type", "cell", "--value", "+15550100")
	if code != ExitOK {
		t.Fatalf("cell: exit %d: %s", code, errs)
	}
	b := hub.body()
	if b["type"] != "cell" || b["scheduled_plan"] != nil || b["attachment"] != nil || b["data"].(map[string]any)["value"] != "+15550100" {
		t.Errorf("cell body: %v", b)
	}

	// A dashboard pushed as a base64 PNG.
	code, _, errs = runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "p",
		"--type", "dashboard", "--format", "wysiwyg_png")
	if code != ExitOK {
		t.Fatalf("dashboard: exit %d: %s", code, errs)
	}
	att := hub.body()["attachment"].(map[string]any)
	if att["mimetype"] != "image/png;base64" || att["extension"] != "png" {
		t.Errorf("dashboard attachment: %v %v", att["mimetype"], att["extension"])
	}
	if plan := hub.body()["scheduled_plan"].(map[string]any); plan["type"] != "Dashboard" || plan["query"] != nil {
		t.Errorf("dashboard plan: %v", plan)
	}

	// An uploaded CSV through the download URL, as json_detail.
	dir := t.TempDir()
	path := filepath.Join(dir, "people.csv")
	os.WriteFile(path, []byte("email,name\na@example.com,Ann\nb@example.com,\"Bo, Jr\"\nc@example.com,Cy\n"), 0o600)
	code, out, errs := runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x",
		"--param", "api_key=k", "--file", path, "--format", "json_detail", "--tag", "email=email")
	if code != ExitOK {
		t.Fatalf("file: exit %d: %s", code, errs)
	}
	if hub.rows != 3 || !strings.Contains(out, "download: 3 rows") {
		t.Errorf("file rows: hub %d\n%s", hub.rows, out)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCLIExecuteShapes(t *testing.T) {
	hub := newFakeHub(t)
	code, out, errs := runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x",
		"--param", "api_key=k", "--rows", "40", "--format", "json_detail_lite_stream", "--data-first",
		"--unicode", "--null-every", "7", "--pivot", "orders.status=a,b")
	if code != ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	if hub.rows != 40 || !strings.Contains(out, "download: 40 rows") {
		t.Errorf("rows: hub %d\n%s", hub.rows, out)
	}
	// Shapes exist only for the formats rowsgen writes.
	code, _, errs = runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "x",
		"--param", "api_key=k", "--format", "csv", "--via", "push", "--extra")
	if code != ExitOK {
		t.Fatalf("csv with --extra: exit %d %s", code, errs)
	}
	code, _, errs = runCLI(t, nil, "execute", "--hub", hub.URL(), "--key", fakeKey, "--action", "p",
		"--format", "txt", "--unicode")
	if code != ExitFailure || !strings.Contains(errs, "not txt") {
		t.Errorf("txt with --unicode: exit %d %q", code, errs)
	}
}
