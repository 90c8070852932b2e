package googlefake

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Spreadsheet is a stored spreadsheet.
type Spreadsheet struct {
	ID     string
	Sheets []*Sheet
}

// Sheet is one tab: its grid size and the values of its cells.
type Sheet struct {
	ID     int64
	Title  string
	Rows   int
	Cols   int
	Frozen int
	cells  map[[2]int]string
}

func (sh *Sheet) set(r, c int, v string) {
	if sh.cells == nil {
		sh.cells = map[[2]int]string{}
	}
	if v == "" {
		delete(sh.cells, [2]int{r, c})
		return
	}
	sh.cells[[2]int{r, c}] = v
}

func (sh *Sheet) clone() *Sheet {
	c := *sh
	c.cells = make(map[[2]int]string, len(sh.cells))
	for k, v := range sh.cells {
		c.cells[k] = v
	}
	return &c
}

// Values returns the sheet's values as rows, trimmed of trailing empty rows and cells.
func (sh *Sheet) Values() [][]string {
	maxR, maxC := -1, -1
	for k := range sh.cells {
		maxR, maxC = max(maxR, k[0]), max(maxC, k[1])
	}
	out := make([][]string, maxR+1)
	for r := range out {
		row := make([]string, maxC+1)
		last := -1
		for c := range row {
			row[c] = sh.cells[[2]int{r, c}]
			if row[c] != "" {
				last = c
			}
		}
		out[r] = row[:last+1]
	}
	return out
}

// AddSpreadsheet stores a spreadsheet file named name in parent ("" for My Drive's root)
// whose first tab holds rows in a grid of gridRows × gridCols; extra tabs may follow.
func (s *Server) AddSpreadsheet(name, parent string, rows [][]string, gridRows, gridCols int, extra ...*Sheet) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := randID("sheet")
	sh := &Sheet{ID: 0, Title: "Sheet1", Rows: gridRows, Cols: gridCols}
	for i, row := range rows {
		for j, v := range row {
			sh.set(i, j, v)
		}
	}
	s.sheets[id] = &Spreadsheet{ID: id, Sheets: append([]*Sheet{sh}, extra...)}
	s.addFile(&File{ID: id, Name: name, MimeType: SpreadsheetMimeType, Parents: []string{s.parentOrRoot(parent)}, DriveID: s.driveOf(parent)})
	return id
}

// Spreadsheet returns a copy of a stored spreadsheet.
func (s *Server) Spreadsheet(id string) (*Spreadsheet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.sheets[id]
	if !ok {
		return nil, false
	}
	out := &Spreadsheet{ID: id}
	for _, sh := range sp.Sheets {
		out.Sheets = append(out.Sheets, sh.clone())
	}
	return out, true
}

func (s *Server) spreadsheets(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v4/spreadsheets/")
	id, op, _ := strings.Cut(rest, ":")
	kind := "sheets.get"
	if op == "batchUpdate" {
		kind = "sheets.batchUpdate"
	}
	body, _ := io.ReadAll(r.Body)
	call := Call{Kind: kind, Method: r.Method, URL: r.URL.String(), Auth: r.Header.Get("Authorization"), Size: len(body)}
	if len(body) > 0 {
		_ = json.Unmarshal(body, &call.Body)
	}
	fail := func(e *gErr) {
		call.Status = e.code
		s.record(call)
		e.write(w)
	}
	if st := s.fault(kind); st != 0 {
		fail(&gErr{st, "The service is currently unavailable.", "backendError"})
		return
	}
	info, aerr := s.authorize(r)
	if aerr != nil {
		fail(aerr)
		return
	}
	if !strings.Contains(info.Scope, "auth/spreadsheets") && !strings.Contains(info.Scope, "auth/drive") {
		fail(&gErr{403, "Request had insufficient authentication scopes.", "insufficientPermissions"})
		return
	}
	s.mu.Lock()
	sp, ok := s.sheets[id]
	s.mu.Unlock()
	if !ok {
		fail(&gErr{404, "Requested entity was not found.", "notFound"})
		return
	}
	switch {
	case kind == "sheets.get" && r.Method == http.MethodGet:
		s.mu.Lock()
		var sheets []map[string]any
		for i, sh := range sp.Sheets {
			gp := map[string]any{"rowCount": sh.Rows, "columnCount": sh.Cols}
			if sh.Frozen > 0 {
				gp["frozenRowCount"] = sh.Frozen
			}
			sheets = append(sheets, map[string]any{"properties": map[string]any{"sheetId": sh.ID, "title": sh.Title,
				"index": i, "sheetType": "GRID", "gridProperties": gp}})
		}
		s.mu.Unlock()
		call.Status = 200
		s.record(call)
		writeJSON(w, 200, map[string]any{"spreadsheetId": id, "sheets": sheets})
	case kind == "sheets.batchUpdate" && r.Method == http.MethodPost:
		var req struct {
			Requests []map[string]json.RawMessage `json:"requests"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			fail(&gErr{400, "Invalid JSON payload received.", "parseError"})
			return
		}
		s.mu.Lock()
		// batchUpdate is atomic: work on copies and keep them only if every request applies.
		work := make([]*Sheet, len(sp.Sheets))
		for i, sh := range sp.Sheets {
			work[i] = sh.clone()
		}
		var err *gErr
		for i, rq := range req.Requests {
			if err = applyRequest(work, i, rq); err != nil {
				break
			}
		}
		if err == nil {
			sp.Sheets = work
		}
		s.mu.Unlock()
		if err != nil {
			fail(err)
			return
		}
		if st := s.lateFault(kind); st != 0 {
			fail(&gErr{st, "The service is currently unavailable.", "backendError"})
			return
		}
		replies := make([]map[string]any, len(req.Requests))
		for i := range replies {
			replies[i] = map[string]any{}
		}
		call.Status = 200
		s.record(call)
		writeJSON(w, 200, map[string]any{"spreadsheetId": id, "replies": replies})
	default:
		fail(&gErr{404, "Not Found", "notFound"})
	}
}

func findSheet(sheets []*Sheet, id int64) *Sheet {
	for _, sh := range sheets {
		if sh.ID == id {
			return sh
		}
	}
	return nil
}

func cells(sheets []*Sheet) int {
	n := 0
	for _, sh := range sheets {
		n += sh.Rows * sh.Cols
	}
	return n
}

func applyRequest(sheets []*Sheet, i int, rq map[string]json.RawMessage) *gErr {
	bad := func(kind, msg string) *gErr {
		return &gErr{400, fmt.Sprintf("Invalid requests[%d].%s: %s", i, kind, msg), "badRequest"}
	}
	if len(rq) != 1 {
		return bad("", "exactly one kind of request expected")
	}
	for kind, raw := range rq {
		switch kind {
		case "updateSheetProperties":
			var u struct {
				Properties struct {
					SheetID        int64 `json:"sheetId"`
					GridProperties struct {
						RowCount    int `json:"rowCount"`
						ColumnCount int `json:"columnCount"`
					} `json:"gridProperties"`
				} `json:"properties"`
				Fields string `json:"fields"`
			}
			if json.Unmarshal(raw, &u) != nil || u.Fields == "" {
				return bad(kind, "fields is required")
			}
			sh := findSheet(sheets, u.Properties.SheetID)
			if sh == nil {
				return bad(kind, "No grid with id")
			}
			gp := u.Properties.GridProperties
			rows, cols := sh.Rows, sh.Cols
			if strings.Contains(u.Fields, "rowCount") {
				rows = gp.RowCount
			}
			if strings.Contains(u.Fields, "columnCount") {
				cols = gp.ColumnCount
			}
			if rows < 1 || cols < 1 {
				return bad(kind, "the grid must keep at least one row and column")
			}
			if rows <= sh.Frozen {
				return bad(kind, "You can't delete all the rows that are frozen")
			}
			oldR, oldC := sh.Rows, sh.Cols
			sh.Rows, sh.Cols = rows, cols
			if cells(sheets) > CellLimit && rows*cols > oldR*oldC {
				return bad(kind, fmt.Sprintf("This action would increase the number of cells in the workbook above the limit of %d cells.", CellLimit))
			}
			for k := range sh.cells {
				if k[0] >= rows || k[1] >= cols {
					delete(sh.cells, k)
				}
			}
		case "updateCells":
			var u struct {
				Range struct {
					SheetID int64 `json:"sheetId"`
				} `json:"range"`
				Fields string `json:"fields"`
			}
			if json.Unmarshal(raw, &u) != nil || u.Fields != "userEnteredValue" {
				return bad(kind, "only clearing userEnteredValue is supported by the fake")
			}
			sh := findSheet(sheets, u.Range.SheetID)
			if sh == nil {
				return bad(kind, "No grid with id")
			}
			sh.cells = map[[2]int]string{}
		case "pasteData":
			var u struct {
				Coordinate struct {
					SheetID     int64 `json:"sheetId"`
					RowIndex    int   `json:"rowIndex"`
					ColumnIndex int   `json:"columnIndex"`
				} `json:"coordinate"`
				Data      string `json:"data"`
				Delimiter string `json:"delimiter"`
				Type      string `json:"type"`
			}
			if json.Unmarshal(raw, &u) != nil || u.Delimiter != "," || u.Type != "PASTE_NORMAL" {
				return bad(kind, "expected a comma-delimited PASTE_NORMAL paste")
			}
			sh := findSheet(sheets, u.Coordinate.SheetID)
			if sh == nil {
				return bad(kind, "No grid with id")
			}
			cr := csv.NewReader(strings.NewReader(u.Data))
			cr.FieldsPerRecord = -1
			rows, err := cr.ReadAll()
			if err != nil {
				return bad(kind, "the data is not valid delimited text")
			}
			for dr, row := range rows {
				r := u.Coordinate.RowIndex + dr
				for dc, v := range row {
					c := u.Coordinate.ColumnIndex + dc
					if r >= sh.Rows || c >= sh.Cols {
						return bad(kind, fmt.Sprintf("Range ('%s'!R%dC%d) exceeds grid limits. Max rows: %d, max columns: %d", sh.Title, r+1, c+1, sh.Rows, sh.Cols))
					}
					sh.set(r, c, v)
				}
			}
		default:
			return bad(kind, "unsupported by the fake")
		}
	}
	return nil
}
