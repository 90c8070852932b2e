package rows

// Field is one LookML field description from json_detail's "fields" section. Only the
// attributes actions use are kept; the others (sortable, value_format, align, ...) are ignored.
type Field struct {
	Name       string   `json:"name"`
	Label      string   `json:"label"`
	LabelShort string   `json:"label_short"`
	View       string   `json:"view"`
	ViewLabel  string   `json:"view_label"`
	Type       string   `json:"type"`
	Category   string   `json:"category"`
	Tags       []string `json:"tags"`
	Hidden     bool     `json:"hidden"`
	Measure    bool     `json:"measure"`
	IsNumeric  bool     `json:"is_numeric"`
}

// HasTag reports whether the field carries tag (exact, case-sensitive match, as the Node
// actions compare required_fields tags).
func (f *Field) HasTag(tag string) bool {
	for _, t := range f.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Fields is json_detail's "fields" section. For CSV the header names become Dimensions
// (Name = Label = header); for JSON arrays the keys of the first object do.
type Fields struct {
	Dimensions        []Field `json:"dimensions"`
	Measures          []Field `json:"measures"`
	Filters           []Field `json:"filters"`
	Parameters        []Field `json:"parameters"`
	TableCalculations []Field `json:"table_calculations"`
	Pivots            []Field `json:"pivots"`
}

// All returns dimensions, measures, filters, parameters and table calculations, in that
// order (the Node hub's allFields). Pivots are not included. The slice is new on each call.
func (f *Fields) All() []Field {
	if f == nil {
		return nil
	}
	n := len(f.Dimensions) + len(f.Measures) + len(f.Filters) + len(f.Parameters) + len(f.TableCalculations)
	all := make([]Field, 0, n)
	all = append(all, f.Dimensions...)
	all = append(all, f.Measures...)
	all = append(all, f.Filters...)
	all = append(all, f.Parameters...)
	all = append(all, f.TableCalculations...)
	return all
}

// FirstTagged returns the first field, in All order, that carries any of tags, or nil.
// The pointer refers into f.
func (f *Fields) FirstTagged(tags ...string) *Field {
	if f == nil {
		return nil
	}
	for _, list := range [...][]Field{f.Dimensions, f.Measures, f.Filters, f.Parameters, f.TableCalculations} {
		for i := range list {
			for _, t := range tags {
				if list[i].HasTag(t) {
					return &list[i]
				}
			}
		}
	}
	return nil
}

// Pivot is one entry of json_detail's top-level "pivots": the key used in pivoted measure
// cells, whether it is a total column, and the pivot fields' values (numbers decoded as
// json.Number so identifiers keep every digit).
type Pivot struct {
	Key     string         `json:"key"`
	IsTotal bool           `json:"is_total"`
	Data    map[string]any `json:"data"`
}
