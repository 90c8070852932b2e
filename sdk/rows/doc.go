// Package rows turns the bytes of a Looker query result into fields, then rows, one row at a
// time and in constant memory: the row iterator of the hub's data path (request → source →
// rows → the action's mapping → batcher → vendor).
//
// It reads json_detail and json_detail_lite_stream (the streaming format Looker ≥ 6.2 sends
// to actions that ask for it), the JSON array formats (json, json_label, inline_json) and
// csv, with a hand-written incremental scanner over a fixed 64 KiB buffer: unknown top-level
// keys (sql, applied_filters, explore, ...) and cell extras (rendered, html, links) are
// skipped without being materialised, rows are never accumulated, and a steady stream of
// rows allocates nothing. It follows the Node hub's streamJsonDetail semantics: "fields",
// "data" and "ran_at" may come in any order; rows that precede the fields are spooled to a
// temporary file and replayed once the fields are known.
//
// Typical use in an action:
//
//	rc, err := req.Open(ctx)
//	if err != nil { ... }
//	defer rc.Close()
//	rd := rows.NewReader(rc, req.FormParams["format"]) // "" sniffs
//	defer rd.Close()
//	fields, err := rd.Fields()
//	if err != nil { ... }
//	email := fields.FirstTagged("email")
//	for rd.Next() {
//		row := rd.Row()
//		v := row.Value(email.Name) // valid until the next Next
//		...
//	}
//	if err := rd.Err(); err != nil { ... } // *SyntaxError (offset, row) or *ReadError
//
// Cells: a json_detail cell {"value": x, ...} gives Cell.Value; a pivoted measure (an object
// keyed by pivot key, each value a cell) gives Cell.Pivoted, one entry per pivot key in
// stream order. The JSON array formats' flat scalars are accepted as values, and cells there
// too. Values keep their JSON type (Kind) and text; AppendJSON re-encodes one for a vendor
// payload without a round trip through interface{}.
//
// Package rowsgen generates test data of any size on the fly.
package rows
