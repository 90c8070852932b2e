package simulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// Options configure a Simulator.
type Options struct {
	// Hub is the hub's root URL; Key its API key.
	Hub, Key string
	// LookerVersion is announced in the User-Agent (default DefaultLookerVersion).
	LookerVersion string
	// InstanceID is sent as X-Looker-Instance (default: a random UUID-like id).
	InstanceID string
	// Advertise is the simulator's own base URL as the hub reaches it: download and state
	// URLs are built on it. It can be set later with SetAdvertise (once listening).
	Advertise string
	// HTTPClient calls the hub (default: no total timeout).
	HTTPClient *http.Client
	// HistorySize is how many sends are kept (default DefaultHistorySize).
	HistorySize int
}

// Simulator plays Looker for one hub: it holds the admin settings, the users' states,
// the issued download URLs and the history of sends.
type Simulator struct {
	Client    *Client
	Config    *Config
	States    *StateStore
	Downloads *Downloads
	History   *History

	mu        sync.Mutex
	advertise string
	list      *ActionList
	listAt    time.Time
	listErr   string

	planSeq atomic.Int64
	web     *webUI
}

// New returns a simulator for the hub in o.
func New(o Options) *Simulator {
	inst := o.InstanceID
	if inst == "" {
		h := randomHex(16)
		inst = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	s := &Simulator{
		Client: &Client{Hub: o.Hub, Key: o.Key, LookerVersion: o.LookerVersion, InstanceID: inst,
			HTTP: o.HTTPClient},
		Config:    &Config{},
		States:    &StateStore{},
		Downloads: &Downloads{},
		History:   &History{Max: o.HistorySize},
		advertise: strings.TrimRight(o.Advertise, "/"),
	}
	s.planSeq.Store(1000 + rand.Int64N(9000))
	return s
}

// SetAdvertise sets the simulator's base URL as the hub reaches it.
func (s *Simulator) SetAdvertise(u string) {
	s.mu.Lock()
	s.advertise = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// Advertise returns the simulator's base URL as the hub reaches it.
func (s *Simulator) Advertise() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advertise
}

// Actions returns the hub's action list, fetching it when refresh is set or when none is
// cached (Looker also caches it until an admin refreshes).
func (s *Simulator) Actions(ctx context.Context, refresh bool) (*ActionList, error) {
	s.mu.Lock()
	l := s.list
	s.mu.Unlock()
	if l != nil && !refresh {
		return l, nil
	}
	start := time.Now()
	l, ex, err := s.Client.List(ctx)
	rec := &Send{Kind: "list", Exchanges: []*Exchange{ex}, HTTPStatus: ex.Status, Duration: time.Since(start)}
	if err != nil {
		rec.Error = err.Error()
		s.History.Add(rec)
		s.mu.Lock()
		s.listErr = err.Error()
		s.mu.Unlock()
		return nil, err
	}
	rec.OK = true
	rec.Message = fmt.Sprintf("%d actions", len(l.Integrations))
	s.History.Add(rec)
	s.mu.Lock()
	s.list, s.listAt, s.listErr = l, time.Now(), ""
	s.mu.Unlock()
	return l, nil
}

// Action returns one action of the (cached) list.
func (s *Simulator) Action(ctx context.Context, name string) (*Integration, error) {
	l, err := s.Actions(ctx, false)
	if err != nil {
		return nil, err
	}
	if in := l.Find(name); in != nil {
		return in, nil
	}
	// The hub may have changed since the list was cached.
	if l, err = s.Actions(ctx, true); err != nil {
		return nil, err
	}
	if in := l.Find(name); in != nil {
		return in, nil
	}
	return nil, fmt.Errorf("the hub lists no action named %q", name)
}

// requestData builds the request's "data": admin params (with the user's per-user
// values), overrides, and for OAuth actions the user's state with fresh one-time state
// URLs, as Looker sends them.
func (s *Simulator) requestData(in *Integration, user string, overrides map[string]string) map[string]string {
	data := s.Config.Data(in, user)
	for k, v := range overrides {
		data[k] = v
	}
	if in.UsesOAuth {
		base := s.Advertise()
		su := s.States.Issue(user, in.Name, false, "")
		data["state_url"] = base + "/state/" + su.Token
		if in.OAuthV2() {
			ru := s.States.Issue(user, in.Name, true, in.TokenURL)
			data["state_redir_url"] = base + "/state_redir/" + ru.Token
		}
		if st, ok := s.States.Get(user, in.Name); ok {
			data["state_json"] = st
		}
	}
	return data
}

// applyState stores a state returned in a form or execute reply and says what changed.
func (s *Simulator) applyState(user, action string, st *State, source string) string {
	if st == nil || st.Data == nil {
		return ""
	}
	s.States.Set(user, action, *st.Data, source)
	if *st.Data == "reset" {
		return "the " + source + " reset the user's state"
	}
	return fmt.Sprintf("the %s replaced the user's state (%d bytes)", source, len(*st.Data))
}

// FormInput is a form request.
type FormInput struct {
	Action string
	User   string
	// Type is the request type sent in the body ("" = query when supported).
	Type string
	// FormParams are the current values of the form (empty on first render).
	FormParams map[string]string
	// Params override the admin params for this request.
	Params map[string]string
}

// Form fetches an action's form as Looker does when a user opens it, or re-fetches it
// with the current values after an interactive field changed.
func (s *Simulator) Form(ctx context.Context, fi FormInput) *Send {
	start := time.Now()
	rec := &Send{Kind: "form", Action: fi.Action, User: userOr(fi.User)}
	defer func() { rec.Duration = time.Since(start); s.History.Add(rec) }()
	in, err := s.Action(ctx, fi.Action)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	if !in.HasForm() {
		rec.Error = "the action has no form"
		return rec
	}
	typ := fi.Type
	if typ == "" {
		typ = defaultType(in)
	}
	rec.Type = typ
	fp := fi.FormParams
	if fp == nil {
		fp = map[string]string{}
	}
	body := struct {
		Type       string            `json:"type"`
		Data       map[string]string `json:"data"`
		FormParams map[string]string `json:"form_params"`
	}{typ, s.requestData(in, rec.User, fi.Params), fp}
	reply, ex, err := s.Client.Form(ctx, *in.FormURL, body, Masker{Sensitive: in.SensitiveParams()})
	rec.Exchanges = append(rec.Exchanges, ex)
	rec.HTTPStatus = ex.Status
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.Fields = reply.Fields
	rec.Message = fmt.Sprintf("%d fields", len(reply.Fields))
	rec.StateChange = s.applyState(rec.User, in.Name, reply.State, "form reply")
	if reply.Error != "" {
		rec.Error = reply.Error
		return rec
	}
	rec.OK = true
	return rec
}

func userOr(u string) string {
	if u == "" {
		return DefaultUser
	}
	return u
}

func defaultType(in *Integration) string {
	for _, t := range []string{"query", "dashboard", "cell"} {
		if in.SupportsType(t) {
			return t
		}
	}
	return "query"
}

// Upload is a data file given by the user instead of generated rows.
type Upload struct {
	// Name is the file's name (for display); Path where it is on disk.
	Name string `json:"name"`
	Path string `json:"-"`
}

// ExecInput is an execute request.
type ExecInput struct {
	Action string `json:"action"`
	User   string `json:"user,omitempty"`
	// Type is "query", "cell" or "dashboard" ("" = the first the action supports).
	Type string `json:"type,omitempty"`
	// FormParams are the user's answers to the form.
	FormParams map[string]string `json:"form_params,omitempty"`
	// Params override the admin params for this request.
	Params map[string]string `json:"params,omitempty"`
	// Format is the data format ("" = the action's first supported one).
	Format string `json:"format,omitempty"`
	// Via is "download" (one-time URL) or "push" (attachment); "" follows the action's
	// supported_download_settings.
	Via string `json:"via,omitempty"`
	// Gen describes generated rows (query sends without Upload).
	Gen GenSpec `json:"gen"`
	// Upload, when set, is sent instead of generated rows.
	Upload *Upload `json:"upload,omitempty"`
	// CellValue is the clicked value of a cell send (data.value).
	CellValue string `json:"cell_value,omitempty"`
	// Title is the scheduled plan's title.
	Title string `json:"title,omitempty"`
}

// DefaultTitle is the scheduled plan title when none is given.
const DefaultTitle = "Simulated send"

// Via values.
const (
	ViaDownload = "download"
	ViaPush     = "push"
)

// Execute sends data to an action as Looker does and records the outcome.
func (s *Simulator) Execute(ctx context.Context, ei ExecInput) *Send {
	start := time.Now()
	ei.User = userOr(ei.User)
	rec := &Send{Kind: "execute", Action: ei.Action, User: ei.User}
	defer func() { rec.Duration = time.Since(start); s.History.Add(rec) }()
	in, err := s.Action(ctx, ei.Action)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	if ei.Type == "" {
		ei.Type = defaultType(in)
	}
	if ei.Title == "" {
		ei.Title = DefaultTitle
	}
	mask := Masker{Sensitive: in.SensitiveParams()}
	kept := ei
	kept.Params = maskParams(ei.Params, mask.Sensitive)
	rec.Input = &kept
	rec.Type = ei.Type
	data := s.requestData(in, ei.User, ei.Params)

	var (
		plan   *planJSON
		att    *attachmentPlan
		dl     *Download
		source Source
		format sdk.Format
	)
	switch ei.Type {
	case "cell":
		data["value"] = ei.CellValue
		data["rendered"] = ei.CellValue
	case "query", "dashboard":
		if format, err = pickFormat(in, ei.Type, ei.Format); err != nil {
			rec.Error = err.Error()
			return rec
		}
		rec.Format = string(format)
		if source, err = s.dataSource(ei, format); err != nil {
			rec.Error = err.Error()
			return rec
		}
		via := ei.Via
		if via == "" {
			via = ViaPush
			if in.Streams() {
				via = ViaDownload
			}
		}
		rec.Via = via
		plan = s.plan(ei)
		switch via {
		case ViaDownload:
			dl = s.Downloads.Add(MimeType(format), source)
			u := s.Advertise() + "/downloads/" + dl.Token
			plan.DownloadURL = &u
		case ViaPush:
			att = &attachmentPlan{format: format, source: source}
		default:
			rec.Error = fmt.Sprintf("unknown delivery %q (use download or push)", via)
			return rec
		}
	default:
		// Any other type is sent as given, so the hub's validation can be tried.
	}

	head, _ := json.Marshal(struct {
		Type          string    `json:"type"`
		ScheduledPlan *planJSON `json:"scheduled_plan"`
	}{ei.Type, plan})
	tail, _ := json.Marshal(struct {
		Data       map[string]string `json:"data"`
		FormParams map[string]string `json:"form_params"`
	}{data, nonNilMap(ei.FormParams)})
	headPart := head[:len(head)-1]               // {"type":..,"scheduled_plan":..
	tailPart := append([]byte{','}, tail[1:]...) // ,"data":..,"form_params":..}
	webhookID := NewWebhookID()
	body := func(w io.Writer) error {
		if _, err := w.Write(headPart); err != nil {
			return err
		}
		if _, err := io.WriteString(w, `,"attachment":`); err != nil {
			return err
		}
		if err := att.write(ctx, w); err != nil {
			return err
		}
		_, err := w.Write(tailPart)
		return err
	}
	// The displayed body has the attachment cut to a preview, known once it is sent.
	shown := func() string {
		var b bytes.Buffer
		b.Write(headPart)
		b.WriteString(`,"attachment":`)
		att.writeShown(&b)
		b.Write(tailPart)
		return mask.MaskJSON(b.Bytes())
	}
	reply, ex, err := s.Client.Execute(ctx, in.URL, body, shown, mask, webhookID)
	rec.Exchanges = append(rec.Exchanges, ex)
	rec.HTTPStatus = ex.Status
	if att != nil {
		rec.Pushed, rec.PushedRows = att.bytes, att.rows.Load()
	}
	if dl != nil {
		dl.Wait(5 * time.Second)
		st := dl.Stats()
		rec.Download = &st
	}
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.Success = &reply.Success
	rec.Message = reply.Message
	rec.ValidationErrors = reply.ValidationErrors
	rec.RefreshQuery = reply.RefreshQuery
	rec.ErrorInfo = reply.Error
	rec.StateChange = s.applyState(ei.User, in.Name, reply.State, "execute reply")
	rec.OK = reply.Success
	return rec
}

// maskParams returns params with the sensitive values masked (for the history).
func maskParams(params map[string]string, sensitive map[string]bool) map[string]string {
	if params == nil {
		return nil
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		if sensitive[k] || secretKeys[k] {
			v = MaskString(v)
		}
		out[k] = v
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// pickFormat checks or chooses the data format of a send.
func pickFormat(in *Integration, typ, want string) (sdk.Format, error) {
	offered := in.Formats(typ)
	if want != "" {
		f := sdk.Format(want)
		for _, p := range FormatsForType(typ) {
			if p == f {
				// A format the action does not list is still sent: the hub must cope.
				return f, nil
			}
		}
		return "", fmt.Errorf("the simulator cannot produce %q for a %s send (it can: %s)", want, typ, joinFormats(FormatsForType(typ)))
	}
	if len(offered) == 0 {
		listed := "none"
		if in.SupportedFormats != nil && len(*in.SupportedFormats) > 0 {
			listed = strings.Join(*in.SupportedFormats, ", ")
		}
		return "", fmt.Errorf("the action supports no %s format the simulator can produce (it lists: %s); choose a format explicitly", typ, listed)
	}
	return offered[0], nil
}

func joinFormats(fs []sdk.Format) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// dataSource returns what the send carries: a rendered dashboard, uploaded data, or
// generated rows, written in format.
func (s *Simulator) dataSource(ei ExecInput, format sdk.Format) (Source, error) {
	if ei.Type == "dashboard" {
		file, err := DashboardFile(format, ei.Title)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, w io.Writer, rows *atomic.Int64) error {
			_, err := w.Write(file)
			return err
		}, nil
	}
	if ei.Upload == nil && !ei.Gen.Shape.IsZero() {
		return rowsgenSource(ei.Gen, format)
	}
	ds, err := s.dataset(ei)
	if err != nil {
		return nil, err
	}
	meta := Meta{Title: ei.Title, RanAt: time.Now()}
	return func(ctx context.Context, w io.Writer, rows *atomic.Int64) error {
		return WriteData(ctx, w, format, ds, meta, rows)
	}, nil
}

func (s *Simulator) dataset(ei ExecInput) (*Dataset, error) {
	if ei.Upload == nil {
		return ei.Gen.Dataset(), nil
	}
	tags := map[string][]string{}
	for _, c := range ei.Gen.Columns {
		tags[c.Name] = append(tags[c.Name], c.Tags...)
	}
	path := ei.Upload.Path
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	if isJSONFile(ei.Upload.Name, path) {
		return JSONDataset(open, tags)
	}
	return CSVDataset(open, tags)
}

// isJSONFile decides between JSON and CSV from the name, else from the first byte.
func isJSONFile(name, path string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".csv", ".txt":
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 512)
	n, _ := f.Read(b)
	t := bytes.TrimLeft(b[:n], " \t\r\n\ufeff")
	return len(t) > 0 && (t[0] == '[' || t[0] == '{')
}

// planJSON is the scheduled_plan object, keys in Looker's order.
type planJSON struct {
	ScheduledPlanID       int64      `json:"scheduled_plan_id"`
	Title                 string     `json:"title"`
	Type                  string     `json:"type"`
	URL                   string     `json:"url"`
	QueryID               *int64     `json:"query_id"`
	Query                 *queryJSON `json:"query"`
	FiltersDifferFromLook bool       `json:"filters_differ_from_look"`
	DownloadURL           *string    `json:"download_url"`
}

// queryJSON is Looker's query object, keys in Looker's order.
type queryJSON struct {
	ID                   int64             `json:"id"`
	Model                string            `json:"model"`
	View                 string            `json:"view"`
	Fields               []string          `json:"fields"`
	Pivots               []string          `json:"pivots"`
	FillFields           []string          `json:"fill_fields"`
	Filters              map[string]string `json:"filters"`
	FilterExpression     *string           `json:"filter_expression"`
	Sorts                []string          `json:"sorts"`
	Limit                string            `json:"limit"`
	ColumnLimit          string            `json:"column_limit"`
	Total                *bool             `json:"total"`
	RowTotal             *string           `json:"row_total"`
	Subtotals            []string          `json:"subtotals"`
	VisConfig            map[string]any    `json:"vis_config"`
	FilterConfig         map[string]any    `json:"filter_config"`
	VisibleUISections    *string           `json:"visible_ui_sections"`
	Slug                 string            `json:"slug"`
	DynamicFields        *string           `json:"dynamic_fields"`
	ClientID             string            `json:"client_id"`
	ShareURL             string            `json:"share_url"`
	ExpandedShareURL     *string           `json:"expanded_share_url"`
	URL                  string            `json:"url"`
	QueryTimezone        string            `json:"query_timezone"`
	HasTableCalculations bool              `json:"has_table_calculations"`
}

// plan builds the scheduled_plan object Looker sends with a query or dashboard.
func (s *Simulator) plan(ei ExecInput) *planJSON {
	id := s.planSeq.Add(1)
	base := s.Advertise()
	p := &planJSON{ScheduledPlanID: id, Title: ei.Title}
	if ei.Type == "dashboard" {
		p.Type = "Dashboard"
		p.URL = base + "/dashboards/1"
		return p
	}
	var fields, pivots []string
	view := "users"
	cols := ei.Gen.Columns
	if ei.Upload == nil && len(cols) == 0 {
		cols = DefaultColumns()
	}
	for _, c := range cols {
		fields = append(fields, c.Name)
	}
	if len(cols) > 0 && cols[0].View() != "" {
		view = cols[0].View()
	}
	if ei.Gen.Pivot != "" && ei.Upload == nil {
		pivot := ei.Gen.Pivot
		if !ei.Gen.Shape.IsZero() {
			pivot = rowsgen.PivotField
		}
		pivots = []string{pivot}
		fields = append(fields, pivot)
	}
	qid := id * 7
	p.Type = "Look"
	p.URL = base + "/looks/1"
	p.QueryID = &qid
	p.Query = &queryJSON{
		ID: qid, Model: "simulated", View: view, Fields: fields, Pivots: pivots,
		Filters: map[string]string{}, Sorts: []string{}, Limit: "-1", ColumnLimit: "50",
		VisConfig: map[string]any{"type": "looker_grid", "hidden_fields": []string{}},
		Slug:      "sim" + itoa(qid), ClientID: randomHex(11), ShareURL: base + "/x/" + itoa(qid),
		URL:           "/explore/simulated/" + view + "?fields=" + strings.Join(fields, ","),
		QueryTimezone: "UTC",
	}
	return p
}

// attachmentPlan streams a pushed attachment into the request body and keeps a preview of
// its beginning for display.
type attachmentPlan struct {
	format  sdk.Format
	source  Source
	bytes   int64
	rows    atomic.Int64
	preview []byte
}

const previewBytes = 1024

func (a *attachmentPlan) write(ctx context.Context, w io.Writer) error {
	if a == nil {
		_, err := io.WriteString(w, "null")
		return err
	}
	mt := MimeType(a.format)
	if IsBinary(a.format) {
		mt += ";base64"
	}
	fmt.Fprintf(w, `{"mimetype":%s,"extension":%s,"data":`, appendJSONString(nil, mt), appendJSONString(nil, Extension(a.format)))
	pv := &previewWriter{max: previewBytes}
	cw := &countingWriter{}
	var err error
	switch {
	case a.format == sdk.FormatInlineJSON:
		// inline_json carries the rows as a JSON value, not as a string.
		err = a.source(ctx, io.MultiWriter(w, pv, cw), &a.rows)
	case IsBinary(a.format):
		io.WriteString(w, `"`)
		enc := base64.NewEncoder(base64.StdEncoding, w)
		err = a.source(ctx, io.MultiWriter(enc, cw), &a.rows)
		if err == nil {
			err = enc.Close()
		}
		io.WriteString(w, `"`)
		pv.Write([]byte(fmt.Sprintf("(%s file, base64)", a.format)))
	default:
		io.WriteString(w, `"`)
		err = a.source(ctx, io.MultiWriter(&jsonStringWriter{w: w}, pv, cw), &a.rows)
		io.WriteString(w, `"`)
	}
	a.bytes = cw.n
	a.preview = pv.buf
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "}")
	return err
}

// writeShown writes the attachment as displayed: its data cut to a preview.
func (a *attachmentPlan) writeShown(w *bytes.Buffer) {
	if a == nil {
		w.WriteString("null")
		return
	}
	mt := MimeType(a.format)
	if IsBinary(a.format) {
		mt += ";base64"
	}
	note := string(a.preview)
	if a.bytes > int64(len(a.preview)) || IsBinary(a.format) {
		note += fmt.Sprintf("… (%d bytes, %d rows; cut for display)", a.bytes, a.rows.Load())
	}
	fmt.Fprintf(w, `{"mimetype":%s,"extension":%s,"data":%s}`, appendJSONString(nil, mt),
		appendJSONString(nil, Extension(a.format)), appendJSONString(nil, note))
}

type previewWriter struct {
	max int
	buf []byte
}

func (p *previewWriter) Write(b []byte) (int, error) {
	if room := p.max - len(p.buf); room > 0 {
		if len(b) < room {
			room = len(b)
		}
		p.buf = append(p.buf, b[:room]...)
	}
	return len(b), nil
}
