package simulator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser; CHROMIUM_PATH
// overrides it.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// newBrowser starts a headless Chromium for one test. Without the browser the test fails
// when BROWSER_REQUIRED=1 (CI) and is skipped otherwise.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if _, err := os.Stat(path); err != nil {
		const hint = "install it with: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)"
		if os.Getenv("BROWSER_REQUIRED") == "1" {
			t.Fatalf("no browser at %s: %s", path, hint)
		}
		t.Skipf("no browser at %s: %s", path, hint)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// screenshot saves a full-page PNG into $LOOKERSIM_SCREENSHOTS (when set), for the README.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("LOOKERSIM_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

func pageHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBrowserListConfigureFormSend walks the main path in a real browser: the action
// list, the admin settings (sensitive value masked), a form with a select and an
// interactive field that re-renders the form, and a 100,000-row send through the
// download URL with its report.
func TestBrowserListConfigureFormSend(t *testing.T) {
	ctx := newBrowser(t)
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)

	// The list: icon, label, types, formats, params.
	do(t, ctx, "open the list", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#action-x")))
	row := text(t, ctx, "#action-x")
	for _, want := range []string{"Row Counter", "query", "json_detail_lite_stream", "url", "api_key", "sensitive", "email"} {
		if !strings.Contains(row, want) {
			t.Errorf("list row lacks %q: %s", want, row)
		}
	}
	icon, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#action-x td.icon img"), "src"))
	if err != nil || !strings.HasPrefix(icon.Value, "data:image/svg+xml;base64,") {
		t.Errorf("icon src %+v %v", icon, err)
	}
	if !strings.Contains(text(t, ctx, "#action-o2"), "OAuth v2") {
		t.Errorf("o2 not shown as OAuth v2")
	}
	screenshot(t, ctx, "list")

	// Settings: a sensitive and a plain param, and a per-user value.
	do(t, ctx, "open settings", chromedp.Click(chromedp.CSS(`#action-x a[href="/admin/x"]`)), chromedp.WaitVisible(chromedp.CSS("#p_api_key")))
	typ, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#p_api_key"), "type"))
	if typ.Value != "password" {
		t.Errorf("sensitive param input type %q", typ.Value)
	}
	do(t, ctx, "fill settings",
		chromedp.SendKeys(chromedp.CSS("#p_api_key"), "secret-api-key-1"),
		chromedp.SendKeys(chromedp.CSS("#p_region"), "eu-west"),
		chromedp.SendKeys(chromedp.CSS(`input[name="u_admin|owner"]`), "ann@example.com"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#saved")))
	if sim.Config.Param("x", "api_key") != "secret-api-key-1" || sim.Config.Param("x", "region") != "eu-west" ||
		sim.Config.UserValue("x", "admin", "owner") != "ann@example.com" {
		t.Fatalf("settings not stored: %q %q %q", sim.Config.Param("x", "api_key"), sim.Config.Param("x", "region"),
			sim.Config.UserValue("x", "admin", "owner"))
	}
	page := pageHTML(t, ctx)
	if strings.Contains(page, "secret-api-key-1") {
		t.Errorf("the sensitive value is in the settings page")
	}
	ph, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#p_api_key"), "placeholder"))
	if !strings.Contains(ph.Value, "set") {
		t.Errorf("placeholder %q does not say the secret is set", ph.Value)
	}
	region, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#p_region")))
	if region != "eu-west" {
		t.Errorf("region shows %q", region)
	}
	screenshot(t, ctx, "admin")
	// Saving again with the secret left empty keeps it.
	// (RunResponse waits for the navigation: the old page has #saved too.)
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#save"))); err != nil {
		t.Fatalf("save again: %v", err)
	}
	if sim.Config.Param("x", "api_key") != "secret-api-key-1" {
		t.Fatalf("an empty masked field cleared the secret")
	}

	// The send page: the form with a select, a message, a textarea.
	do(t, ctx, "open send", chromedp.Navigate(srv.URL+"/send/x"), chromedp.WaitVisible(chromedp.CSS("#f_kind")))
	if got := text(t, ctx, "#f_kind"); !strings.Contains(got, "Alpha") || !strings.Contains(got, "Beta") {
		t.Errorf("select options %q", got)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f_kind"))); v != "a" {
		t.Errorf("select default %q", v)
	}
	if !strings.Contains(text(t, ctx, "#field-note"), "Rows are counted") {
		t.Errorf("message field not shown")
	}
	if strings.Contains(pageHTML(t, ctx), `id="f_extra"`) {
		t.Fatalf("extra field before the interactive change")
	}
	// The form request carried the admin settings and the user's own value.
	if d := hub.body()["data"].(map[string]any); d["api_key"] != "secret-api-key-1" || d["owner"] != "ann@example.com" {
		t.Errorf("form data %v", d)
	}
	// Choosing Beta (SetValue fires input and change events, as a user's choice does)
	// re-fetches the form with the current values: a new field appears.
	do(t, ctx, "choose Beta",
		chromedp.SendKeys(chromedp.CSS("#f_comment"), "first try"),
		chromedp.SetValue(chromedp.CSS("#f_kind"), "b"),
		chromedp.WaitVisible(chromedp.CSS("#f_extra")))
	if fp := hub.body()["form_params"].(map[string]any); fp["kind"] != "b" || fp["comment"] != "first try" {
		t.Errorf("re-query form_params %v", fp)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f_comment"))); v != "first try" {
		t.Errorf("textarea lost its value: %q", v)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f_kind"))); v != "b" {
		t.Errorf("select lost its value: %q", v)
	}
	do(t, ctx, "fill the send",
		chromedp.SendKeys(chromedp.CSS("#f_extra"), "hello"),
		chromedp.SetValue(chromedp.CSS("#rows"), "100000"),
		chromedp.SetValue(chromedp.CSS("#format"), "json_detail_lite_stream"),
		chromedp.SetValue(chromedp.CSS("#via"), "download"))
	screenshot(t, ctx, "send")
	do(t, ctx, "send", chromedp.Click(chromedp.CSS("#send")), chromedp.WaitVisible(chromedp.CSS("#status")))

	// The result: success, the hub's report, the download figures, the masked exchange.
	if s := text(t, ctx, "#status"); s != "Success" {
		t.Fatalf("status %q; page:\n%s", s, text(t, ctx, "main"))
	}
	if m := text(t, ctx, "#message"); !strings.Contains(m, "Delivered 100,000 of 100,000 rows.") {
		t.Errorf("message %q", m)
	}
	if d := text(t, ctx, "#download"); !strings.Contains(d, "100,000 rows") || !strings.Contains(d, "complete") {
		t.Errorf("download %q", d)
	}
	if hub.rows != 100000 {
		t.Errorf("the hub counted %d rows", hub.rows)
	}
	fp := hub.body()["form_params"].(map[string]any)
	if fp["kind"] != "b" || fp["extra"] != "hello" {
		t.Errorf("execute form_params %v", fp)
	}
	req := text(t, ctx, "#request-0")
	if !strings.Contains(req, `"download_url"`) || !strings.Contains(req, `"api_key": "********"`) || strings.Contains(req, "secret-api-key-1") {
		t.Errorf("request shown:\n%s", req)
	}
	if page := pageHTML(t, ctx); strings.Contains(page, fakeKey) || !strings.Contains(page, `Token token="********"`) {
		t.Errorf("the key is not masked on the result page")
	}
	screenshot(t, ctx, "result")

	// The history lists the send.
	do(t, ctx, "history", chromedp.Navigate(srv.URL+"/history"), chromedp.WaitVisible(chromedp.CSS("#history")))
	if h := text(t, ctx, "#history"); !strings.Contains(h, "Delivered 100,000 of 100,000 rows.") {
		t.Errorf("history %q", h)
	}
	screenshot(t, ctx, "history")
}

// TestBrowserValidationUploadOAuth shows validation errors from a failed send, sends an
// uploaded CSV file to a push action, and logs in to an OAuth v2 action through the
// browser (hub /oauth → the simulator's state_redir_url → the hub's token route).
func TestBrowserValidationUploadOAuth(t *testing.T) {
	ctx := newBrowser(t)
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)
	sim.Config.SetParam("x", "api_key", "k")

	do(t, ctx, "open send", chromedp.Navigate(srv.URL+"/send/x"), chromedp.WaitVisible(chromedp.CSS("#f_kind")),
		chromedp.SetValue(chromedp.CSS("#f_kind"), "b"),
		chromedp.WaitVisible(chromedp.CSS("#f_extra")),
		chromedp.SendKeys(chromedp.CSS("#f_extra"), "bad"),
		chromedp.SetValue(chromedp.CSS("#rows"), "10"),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(chromedp.CSS("#status")))
	if s := text(t, ctx, "#status"); s != "Failure" {
		t.Errorf("status %q", s)
	}
	if v := text(t, ctx, "#validation"); !strings.Contains(v, "extra") || !strings.Contains(v, "Extra must not be bad.") {
		t.Errorf("validation errors %q", v)
	}
	// "Send again" restores the form values.
	do(t, ctx, "send again", chromedp.Click(chromedp.CSS("#again")), chromedp.WaitVisible(chromedp.CSS("#f_extra")))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f_extra"))); v != "bad" {
		t.Errorf("send again: extra = %q", v)
	}

	// Upload a CSV to the push action.
	dir := t.TempDir()
	path := filepath.Join(dir, "people.csv")
	os.WriteFile(path, []byte("users.email,users.name\na@example.com,Ann\nb@example.com,Bo\n"), 0o600)
	do(t, ctx, "upload", chromedp.Navigate(srv.URL+"/send/p"), chromedp.WaitVisible(chromedp.CSS("#upload")),
		chromedp.SetValue(chromedp.CSS("#format"), "csv"),
		chromedp.SetUploadFiles(chromedp.CSS("#upload"), []string{path}),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(chromedp.CSS("#status")))
	if s := text(t, ctx, "#status"); s != "Success" {
		t.Fatalf("upload status %q: %s", s, text(t, ctx, "main"))
	}
	if p := text(t, ctx, "#pushed"); !strings.Contains(p, "2 rows") {
		t.Errorf("pushed %q", p)
	}
	att := hub.body()["attachment"].(map[string]any)
	// Field names in the header become Looker's labels in the csv format.
	if att["data"] != "Users Email,Users Name\na@example.com,Ann\nb@example.com,Bo\n" {
		t.Errorf("pushed csv %q", att["data"])
	}

	// OAuth v2: the form shows a Google login button; following it lands on the
	// simulator's state redirect page, which called the token route and stored the state.
	do(t, ctx, "open the v2 form", chromedp.Navigate(srv.URL+"/send/o2"), chromedp.WaitVisible(chromedp.CSS("#oauth-login")))
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#oauth-login"), "href"))
	if err != nil || !strings.HasPrefix(link.Value, hub.URL()+"/actions/o2/oauth?state=") {
		t.Fatalf("login link %+v %v", link, err)
	}
	if cls, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#oauth-login"), "class")); !strings.Contains(cls.Value, "google") {
		t.Errorf("oauth_link_google button class %q", cls.Value)
	}
	screenshot(t, ctx, "oauth-form")
	do(t, ctx, "log in", chromedp.Navigate(link.Value), chromedp.WaitVisible(chromedp.CSS("#notice")))
	if n := text(t, ctx, "#notice"); !strings.Contains(n, "Logged in") {
		t.Errorf("after login: %q", n)
	}
	if v, _ := sim.States.Get(DefaultUser, "o2"); !strings.Contains(v, "at-v2") {
		t.Fatalf("v2 state not stored: %q", v)
	}
	do(t, ctx, "back to the form", chromedp.Navigate(srv.URL+"/send/o2"), chromedp.WaitVisible(chromedp.CSS("#field-who")))
	if w := text(t, ctx, "#field-who"); !strings.Contains(w, "logged in") {
		t.Errorf("form after login: %q", w)
	}
}
