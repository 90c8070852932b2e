package rows

// indexThreshold is the number of cells above which Row.Cell uses a map instead of a scan.
const indexThreshold = 12

// Row is one data row: its cells in stream order, addressable by field name. The Reader
// reuses it between calls to Next; values are valid until the next Next.
type Row struct {
	num   int64
	names []string
	plain []bool // names[i] has no character JSON escapes, so its raw form can be matched
	cells []Cell
	index map[string]int // name → position of its last occurrence, for wide rows
	fresh bool           // index matches names

	// Values are slices of arena and Pivoted slices of pv, each taken right after its bytes
	// were appended: when an append moves the array, earlier slices keep the old one, whose
	// bytes are never written again, so no fix-up is needed.
	pv      []PivotValue
	arena   []byte
	changed bool // the field names differ from the previous row's
}

// Number returns the row's 1-based position in the stream.
func (r *Row) Number() int64 { return r.num }

// Len returns the number of cells.
func (r *Row) Len() int { return len(r.cells) }

// Name returns the field name of cell i (0 <= i < Len()).
func (r *Row) Name(i int) string { return r.names[i] }

// At returns cell i (0 <= i < Len()), in stream order.
func (r *Row) At(i int) Cell { return r.cells[i] }

// Cell returns the cell of the named field. When a row repeats a name the last one wins,
// as with JSON.parse.
func (r *Row) Cell(field string) (Cell, bool) {
	if len(r.names) <= indexThreshold {
		for i := len(r.names) - 1; i >= 0; i-- {
			if r.names[i] == field {
				return r.cells[i], true
			}
		}
		return Cell{}, false
	}
	if !r.fresh {
		if r.index == nil {
			r.index = make(map[string]int, len(r.names))
		} else {
			clear(r.index)
		}
		for i, n := range r.names {
			r.index[n] = i
		}
		r.fresh = true
	}
	i, ok := r.index[field]
	if !ok {
		return Cell{}, false
	}
	return r.cells[i], true
}

// Value returns the value of the named field's cell: null when the field is absent or
// pivoted.
func (r *Row) Value(field string) Value {
	c, _ := r.Cell(field)
	return c.Value
}

// begin prepares the row for parsing row number num.
func (r *Row) begin(num int64) {
	r.num = num
	r.cells = r.cells[:0]
	r.pv = r.pv[:0]
	r.arena = r.arena[:0]
	r.changed = false
}

// finish completes a parsed row.
func (r *Row) finish() {
	if len(r.cells) != len(r.names) {
		r.names = r.names[:len(r.cells)]
		r.plain = r.plain[:len(r.cells)]
		r.changed = true
	}
	if r.changed {
		r.fresh = false
	}
}

// value returns the arena bytes from a on as a value of kind k.
func (r *Row) value(k Kind, a int) Value {
	if k == Null {
		return Value{}
	}
	return Value{b: r.arena[a:len(r.arena):len(r.arena)], k: k}
}

// setName records the name of cell i (the cell about to be added), reusing the previous
// row's string when it is the same so that steady-state rows allocate nothing.
func (r *Row) setName(i int, name string) {
	if i < len(r.names) {
		if r.names[i] != name {
			r.names[i] = name
			r.plain[i] = isPlain(name)
			r.changed = true
		}
		return
	}
	r.names = append(r.names, name)
	r.plain = append(r.plain, isPlain(name))
	r.changed = true
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
