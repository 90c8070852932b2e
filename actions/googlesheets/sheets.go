// Package googlesheets is the "google_sheets" action: it turns query CSV into a new Google
// Sheet (Drive converts the uploaded CSV), or overwrites the first tab of an existing sheet
// of the same name in the chosen folder. Login, token state and the destination form are
// google_drive's (package googledrive's Base).
//
// Compared with the Node action: the overwrite streams the CSV in row batches bounded by
// count (GOOGLE_SHEETS_WRITE_BATCH) and bytes, sent one after the other (no concurrent
// flushes), each batch one atomic batchUpdate retried with bounded back-off on 429 and
// 5xx; the first batch carries the clear, so a download cut before it changes nothing; the
// 10-million-cell cap is checked before each batch (counting the other tabs) and stops the
// run; the grid is resized in the same batch and shrunk to the data at the end; the file
// name is quoted in the Drive query (an apostrophe no longer breaks it); the domain
// allow-list is enforced; refreshed tokens go back to Looker.
package googlesheets

import (
	"context"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/actionhub/actionhub/actions/googledrive"
	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "google_sheets"

// LogPrefix tags the action's error texts, as in Node.
const LogPrefix = "[GOOGLE_SHEETS]"

// SpreadsheetMimeType is the Drive type of a Google Sheet; uploading CSV with it converts.
const SpreadsheetMimeType = "application/vnd.google-apps.spreadsheet"

// Environment variables.
const (
	EnvClientID     = "GOOGLE_SHEET_CLIENT_ID"
	EnvClientSecret = "GOOGLE_SHEET_CLIENT_SECRET"
	EnvWriteBatch   = "GOOGLE_SHEETS_WRITE_BATCH"
	EnvBaseDelay    = "GOOGLE_SHEETS_BASE_DELAY"
)

// Sheets limits and the write policy.
const (
	// CellLimit is the most cells a spreadsheet (all tabs) may hold.
	// https://support.google.com/drive/answer/37603
	CellLimit = 10_000_000
	// DefaultWriteBatch is the most rows (pasteData requests) per batchUpdate, Node's
	// MAX_REQUEST_BATCH; GOOGLE_SHEETS_WRITE_BATCH overrides it.
	DefaultWriteBatch = 4096
	// MaxPayloadBytes bounds a batchUpdate body: "a 2-MB maximum payload is recommended".
	// https://developers.google.com/sheets/api/limits
	MaxPayloadBytes = 2 << 20
	// RowHeadroom is how many rows beyond the need a resize adds (Node's MAX_ROW_BUFFER_INCREASE).
	RowHeadroom = 6000
	// MaxRetries is the retries of one batch on 429/409/5xx (Node's MAX_RETRY_COUNT).
	MaxRetries = 5
	// DefaultBaseDelay is the back-off base in seconds: retry n waits base^n seconds.
	DefaultBaseDelay = 3.0
	// MaxRetryDelay caps one back-off wait (Sheets quotas refill every minute).
	// https://developers.google.com/sheets/api/limits#exponential
	MaxRetryDelay = 64 * time.Second
	// requestOverhead approximates the JSON of one pasteData request around its data.
	requestOverhead = 160
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() {
	sdk.Register(sdk.Module{Name: Name, New: New})
}

// New returns the action when GOOGLE_SHEET_CLIENT_ID/SECRET are set (Node's gate). The
// OAuth client is GOOGLE_DRIVE_CLIENT_ID/SECRET when set, as in Node, so that refresh
// tokens stored by the Node hub keep working; otherwise the GOOGLE_SHEET_ pair.
func New(env *sdk.Env) (sdk.Action, error) {
	vals, err := env.Require(EnvClientID, EnvClientSecret)
	if err != nil {
		return nil, err
	}
	id, secret := env.Get(googledrive.EnvClientID), env.Get(googledrive.EnvClientSecret)
	if id == "" || secret == "" {
		id, secret = vals[0], vals[1]
	}
	a := &Action{
		Base:       googledrive.NewBase(env, Name, LogPrefix, id, secret, []string{googledrive.ScopeSpreadsheets, googledrive.ScopeDrive, googledrive.ScopeEmail}),
		SheetsURL:  env.VendorURL("google_sheets", "https://sheets.googleapis.com"),
		WriteBatch: DefaultWriteBatch,
	}
	if v := env.Get(EnvWriteBatch); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			a.WriteBatch = n
		} else {
			env.Log().Warn(LogPrefix+" ignoring an invalid "+EnvWriteBatch, "value", v)
		}
	}
	base := DefaultBaseDelay
	if v := env.Get(EnvBaseDelay); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
			base = f
		} else {
			env.Log().Warn(LogPrefix+" ignoring an invalid "+EnvBaseDelay, "value", v)
		}
	}
	a.SheetsRetry = googledrive.Retry{
		Max:      MaxRetries,
		Delay:    func(n int) time.Duration { return time.Duration(math.Pow(base, float64(n)) * float64(time.Second)) },
		MaxDelay: MaxRetryDelay,
		On: func(code int) bool {
			switch code {
			case http.StatusTooManyRequests, http.StatusConflict, http.StatusInternalServerError,
				http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				return true
			}
			return false
		},
	}
	return a, nil
}

// Action is the google_sheets action.
type Action struct {
	*googledrive.Base
	// SheetsURL is the Sheets API base (ACTION_HUB_VENDOR_URL_GOOGLE_SHEETS).
	SheetsURL string
	// WriteBatch is the most rows per batchUpdate.
	WriteBatch int
	// SheetsRetry is the retry policy of Sheets calls.
	SheetsRetry googledrive.Retry
}

// Definition describes the action as the Node hub lists it.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                 Name,
		Label:                "Google Sheets",
		Description:          "Create a new Google Sheet.",
		Icon:                 icon,
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery},
		SupportedFormats:     []sdk.Format{sdk.FormatCSV},
		Streaming:            true,
		MinimumLookerVersion: "7.3.0",
		Params:               []sdk.Param{googledrive.DomainAllowlistParam},
		RequiredFields:       []sdk.RequiredField{},
	}
}

// Form is google_drive's form plus the overwrite choice.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	form, sess, err := a.DestinationForm(ctx, req, "Google Drive")
	if err != nil || sess == nil || form.Error != "" {
		return form, err
	}
	form.Fields = append(form.Fields, sdk.Field{
		Description: "Should this action attempt to overwrite an existing file",
		Label:       "Overwrite Existing Files",
		Name:        "overwrite",
		Options:     []sdk.Option{{Name: "yes", Label: "Yes"}, {Name: "no", Label: "No"}},
		Default:     "yes",
		Required:    true,
		Type:        sdk.FieldSelect,
	})
	return form, nil
}

// Execute overwrites the same-named sheet when asked and one exists, else creates one.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	sess, err := a.Session(req)
	if err != nil {
		return googledrive.NoStateResponse(req), nil
	}
	if err := sess.CheckDomain(ctx, req.Param(googledrive.DomainAllowlistParam.Name)); err != nil {
		return sess.WithState(a.Failure(err, "Google Sheets")), nil
	}
	name := req.Form("filename")
	if name == "" {
		name = req.SuggestedFilename()
	}
	if name == "" {
		return a.FilenameError("Error creating file name"), nil
	}
	if !strings.HasSuffix(name, ".csv") {
		name += ".csv"
	}
	parent, shared := googledrive.Destination(req)
	if req.FormParams["overwrite"] == "yes" {
		id, err := a.findSheet(ctx, sess, name, parent, shared)
		if err != nil {
			return sess.WithState(a.Failure(err, "Google Sheets")), nil
		}
		if id != "" {
			resp, err := a.overwrite(ctx, sess, req, id, name)
			if e, ok := sdk.AsError(err); ok {
				return nil, e
			}
			return sess.WithState(resp), nil
		}
	}
	up := &googledrive.Upload{Meta: googledrive.File{Name: name, MimeType: SpreadsheetMimeType}, MediaType: "text/csv",
		SharedDrive: shared != "", ChunkSize: a.ChunkSize}
	if parent != "" {
		up.Meta.Parents = []string{parent}
	}
	_, n, err := a.Upload(ctx, sess, req, up)
	if e, ok := sdk.AsError(err); ok {
		return nil, e
	}
	if err != nil {
		return sess.WithState(a.Failure(err, "Google Sheets")), nil
	}
	return sess.WithState(sdk.OK(fmt.Sprintf("Created the Google Sheet %q from %d bytes of CSV.", name, n))), nil
}

// findSheet looks for a spreadsheet named name in the destination folder (My Drive's root
// or the shared drive's when none was picked); "" when there is none.
func (a *Action) findSheet(ctx context.Context, sess *googledrive.Session, name, parent, shared string) (string, error) {
	if parent == "" {
		parent = "root"
		if shared != "" {
			parent = shared
		}
	}
	q := "name = " + googledrive.QuoteQuery(name) + " and " + googledrive.QuoteQuery(parent) + " in parents and mimeType = " +
		googledrive.QuoteQuery(SpreadsheetMimeType) + " and trashed = false"
	files, err := sess.Drive().ListFiles(ctx, googledrive.ListQuery{Q: q, Fields: "files(id,name)", DriveID: shared, PageSize: 10, Max: 1})
	if err != nil || len(files) == 0 {
		return "", err
	}
	return files[0].ID, nil
}

// sheetProps is a tab's properties from spreadsheets.get.
type sheetProps struct {
	SheetID        int64  `json:"sheetId"`
	Title          string `json:"title"`
	GridProperties struct {
		RowCount       int `json:"rowCount"`
		ColumnCount    int `json:"columnCount"`
		FrozenRowCount int `json:"frozenRowCount"`
	} `json:"gridProperties"`
}

// grid is the target tab and what the rest of the spreadsheet uses of the cell cap.
type grid struct {
	sheetID     int64
	rows, cols  int
	frozen      int
	otherCells  int
	spreadsheet string
}

// maxRows is how many rows the tab may have with cols columns under the cell cap.
func (g *grid) maxRows(cols int) int {
	return max(CellLimit-g.otherCells, 0) / max(cols, 1)
}

func (a *Action) getGrid(ctx context.Context, sess *googledrive.Session, id string) (*grid, error) {
	var out struct {
		Sheets []struct {
			Properties sheetProps `json:"properties"`
		} `json:"sheets"`
	}
	u := a.SheetsURL + "/v4/spreadsheets/" + url.PathEscape(id) + "?fields=" + url.QueryEscape("sheets.properties(sheetId,title,gridProperties)")
	if _, err := googledrive.DoJSON(ctx, sess.HTTP(), http.MethodGet, u, nil, &out, a.SheetsRetry); err != nil {
		return nil, err
	}
	if len(out.Sheets) == 0 {
		return nil, errors.New("the spreadsheet has no sheet to overwrite")
	}
	p := out.Sheets[0].Properties
	g := &grid{sheetID: p.SheetID, rows: p.GridProperties.RowCount, cols: p.GridProperties.ColumnCount,
		frozen: p.GridProperties.FrozenRowCount, spreadsheet: id}
	for _, s := range out.Sheets[1:] {
		g.otherCells += s.Properties.GridProperties.RowCount * s.Properties.GridProperties.ColumnCount
	}
	return g, nil
}

func (a *Action) batchUpdate(ctx context.Context, sess *googledrive.Session, id string, requests []map[string]any) (int, error) {
	u := a.SheetsURL + "/v4/spreadsheets/" + url.PathEscape(id) + ":batchUpdate"
	return googledrive.DoJSON(ctx, sess.HTTP(), http.MethodPost, u, map[string]any{"requests": requests}, nil, a.SheetsRetry)
}

// quoteRow re-quotes a parsed CSV row for pasteData as the Node action did: every field
// trimmed, wrapped in double quotes, inner quotes doubled.
func quoteRow(rec []string) string {
	var b strings.Builder
	for i, f := range rec {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(f), `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}

// bomSkipper drops a leading UTF-8 byte-order mark.
type bomSkipper struct {
	r    io.Reader
	done bool
	head []byte
}

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.done {
		b.done = true
		buf := make([]byte, 3)
		n, err := io.ReadFull(b.r, buf)
		buf = buf[:n]
		if n == 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF {
			buf = nil
		}
		b.head = buf
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return 0, err
		}
	}
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	return b.r.Read(p)
}

// limitError is the cell cap stopping the run.
type limitError struct{ rows int }

func (e *limitError) Error() string {
	return fmt.Sprintf("Cannot send more than %d rows without exceeding limit of 10 million cells in Google Sheets. "+
		"Try removing empty columns (of this or other tabs) or sending fewer rows.", e.rows)
}

// overwrite streams the CSV into the first tab of spreadsheet id.
func (a *Action) overwrite(ctx context.Context, sess *googledrive.Session, req *sdk.Request, id, name string) (*sdk.Response, error) {
	log := a.Env.Log().With("webhookId", req.WebhookID)
	log.Info(LogPrefix + " Beginning sendOverwriteData")
	g, err := a.getGrid(ctx, sess, id)
	if err != nil {
		return a.Failure(err, "Google Sheets"), nil
	}
	rc, err := req.Open(ctx)
	if err != nil {
		if _, ok := sdk.AsError(err); ok {
			return nil, err
		}
		return a.Failure(&googledrive.SourceError{Err: err}, "Google Sheets"), nil
	}
	defer rc.Close()

	cr := csv.NewReader(&bomSkipper{r: rc})
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true

	rep := sdk.NewReport()
	w := &sheetWriter{a: a, sess: sess, g: g, rep: rep, batch: max(a.WriteBatch, 1)}
	var runErr error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var de *sdk.DownloadError
			if errors.As(err, &de) {
				runErr = &googledrive.SourceError{Err: de}
			} else {
				runErr = &googledrive.SourceError{Err: fmt.Errorf("the CSV could not be read: %w", err)}
			}
			break
		}
		rep.AddRead(1)
		w.add(rec)
		if w.full() {
			if runErr = w.flush(ctx, false); runErr != nil {
				break
			}
		}
	}
	if runErr == nil {
		runErr = w.flush(ctx, true)
	}
	if runErr != nil {
		return a.overwriteFailure(runErr, rep, w.written, name), nil
	}
	w.shrink(ctx, log)
	log.Info(fmt.Sprintf("%s Google Sheets Streamed %d rows including headers", LogPrefix, w.written))
	return &sdk.Response{Success: true, Message: fmt.Sprintf("Overwrote the Google Sheet %q with %d rows.", name, w.written), Report: rep}, nil
}

func (a *Action) overwriteFailure(err error, rep *sdk.Report, written int, name string) *sdk.Response {
	rep.Fatal(err.Error())
	var se *googledrive.SourceError
	var le *limitError
	var resp *sdk.Response
	switch {
	case errors.As(err, &se) && written == 0:
		resp = sdk.Fail(fmt.Sprintf("Upload aborted, nothing was changed in the Google Sheet %q: %s", name, se.Error()))
	case errors.As(err, &se):
		resp = sdk.Fail(fmt.Sprintf("Upload aborted after writing %d rows: %s. The Google Sheet %q now holds only those rows.", written, se.Error(), name))
	case errors.As(err, &le):
		resp = sdk.Fail(le.Error())
		if written > 0 {
			resp.Message += fmt.Sprintf(" The first %d rows were written.", written)
		}
	default:
		resp = a.Failure(err, "Google Sheets")
		if written > 0 && resp.State == nil {
			resp.Message += fmt.Sprintf(" (after writing %d rows of the Google Sheet %q)", written, name)
		}
	}
	resp.Report = rep
	return resp
}

// sheetWriter batches rows into pasteData requests and sends them one batchUpdate at a time.
type sheetWriter struct {
	a       *Action
	sess    *googledrive.Session
	g       *grid
	rep     *sdk.Report
	batch   int
	rows    []string
	bytes   int
	width   int
	written int
	cleared bool
}

func (w *sheetWriter) add(rec []string) {
	line := quoteRow(rec)
	w.rows = append(w.rows, line)
	w.bytes += len(line) + requestOverhead
	w.width = max(w.width, len(rec))
}

func (w *sheetWriter) full() bool { return len(w.rows) >= w.batch || w.bytes >= MaxPayloadBytes }

// flush sends the pending rows as one atomic batchUpdate: a resize when the grid is too
// small, the clear of the tab's values on the first batch, then one pasteData per row.
func (w *sheetWriter) flush(ctx context.Context, final bool) error {
	if len(w.rows) == 0 && w.cleared {
		return nil
	}
	g := w.g
	needRows, needCols := w.written+len(w.rows), max(w.width, 1)
	limit := g.maxRows(max(needCols, g.cols))
	if needRows > limit {
		return &limitError{rows: limit}
	}
	var reqs []map[string]any
	newRows, newCols := g.rows, g.cols
	if needRows > g.rows || needCols > g.cols {
		newCols = max(needCols, g.cols)
		newRows = max(g.rows, needRows)
		if !final {
			newRows = max(g.rows, min(needRows+RowHeadroom, g.maxRows(newCols)))
		}
		reqs = append(reqs, map[string]any{"updateSheetProperties": map[string]any{
			"properties": map[string]any{"sheetId": g.sheetID, "gridProperties": map[string]any{"rowCount": newRows, "columnCount": newCols}},
			"fields":     "gridProperties(rowCount,columnCount)",
		}})
	}
	first := !w.cleared
	if first {
		// Clears values only: formats and the protected areas' formulas stay, as in Node.
		reqs = append(reqs, map[string]any{"updateCells": map[string]any{
			"range": map[string]any{"sheetId": g.sheetID}, "fields": "userEnteredValue"}})
	}
	for i, line := range w.rows {
		reqs = append(reqs, map[string]any{"pasteData": map[string]any{
			"coordinate": map[string]any{"sheetId": g.sheetID, "columnIndex": 0, "rowIndex": w.written + i},
			"data":       line, "delimiter": ",", "type": "PASTE_NORMAL",
		}})
	}
	retries, err := w.a.batchUpdate(ctx, w.sess, g.spreadsheet, reqs)
	w.rep.AddBatch(retries)
	if err != nil {
		return err
	}
	g.rows, g.cols = newRows, newCols
	w.cleared = true
	w.rep.AddDelivered(int64(len(w.rows)))
	w.written += len(w.rows)
	w.rows, w.bytes = w.rows[:0], 0
	return nil
}

// shrink drops the rows below the data (their values are already cleared) so that the
// grid does not grow run after run towards the cell cap. Failure is only logged.
func (w *sheetWriter) shrink(ctx context.Context, log interface{ Warn(string, ...any) }) {
	keep := max(w.written, w.g.frozen+1, 1)
	if w.g.rows <= keep {
		return
	}
	_, err := w.a.batchUpdate(ctx, w.sess, w.g.spreadsheet, []map[string]any{{"updateSheetProperties": map[string]any{
		"properties": map[string]any{"sheetId": w.g.sheetID, "gridProperties": map[string]any{"rowCount": keep}},
		"fields":     "gridProperties(rowCount)",
	}}})
	if err != nil {
		log.Warn(LogPrefix+" could not remove the empty rows below the data", "error", err.Error())
		return
	}
	w.g.rows = keep
}
