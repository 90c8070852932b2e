package mparticle

import (
	"errors"
	"strings"

	"github.com/actionhub/actionhub/internal/uuid"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows"
)

// errNoIdentityTag is the Node action's error for a query without an identity field.
const errNoIdentityTag = "Each row must specify at least 1 identity tag."

var errNoIdentity = errors.New("no value in the identity fields (mp_customer_id, mp_email, …): mParticle needs at least one user identity")

// member is one JSON member filled from a field: `"key":` and the field's value.
type member struct {
	key   []byte
	field string
}

// members is an ordered set of members with JavaScript's object semantics: a key keeps
// its first position and its last field.
type members []member

func (ms *members) set(key, field string) {
	k := append(rows.AppendQuoted(nil, []byte(key)), ':')
	for i := range *ms {
		if string((*ms)[i].key) == string(k) {
			(*ms)[i].field = field
			return
		}
	}
	*ms = append(*ms, member{key: k, field: field})
}

// mapper turns rows into mParticle batches. It is used by the row loop's goroutine only.
type mapper struct {
	event       bool
	identities  members
	userAttrs   members
	deviceInfo  members
	data        members // event data members (custom_event_type, event_id, ...)
	customAttrs members
	eventName   string // field of the event name ("" → DefaultEventName)
	typeTagged  bool   // a field is tagged mp_custom_event_type
	tail        []byte // `,"schema_version":2,"environment":"…","source_request_id":"`
	ids         *uuid.Source
}

// tagOf is the Node action's getTag: the first tag starting with "mp_", or "" (also when
// the first tag is empty).
func tagOf(f *rows.Field) string {
	if len(f.Tags) == 0 || f.Tags[0] == "" {
		return ""
	}
	for _, t := range f.Tags {
		if strings.HasPrefix(t, "mp_") {
			return t
		}
	}
	return ""
}

// newMapper maps the fields (measures, dimensions, then table calculations, as the Node
// action read them). It returns the Node action's error when no field is an identity.
func newMapper(f *rows.Fields, event bool, environment string) (*mapper, error) {
	m := &mapper{event: event, ids: uuid.NewSource()}
	for _, list := range [][]rows.Field{f.Measures, f.Dimensions, f.TableCalculations} {
		for i := range list {
			fl := &list[i]
			tag := tagOf(fl)
			if id, ok := identities[tag]; ok {
				m.identities.set(id, fl.Name)
				continue
			}
			if !event {
				if tag != "mp_event_name" {
					m.userAttrs.set("looker_"+fl.Name, fl.Name)
				}
				continue
			}
			switch tag {
			case "mp_user_attribute":
				m.userAttrs.set("looker_"+fl.Name, fl.Name)
			case "mp_event_name":
				m.eventName = fl.Name
			case "mp_device_info":
				name := fl.Name[strings.IndexByte(fl.Name, '.')+1:]
				if deviceInfoFields[name] {
					m.deviceInfo.set(name, fl.Name)
				}
			case "mp_custom_attribute":
				m.customAttrs.set("looker_"+fl.Name, fl.Name)
			default:
				if key, ok := dataAttributes[tag]; ok {
					m.data.set(key, fl.Name)
					m.typeTagged = m.typeTagged || key == "custom_event_type"
				}
			}
		}
	}
	if len(m.identities) == 0 {
		return nil, sdk.Errorf(errNoIdentityTag)
	}
	m.tail = append([]byte(`,"schema_version":2,"environment":`), rows.AppendQuoted(nil, []byte(environment))...)
	m.tail = append(m.tail, `,"source_request_id":"`...)
	return m, nil
}

// mapRow appends the row's batch to dst.
func (m *mapper) mapRow(dst []byte, r *rows.Row) ([]byte, error) {
	dst = append(dst, `{"events":[`...)
	if m.event {
		dst = m.appendEvent(dst, r)
	}
	dst = append(dst, `],"user_attributes":`...)
	dst = appendMembers(dst, r, m.userAttrs)
	dst = append(dst, `,"user_identities":{`...)
	n := 0
	for _, mb := range m.identities {
		c, ok := r.Cell(mb.field)
		if !ok || c.Pivoted != nil || c.Value.IsNull() || (c.Value.Kind() == rows.String && len(c.Value.Bytes()) == 0) {
			continue // mParticle refuses null identities; a row keeps the ones it has
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, mb.key...)
		if c.Value.Kind() == rows.String {
			dst = c.Value.AppendJSON(dst)
		} else {
			dst = rows.AppendQuoted(dst, c.Value.Bytes()) // identities are strings
		}
	}
	if n == 0 {
		return dst, errNoIdentity
	}
	dst = append(dst, `},"device_info":`...)
	dst = appendMembers(dst, r, m.deviceInfo)
	dst = append(dst, m.tail...)
	dst = m.ids.Append(dst)
	return append(dst, `"}`...), nil
}

// appendEvent appends the custom event: its data has custom_attributes, event_name, the
// tagged data members and custom_event_type, in the Node action's order.
func (m *mapper) appendEvent(dst []byte, r *rows.Row) []byte {
	dst = append(dst, `{"data":{"custom_attributes":`...)
	dst = appendMembers(dst, r, m.customAttrs)
	dst = append(dst, `,"event_name":`...)
	if v, ok := m.value(r, m.eventName); ok && !v.IsNull() {
		dst = v.AppendJSON(dst)
	} else {
		dst = append(dst, `"`+DefaultEventName+`"`...)
	}
	for _, mb := range m.data {
		v, ok := m.value(r, mb.field)
		isType := string(mb.key) == `"custom_event_type":`
		if !ok && !isType {
			continue
		}
		dst = append(dst, ',')
		dst = append(dst, mb.key...)
		if isType && (!ok || v.IsNull()) {
			dst = append(dst, `"`+DefaultCustomEvent+`"`...)
			continue
		}
		dst = v.AppendJSON(dst)
	}
	if !m.typeTagged {
		dst = append(dst, `,"custom_event_type":"`+DefaultCustomEvent+`"`...)
	}
	return append(dst, `},"event_type":"`+EventType+`"}`...)
}

// value is the plain value of a field's cell: false when the field is untagged, absent or
// pivoted (an undefined value in the Node action, left out of the JSON).
func (m *mapper) value(r *rows.Row, field string) (rows.Value, bool) {
	if field == "" {
		return rows.Value{}, false
	}
	c, ok := r.Cell(field)
	if !ok || c.Pivoted != nil {
		return rows.Value{}, false
	}
	return c.Value, true
}

// appendMembers appends {"key":value,...}, leaving out absent and pivoted cells.
func appendMembers(dst []byte, r *rows.Row, ms members) []byte {
	dst = append(dst, '{')
	first := true
	for _, mb := range ms {
		c, ok := r.Cell(mb.field)
		if !ok || c.Pivoted != nil {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, mb.key...)
		dst = c.Value.AppendJSON(dst)
	}
	return append(dst, '}')
}
