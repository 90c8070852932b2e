package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/actionhub/actionhub/internal/uuid"
	"github.com/actionhub/actionhub/sdk/rows"
)

// Row rejections (shared values: the report counts identical reasons).
var (
	errNoGroupID = errors.New("no segment_group_id value: Segment needs a groupId for a group call")
	errNoUser    = errors.New("no user_id or segment_anonymous_id value: Segment needs a userId or an anonymousId for a group call")
)

// slot is one trait (or property) of the message: a JSON key and the field it comes from.
type slot struct {
	key   []byte // `"name":`
	field string
	// optional fields (filters, parameters) may have no cell in a row; a missing cell of a
	// selected field (dimension, measure, table calculation) rejects the row.
	optional bool
	// email is the email trait: a missing or pivoted cell leaves it out.
	email bool
}

// mapper turns rows into Segment messages. It is used by the row loop's goroutine only.
type mapper struct {
	call                    Call
	userID, anonID, groupID string // field names, "" when untagged
	slots                   []slot
	head                    []byte // `{"type":"identify","messageId":"`
	propsKey                []byte // `,"traits":{` or `,"properties":{`
	event                   []byte // `,"event":"…"` (track)
	tail                    []byte // `,"context":{…},"timestamp":"…"}`
	contextJSON             []byte
	ranAtKnown              bool
	ranAt                   func() (time.Time, bool)
	ids                     *uuid.Source
	missing                 map[string]error
}

// allowedTags are the identifying tags of every Segment action, in Node's message order.
var allowedTags = []string{TagEmail, TagUserID, TagAnonymousID}

// newMapper prepares the mapping of one execute. msg is set when the query cannot be sent
// (no identifying field), with the Node hub's text.
func newMapper(call Call, f *rows.Fields, hidden map[string]bool, event, version string, now time.Time, rd *rows.Reader) (m *mapper, msg string) {
	m = &mapper{call: call, ids: uuid.NewSource(), ranAt: rd.RanAt, missing: map[string]error{}}
	idNames := map[string]bool{}
	var emailField string
	for _, fl := range f.All() {
		for _, t := range fl.Tags {
			if t == TagEmail || t == TagUserID || t == TagAnonymousID || t == TagGroupID {
				idNames[fl.Name] = true
				break
			}
		}
	}
	if len(idNames) == 0 {
		return nil, "Query requires a field tagged " + strings.Join(allowedTags, " or ") + "."
	}
	if fl := f.FirstTagged(TagUserID); fl != nil {
		m.userID = fl.Name
	}
	if fl := f.FirstTagged(TagAnonymousID); fl != nil {
		m.anonID = fl.Name
	}
	if fl := f.FirstTagged(TagGroupID); fl != nil {
		m.groupID = fl.Name
	}
	if fl := f.FirstTagged(TagEmail); fl != nil {
		emailField = fl.Name
	}
	if call == Group && m.groupID == "" {
		return nil, "Query requires a field tagged " + TagGroupID + "."
	}

	// Traits in Node's order (dimensions, measures, filters, parameters, table
	// calculations), with JavaScript's object semantics: a key keeps its first position
	// and its last value.
	add := func(s slot) {
		for i := range m.slots {
			if string(m.slots[i].key) == string(s.key) {
				m.slots[i] = s
				return
			}
		}
		m.slots = append(m.slots, s)
	}
	groups := []struct {
		list     []rows.Field
		optional bool
	}{{f.Dimensions, false}, {f.Measures, false}, {f.Filters, true}, {f.Parameters, true}, {f.TableCalculations, false}}
	for _, g := range groups {
		for _, fl := range g.list {
			if !idNames[fl.Name] && !hidden[fl.Name] {
				add(slot{key: jsonKey(fl.Name), field: fl.Name, optional: g.optional})
			}
			if emailField != "" && fl.Name == emailField {
				add(slot{key: jsonKey("email"), field: fl.Name, optional: true, email: true})
			}
		}
	}

	m.head = []byte(`{"type":"` + string(call) + `","messageId":"`)
	if call == Track {
		m.propsKey = []byte(`,"properties":{`)
		m.event = append([]byte(`,"event":`), mustJSON(event)...)
	} else {
		m.propsKey = []byte(`,"traits":{`)
	}
	m.contextJSON = mustJSON(map[string]any{"app": map[string]string{"name": "looker/actions", "version": version}})
	m.setTimestamp(now)
	return m, ""
}

func (m *mapper) setTimestamp(t time.Time) {
	m.tail = append(m.tail[:0], `,"context":`...)
	m.tail = append(m.tail, m.contextJSON...)
	m.tail = append(m.tail, `,"timestamp":"`...)
	m.tail = t.UTC().AppendFormat(m.tail, timeLayout)
	m.tail = append(m.tail, `"}`...)
}

// mapRow appends the row's message to dst.
func (m *mapper) mapRow(dst []byte, r *rows.Row) ([]byte, error) {
	if !m.ranAtKnown {
		if t, ok := m.ranAt(); ok {
			m.setTimestamp(t)
			m.ranAtKnown = true
		}
	}
	dst = append(dst, m.head...)
	dst = m.ids.Append(dst)
	dst = append(dst, '"')

	user := m.idValue(r, m.userID)
	anon := m.idValue(r, m.anonID)
	var group rows.Value
	if m.call == Group {
		group = m.idValue(r, m.groupID)
		if group.IsNull() {
			return dst, errNoGroupID
		}
		if user.IsNull() && anon.IsNull() {
			return dst, errNoUser
		}
	}
	dst = append(dst, `,"userId":`...)
	dst = appendID(dst, user)
	dst = append(dst, `,"anonymousId":`...)
	switch {
	case !anon.IsNull():
		dst = appendID(dst, anon)
	case m.call != Group && user.IsNull():
		// Identify and track calls need a userId or an anonymousId: Segment's own
		// libraries make a random anonymousId for rows that have neither.
		dst = append(dst, '"')
		dst = m.ids.Append(dst)
		dst = append(dst, '"')
	default:
		dst = append(dst, "null"...)
	}
	if m.call == Group {
		dst = append(dst, `,"groupId":`...)
		dst = appendID(dst, group)
	}

	dst = append(dst, m.propsKey...)
	first := true
	for i := range m.slots {
		s := &m.slots[i]
		c, ok := r.Cell(s.field)
		if !ok {
			if s.optional {
				continue
			}
			return dst, m.missingErr(s.field)
		}
		if s.email && c.Pivoted != nil {
			continue // JSON.stringify drops the undefined value of a pivoted email cell
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, s.key...)
		dst = appendCell(dst, c)
	}
	dst = append(dst, '}')
	dst = append(dst, m.event...)
	dst = append(dst, m.tail...)
	if len(dst) > MaxMessageBytes {
		return dst, fmt.Errorf("the message is %d bytes, over Segment's limit of %d bytes per message", len(dst), MaxMessageBytes)
	}
	return dst, nil
}

// missingErr is Node's error for a row without a selected field, made once per field.
func (m *mapper) missingErr(field string) error {
	err, ok := m.missing[field]
	if !ok {
		err = fmt.Errorf("Field id %s does not exist for JsonDetail.Row", field)
		m.missing[field] = err
	}
	return err
}

// idValue is the identifier in the named field: null when untagged, absent, pivoted or an
// empty string (Segment treats "" as no identifier).
func (m *mapper) idValue(r *rows.Row, field string) rows.Value {
	if field == "" {
		return rows.Value{}
	}
	c, ok := r.Cell(field)
	if !ok || c.Pivoted != nil {
		return rows.Value{}
	}
	v := c.Value
	if v.Kind() == rows.String && len(v.Bytes()) == 0 {
		return rows.Value{}
	}
	return v
}

// appendID appends an identifier as a JSON string (Segment's spec; analytics-node turned
// numbers into their JSON text the same way), or null.
func appendID(dst []byte, v rows.Value) []byte {
	switch v.Kind() {
	case rows.Null:
		return append(dst, "null"...)
	case rows.String:
		return v.AppendJSON(dst)
	default: // number, boolean, object or array: their JSON text as a string
		return rows.AppendQuoted(dst, v.Bytes())
	}
}

// appendCell appends a trait value: the cell's value, or for a pivoted measure the list
// [{<pivot key>: value}, ...] in the stream's pivot order.
func appendCell(dst []byte, c rows.Cell) []byte {
	if c.Pivoted == nil {
		return c.Value.AppendJSON(dst)
	}
	dst = append(dst, '[')
	for i, p := range c.Pivoted {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = rows.AppendQuoted(dst, []byte(p.Key))
		dst = append(dst, ':')
		dst = p.Value.AppendJSON(dst)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// jsonKey returns `"name":`.
func jsonKey(name string) []byte {
	return append(rows.AppendQuoted(nil, []byte(name)), ':')
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings and maps of strings always encode
	}
	return b
}
