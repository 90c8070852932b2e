package rows

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// errReader returns err after its prefix is consumed (io.MultiReader's tail).
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// startCSV hands the bytes the scanner already read (after any BOM), then the rest of the
// input, to encoding/csv.
func (rd *Reader) startCSV(s *scanner) {
	rd.mode = modeCSV
	rd.csvBOM = int64(s.r)
	prefix := bytes.Clone(s.buf[s.r:s.w])
	var src io.Reader
	switch s.rerr {
	case nil:
		src = io.MultiReader(bytes.NewReader(prefix), &rd.cnt)
	case io.EOF:
		src = bytes.NewReader(prefix)
	default:
		src = io.MultiReader(bytes.NewReader(prefix), errReader{s.rerr})
	}
	rd.csv = csv.NewReader(src)
	rd.csv.ReuseRecord = true
	rd.main, rd.cur = nil, nil
}

// readCSVHeader reads the header row into the fields.
func (rd *Reader) readCSVHeader() {
	rec, err := rd.csv.Read()
	if err == io.EOF {
		rd.fieldsKnown, rd.st = true, stDone
		return
	}
	if err != nil {
		rd.failCSV(err, rec)
		return
	}
	rd.csvHeader = make([]string, len(rec))
	copy(rd.csvHeader, rec)
	for _, h := range rd.csvHeader {
		rd.fields.Dimensions = append(rd.fields.Dimensions, Field{Name: h, Label: h})
	}
	rd.fieldsKnown = true
}

func (rd *Reader) nextCSV() bool {
	if !rd.fieldsKnown {
		rd.readCSVHeader()
	}
	if rd.err != nil || rd.st == stDone {
		return false
	}
	rec, err := rd.csv.Read()
	if err == io.EOF {
		rd.st = stDone
		return false
	}
	if err != nil {
		rd.failCSV(err, rec)
		return false
	}
	row := &rd.row
	row.begin(rd.count + 1)
	for i, f := range rec {
		a := len(row.arena)
		row.arena = append(row.arena, f...)
		row.setName(i, rd.csvHeader[i])
		row.cells = append(row.cells, Cell{Value: row.value(String, a)})
	}
	row.finish()
	return true
}

// failCSV turns an encoding/csv error into a SyntaxError (with row and line) or, for a
// failure of the underlying reader, a ReadError.
func (rd *Reader) failCSV(err error, rec []string) {
	var row int64
	if rd.fieldsKnown {
		row = rd.count + 1
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = fmt.Sprintf("the row has %d columns, the header has %d", len(rec), len(rd.csvHeader))
		}
		rd.err = &SyntaxError{Format: "csv", Offset: rd.csvBOM + rd.csv.InputOffset(), Row: row, Line: pe.Line, Msg: msg}
	} else {
		rd.err = &ReadError{Offset: rd.cnt.n, Row: row, Err: err}
	}
	rd.st = stDone
}
