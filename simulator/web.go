package simulator

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

//go:embed templates/*.html
var templateFS embed.FS

// userCookie holds the simulated user chosen in the page header.
const userCookie = "lookersim_user"

// maxUploadMemory is how much of an uploaded file is kept in memory; the rest goes to disk.
const maxUploadMemory = 8 << 20

type webUI struct {
	sim  *Simulator
	tmpl map[string]*template.Template
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"icon": func(s *string) template.URL {
		// Only image data URIs are let through as image sources.
		if s != nil && (strings.HasPrefix(*s, "data:image/png;base64,") || strings.HasPrefix(*s, "data:image/svg+xml;base64,") ||
			strings.HasPrefix(*s, "data:image/jpeg;base64,") || strings.HasPrefix(*s, "data:image/gif;base64,")) {
			return template.URL(*s)
		}
		return ""
	},
	"ms": func(d time.Duration) string {
		if d < time.Second {
			return fmt.Sprintf("%d ms", d.Milliseconds())
		}
		return fmt.Sprintf("%.2f s", d.Seconds())
	},
	"bytes": func(n int64) string {
		switch {
		case n >= 10<<20:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 10<<10:
			return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d bytes", n)
	},
	"num": func(n int64) string { return groupDigits(n) },
	"rate": func(n int64, d time.Duration) string {
		if d <= 0 {
			return ""
		}
		return groupDigits(int64(float64(n)/d.Seconds())) + "/s"
	},
	"clock":   func(t time.Time) string { return t.Format("15:04:05") },
	"formats": func(in *Integration) string { return describeFormats(in) },
	"sortedKeys": func(m map[string]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	},
	"tags": func(rf []sdk.RequiredField) string {
		var parts []string
		for _, f := range rf {
			switch {
			case f.Tag != "":
				parts = append(parts, f.Tag)
			case len(f.AnyTag) > 0:
				parts = append(parts, "any of "+strings.Join(f.AnyTag, "/"))
			case len(f.AllTags) > 0:
				parts = append(parts, "all of "+strings.Join(f.AllTags, "+"))
			}
		}
		return strings.Join(parts, ", ")
	},
	"deref": func(b *bool) bool { return b != nil && *b },
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func describeFormats(in *Integration) string {
	if in.SupportedFormats == nil {
		return "all"
	}
	if len(*in.SupportedFormats) == 0 {
		return "none"
	}
	return strings.Join(*in.SupportedFormats, ", ")
}

func newWebUI(s *Simulator) *webUI {
	w := &webUI{sim: s, tmpl: map[string]*template.Template{}}
	for _, page := range []string{"list", "admin", "send", "result", "history", "states", "statepage", "message"} {
		w.tmpl[page] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html"))
	}
	return w
}

// Handler returns the simulator's HTTP handler: the web pages, and the URLs the hub
// calls back (downloads, state URLs, the OAuth v2 token redirect).
func (s *Simulator) Handler() http.Handler {
	s.mu.Lock()
	if s.web == nil {
		s.web = newWebUI(s)
	}
	w := s.web
	s.mu.Unlock()
	mux := http.NewServeMux()
	mux.Handle("GET /downloads/{token}", s.Downloads)
	mux.HandleFunc("POST /state/{token}", s.handleStatePost)
	mux.HandleFunc("GET /state/{token}", w.statePage)
	mux.HandleFunc("POST /state/{token}/manual", w.stateManual)
	mux.HandleFunc("GET /state_redir/{token}", w.stateRedirect)
	mux.HandleFunc("GET /{$}", w.list)
	mux.HandleFunc("POST /refresh", w.refresh)
	mux.HandleFunc("POST /user", w.switchUser)
	mux.HandleFunc("GET /admin/{action}", w.admin)
	mux.HandleFunc("POST /admin/{action}", w.admin)
	mux.HandleFunc("GET /send/{action}", w.send)
	mux.HandleFunc("POST /send/{action}", w.send)
	mux.HandleFunc("GET /history", w.history)
	mux.HandleFunc("GET /history/{id}", w.result)
	mux.HandleFunc("GET /states", w.states)
	mux.HandleFunc("POST /states", w.statesPost)
	return mux
}

// page is what every template gets.
type page struct {
	Title    string
	Hub      string
	HubLabel string
	User     string
	Users    []string
	Path     string
	Error    string
	Notice   string
	Data     any
}

func (w *webUI) page(r *http.Request, title string, data any) *page {
	p := &page{Title: title, Hub: w.sim.Client.Hub, User: currentUser(r), Users: w.sim.Config.Users(),
		Path: r.URL.RequestURI(), Data: data}
	w.sim.mu.Lock()
	if w.sim.list != nil {
		p.HubLabel = w.sim.list.Label
	}
	w.sim.mu.Unlock()
	if !contains(p.Users, p.User) {
		p.Users = append(p.Users, p.User)
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (w *webUI) render(rw http.ResponseWriter, name string, p *page) {
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	if err := w.tmpl[name].Execute(rw, p); err != nil {
		slog.Error("lookersim: rendering a page", "page", name, "err", err)
	}
}

func currentUser(r *http.Request) string {
	if c, err := r.Cookie(userCookie); err == nil && c.Value != "" {
		if u, err := url.QueryUnescape(c.Value); err == nil && u != "" {
			return u
		}
	}
	return DefaultUser
}

func (w *webUI) switchUser(rw http.ResponseWriter, r *http.Request) {
	u := strings.TrimSpace(r.FormValue("user"))
	if u == "" {
		u = DefaultUser
	}
	w.sim.Config.AddUser(u)
	http.SetCookie(rw, &http.Cookie{Name: userCookie, Value: url.QueryEscape(u), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	back := r.FormValue("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") {
		back = "/"
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
}

// --- action list ---

type listData struct {
	List    *ActionList
	Fetched time.Time
	Missing map[string][]string
}

func (w *webUI) list(rw http.ResponseWriter, r *http.Request) {
	l, err := w.sim.Actions(r.Context(), false)
	p := w.page(r, "Actions", nil)
	if err != nil {
		p.Error = "Could not fetch the action list: " + err.Error()
		w.render(rw, "list", p)
		return
	}
	d := &listData{List: l, Missing: map[string][]string{}}
	w.sim.mu.Lock()
	d.Fetched = w.sim.listAt
	if w.sim.listErr != "" {
		p.Error = "The last refresh of the list failed (showing the list fetched before): " + w.sim.listErr
	}
	w.sim.mu.Unlock()
	for _, in := range l.Integrations {
		if m := w.sim.Config.MissingRequired(in, p.User); len(m) > 0 {
			d.Missing[in.Name] = m
		}
	}
	p.HubLabel = l.Label
	p.Data = d
	w.render(rw, "list", p)
}

func (w *webUI) refresh(rw http.ResponseWriter, r *http.Request) {
	w.sim.Actions(r.Context(), true)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

// --- admin ---

type adminParam struct {
	Param
	Value string // only for non-sensitive params
	Set   bool
	// Input is the form field name of a per-user value.
	Input string
}

// perUserKey names the admin page's input for a user's value of a param.
func perUserKey(user, param string) string { return "u_" + user + "|" + param }

type adminUserRow struct {
	User   string
	Values []adminParam
}

type adminData struct {
	Action   *Integration
	Params   []adminParam
	PerUser  []Param
	UserRows []adminUserRow
	Missing  []string
	Saved    bool
}

func (w *webUI) admin(rw http.ResponseWriter, r *http.Request) {
	name := r.PathValue("action")
	p := w.page(r, "Settings", nil)
	in, err := w.sim.Action(r.Context(), name)
	if err != nil {
		p.Error = err.Error()
		w.render(rw, "admin", p)
		return
	}
	cfg := w.sim.Config
	if r.Method == http.MethodPost {
		r.ParseForm()
		for _, prm := range in.Params {
			v, posted := r.PostForm["p_"+prm.Name]
			switch {
			case r.PostFormValue("clear_"+prm.Name) != "":
				cfg.SetParam(in.Name, prm.Name, "")
			case !posted:
			case prm.IsSensitive() && v[0] == "":
				// A masked field left empty keeps the stored secret, as in Looker.
			default:
				cfg.SetParam(in.Name, prm.Name, v[0])
			}
		}
		users := cfg.Users()
		if nu := strings.TrimSpace(r.PostFormValue("new_user")); nu != "" {
			cfg.AddUser(nu)
			users = append(users, nu)
		}
		for _, u := range users {
			for _, prm := range in.Params {
				if !prm.IsPerUser() {
					continue
				}
				key := perUserKey(u, prm.Name)
				v, posted := r.PostForm[key]
				switch {
				case r.PostFormValue("clear_"+key) != "":
					cfg.SetUserValue(in.Name, u, prm.Name, "")
				case !posted:
				case prm.IsSensitive() && v[0] == "":
				default:
					cfg.SetUserValue(in.Name, u, prm.Name, v[0])
				}
			}
		}
		http.Redirect(rw, r, "/admin/"+url.PathEscape(in.Name)+"?saved=1", http.StatusSeeOther)
		return
	}
	d := &adminData{Action: in, Saved: r.URL.Query().Get("saved") != ""}
	for _, prm := range in.Params {
		v := cfg.Param(in.Name, prm.Name)
		ap := adminParam{Param: prm, Set: v != ""}
		if !prm.IsSensitive() {
			ap.Value = v
		}
		d.Params = append(d.Params, ap)
		if prm.IsPerUser() {
			d.PerUser = append(d.PerUser, prm)
		}
	}
	if len(d.PerUser) > 0 {
		for _, u := range cfg.Users() {
			row := adminUserRow{User: u}
			for _, prm := range d.PerUser {
				v := cfg.UserValue(in.Name, u, prm.Name)
				ap := adminParam{Param: prm, Set: v != "", Input: perUserKey(u, prm.Name)}
				if !prm.IsSensitive() {
					ap.Value = v
				}
				row.Values = append(row.Values, ap)
			}
			d.UserRows = append(d.UserRows, row)
		}
	}
	d.Missing = cfg.MissingRequired(in, p.User)
	p.Title = in.Label + " settings"
	p.Data = d
	w.render(rw, "admin", p)
}

// --- send ---

// sendForm is the state of the send page: the data options and the form's values.
type sendForm struct {
	Type       string
	Format     string
	Via        string
	Rows       int64
	Columns    string
	Pivot      string
	PivotVals  string
	CellValue  string
	Title      string
	Shape      Shape
	FormParams map[string]string
}

type sendData struct {
	Action    *Integration
	Form      sendForm
	Fields    []Field
	FormError string
	FormSend  *Send
	Types     []string
	Formats   []sdk.Format
	AllFmts   []sdk.Format
	Missing   []string
	StateNote string
	HasState  bool
}

func defaultSendForm(in *Integration) sendForm {
	f := sendForm{Type: defaultType(in), Rows: 100, Columns: FormatColumns(DefaultColumns()), Title: DefaultTitle,
		FormParams: map[string]string{}, CellValue: "user1@example.com"}
	f.Via = ViaPush
	if in.Streams() {
		f.Via = ViaDownload
	}
	return f
}

func (w *webUI) send(rw http.ResponseWriter, r *http.Request) {
	name := r.PathValue("action")
	p := w.page(r, "Send", nil)
	ctx := r.Context()
	in, err := w.sim.Action(ctx, name)
	if err != nil {
		p.Error = err.Error()
		w.render(rw, "send", p)
		return
	}
	p.Title = "Send to " + in.Label
	sf := defaultSendForm(in)
	op := ""
	if r.Method == http.MethodPost {
		if err := r.ParseMultipartForm(maxUploadMemory); err != nil && err != http.ErrNotMultipart {
			p.Error = "Could not read the form: " + err.Error()
		}
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
		op = r.FormValue("_op")
		sf = readSendForm(r, sf)
	} else if from, _ := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64); from > 0 {
		if prev := w.sim.History.Get(from); prev != nil && prev.Input != nil && prev.Action == in.Name {
			sf = sendFormFrom(prev.Input, sf)
		}
	}
	if op == "execute" {
		rec, err := w.execute(ctx, r, in, p.User, sf)
		if err == nil {
			http.Redirect(rw, r, "/history/"+itoa(rec.ID), http.StatusSeeOther)
			return
		}
		p.Error = err.Error()
	}
	d := &sendData{Action: in, Form: sf, AllFmts: FormatsForType(sf.Type)}
	for _, t := range []string{"query", "dashboard", "cell"} {
		if in.SupportsType(t) {
			d.Types = append(d.Types, t)
		}
	}
	if !contains(d.Types, sf.Type) {
		d.Types = append(d.Types, sf.Type)
	}
	d.Formats = in.Formats(sf.Type)
	if d.Form.Format == "" && len(d.Formats) > 0 {
		d.Form.Format = string(d.Formats[0])
	}
	d.Missing = w.sim.Config.MissingRequired(in, p.User)
	if in.UsesOAuth {
		_, d.HasState = w.sim.States.Get(p.User, in.Name)
	}
	if in.HasForm() {
		rec := w.sim.Form(ctx, FormInput{Action: in.Name, User: p.User, Type: sf.Type, FormParams: sf.FormParams})
		d.FormSend = rec
		d.Fields = rec.Fields
		d.StateNote = rec.StateChange
		if !rec.OK {
			d.FormError = rec.Error
		}
		// Values start at the field defaults, as Looker renders them.
		for _, f := range d.Fields {
			if _, ok := d.Form.FormParams[f.Name]; !ok && f.IsInput() && f.Default != "" {
				d.Form.FormParams[f.Name] = f.Default
			}
		}
	}
	p.Data = d
	w.render(rw, "send", p)
}

func readSendForm(r *http.Request, sf sendForm) sendForm {
	if v := r.FormValue("type"); v != "" {
		sf.Type = v
	}
	sf.Format = r.FormValue("format")
	if v := r.FormValue("via"); v != "" {
		sf.Via = v
	}
	if n, err := strconv.ParseInt(strings.ReplaceAll(r.FormValue("rows"), ",", ""), 10, 64); err == nil && n >= 0 {
		sf.Rows = n
	}
	if _, ok := r.Form["columns"]; ok {
		sf.Columns = r.FormValue("columns")
	}
	sf.Pivot = strings.TrimSpace(r.FormValue("pivot"))
	sf.PivotVals = r.FormValue("pivot_values")
	if _, ok := r.Form["cell_value"]; ok {
		sf.CellValue = r.FormValue("cell_value")
	}
	if v := r.FormValue("title"); v != "" {
		sf.Title = v
	}
	sf.Shape = Shape{DataFirst: r.FormValue("data_first") != "", Unicode: r.FormValue("unicode") != "",
		Rendered: r.FormValue("rendered") != "", Extra: r.FormValue("extra") != ""}
	sf.Shape.NullEvery, _ = strconv.Atoi(r.FormValue("null_every"))
	sf.FormParams = map[string]string{}
	for k, v := range r.Form {
		if name, ok := strings.CutPrefix(k, "f_"); ok && len(v) > 0 {
			sf.FormParams[name] = v[0]
		}
	}
	return sf
}

func sendFormFrom(ei *ExecInput, sf sendForm) sendForm {
	sf.Type, sf.Format, sf.Via, sf.Rows = ei.Type, ei.Format, ei.Via, ei.Gen.Rows
	if len(ei.Gen.Columns) > 0 {
		sf.Columns = FormatColumns(ei.Gen.Columns)
	}
	sf.Pivot, sf.PivotVals = ei.Gen.Pivot, strings.Join(ei.Gen.PivotValues, ", ")
	sf.CellValue, sf.Title, sf.Shape = ei.CellValue, ei.Title, ei.Gen.Shape
	sf.FormParams = map[string]string{}
	for k, v := range ei.FormParams {
		sf.FormParams[k] = v
	}
	return sf
}

// execute runs the send page's execute; a returned error is an input error to show.
func (w *webUI) execute(ctx context.Context, r *http.Request, in *Integration, user string, sf sendForm) (*Send, error) {
	cols, err := ParseColumns(sf.Columns)
	if err != nil {
		return nil, err
	}
	ei := ExecInput{Action: in.Name, User: user, Type: sf.Type, FormParams: sf.FormParams, Format: sf.Format,
		Via: sf.Via, CellValue: sf.CellValue, Title: sf.Title,
		Gen: GenSpec{Rows: sf.Rows, Columns: cols, Shape: sf.Shape}}
	if sf.Pivot != "" {
		ei.Gen.Pivot = sf.Pivot
		for _, v := range strings.Split(sf.PivotVals, ",") {
			if v = strings.TrimSpace(v); v != "" {
				ei.Gen.PivotValues = append(ei.Gen.PivotValues, v)
			}
		}
		if len(ei.Gen.PivotValues) == 0 {
			return nil, fmt.Errorf("give the pivot values of %s (comma-separated)", sf.Pivot)
		}
	}
	if file, hdr, err := r.FormFile("upload"); err == nil {
		defer file.Close()
		if hdr.Size > 0 {
			tmp, err := os.CreateTemp("", "lookersim-upload-*")
			if err != nil {
				return nil, err
			}
			defer os.Remove(tmp.Name())
			_, err = io.Copy(tmp, file)
			tmp.Close()
			if err != nil {
				return nil, err
			}
			ei.Upload = &Upload{Name: hdr.Filename, Path: tmp.Name()}
		}
	}
	return w.sim.Execute(ctx, ei), nil
}

// --- history and results ---

func (w *webUI) history(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, "history", w.page(r, "History", w.sim.History.List()))
}

func (w *webUI) result(rw http.ResponseWriter, r *http.Request) {
	idText := r.PathValue("id")
	asJSON := strings.HasSuffix(idText, ".json")
	id, _ := strconv.ParseInt(strings.TrimSuffix(idText, ".json"), 10, 64)
	rec := w.sim.History.Get(id)
	if rec == nil {
		p := w.page(r, "Not found", nil)
		p.Error = "No such send in the history (it keeps the last " + strconv.Itoa(DefaultHistorySize) + ")."
		rw.WriteHeader(http.StatusNotFound)
		w.render(rw, "message", p)
		return
	}
	if asJSON {
		rw.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(rw)
		enc.SetIndent("", "  ")
		enc.Encode(rec)
		return
	}
	w.render(rw, "result", w.page(r, fmt.Sprintf("Send #%d", rec.ID), rec))
}

// --- user state ---

type statesData struct {
	Entries []StateEntry
	Actions []*Integration
}

func (w *webUI) states(rw http.ResponseWriter, r *http.Request) {
	d := &statesData{Entries: w.sim.States.Entries()}
	if l, err := w.sim.Actions(r.Context(), false); err == nil {
		for _, in := range l.Integrations {
			if in.UsesOAuth {
				d.Actions = append(d.Actions, in)
			}
		}
	}
	p := w.page(r, "User state", d)
	p.Notice = r.URL.Query().Get("notice")
	w.render(rw, "states", p)
}

func (w *webUI) statesPost(rw http.ResponseWriter, r *http.Request) {
	user, action := r.FormValue("user"), r.FormValue("action")
	notice := ""
	switch r.FormValue("op") {
	case "delete":
		w.sim.States.Delete(user, action)
		notice = "Forgot the state of " + user + " for " + action + "."
	case "set":
		v := r.FormValue("state")
		if len(v) > MaxStateBytes {
			notice = "The state is larger than Looker's 32 KB."
			break
		}
		w.sim.States.Set(user, action, v, "set by hand")
		notice = fmt.Sprintf("Stored %d bytes as the state of %s for %s.", len(v), user, action)
	}
	http.Redirect(rw, r, "/states?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}

// handleStatePost is the state_url: the hub POSTs a user's new state here (once).
func (s *Simulator) handleStatePost(rw http.ResponseWriter, r *http.Request) {
	u := s.States.Claim(r.PathValue("token"), false)
	if u == nil {
		http.NotFound(rw, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxStateBytes+1))
	if err != nil {
		http.Error(rw, "could not read the state", http.StatusBadRequest)
		return
	}
	if len(body) > MaxStateBytes {
		http.Error(rw, "state larger than 32 KB", http.StatusRequestEntityTooLarge)
		return
	}
	s.States.Set(u.User, u.Action, string(body), "state_url")
	s.History.Add(&Send{Kind: "state", User: u.User, Action: u.Action, OK: true,
		StateChange: fmt.Sprintf("the hub stored %d bytes through the state_url", len(body))})
	rw.Header().Set("Content-Type", "application/json")
	io.WriteString(rw, "{}")
}

type statePageData struct {
	URL    *StateURL
	Token  string
	Stored bool
	Bytes  int
}

// statePage answers a browser opening a state_url: that is how a delegate-OAuth action's
// login link looks (its oauth_url is Looker's state_url). It lets the developer finish a
// fake login by pasting the state to store.
func (w *webUI) statePage(rw http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	u := w.sim.States.Peek(tok, false)
	p := w.page(r, "Log in", &statePageData{URL: u, Token: tok})
	if u == nil {
		p.Error = "This state URL was used already or has expired."
		rw.WriteHeader(http.StatusNotFound)
	}
	w.render(rw, "statepage", p)
}

func (w *webUI) stateManual(rw http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	u := w.sim.States.Claim(tok, false)
	if u == nil {
		p := w.page(r, "Log in", &statePageData{Token: tok})
		p.Error = "This state URL was used already or has expired."
		rw.WriteHeader(http.StatusNotFound)
		w.render(rw, "statepage", p)
		return
	}
	v := r.FormValue("state")
	if len(v) > MaxStateBytes {
		v = v[:MaxStateBytes]
	}
	w.sim.States.Set(u.User, u.Action, v, "login page")
	w.sim.History.Add(&Send{Kind: "state", User: u.User, Action: u.Action, OK: true,
		StateChange: fmt.Sprintf("stored %d bytes from the simulated login page", len(v))})
	w.render(rw, "statepage", w.page(r, "Logged in", &statePageData{URL: u, Stored: true, Bytes: len(v)}))
}

// stateRedirect is the state_redir_url of OAuth v2: the browser comes back from the hub
// with ?state=S2; the simulator then calls the action's token route with {"state": S2}
// and stores the reply as the user's state.
func (w *webUI) stateRedirect(rw http.ResponseWriter, r *http.Request) {
	u := w.sim.States.Claim(r.PathValue("token"), true)
	if u == nil {
		p := w.page(r, "OAuth", nil)
		p.Error = "This state redirect URL was used already or has expired."
		rw.WriteHeader(http.StatusNotFound)
		w.render(rw, "message", p)
		return
	}
	rec, err := w.sim.TokenExchange(r.Context(), u, r.URL.Query().Get("state"))
	p := w.page(r, "OAuth", rec)
	if err != nil {
		p.Error = "The token exchange failed: " + err.Error()
		rw.WriteHeader(http.StatusBadGateway)
	} else {
		p.Notice = fmt.Sprintf("Logged in: %s. You may close this tab and refresh the form.", rec.StateChange)
	}
	w.render(rw, "message", p)
}

// TokenExchange completes an OAuth v2 login: it calls the action's token route with the
// state the hub put in the redirect and stores the reply as the user's state.
func (s *Simulator) TokenExchange(ctx context.Context, u *StateURL, state string) (*Send, error) {
	start := time.Now()
	rec := &Send{Kind: "oauth_token", User: u.User, Action: u.Action}
	defer func() { rec.Duration = time.Since(start); s.History.Add(rec) }()
	if state == "" {
		rec.Error = "the redirect has no state parameter"
		return rec, fmt.Errorf("%s", rec.Error)
	}
	body, ex, err := s.Client.OAuthToken(ctx, u.TokenURL, state)
	rec.Exchanges = append(rec.Exchanges, ex)
	rec.HTTPStatus = ex.Status
	if err != nil {
		rec.Error = err.Error()
		return rec, err
	}
	if len(body) > MaxStateBytes {
		rec.Error = "the token reply is larger than Looker's 32 KB state"
		return rec, fmt.Errorf("%s", rec.Error)
	}
	s.States.Set(u.User, u.Action, string(body), "token route")
	rec.OK = true
	rec.StateChange = fmt.Sprintf("the token route's reply became the user's state (%d bytes)", len(body))
	return rec, nil
}
