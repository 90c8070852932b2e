package sdk

import "encoding/base64"

// ActionType is what Looker sends: a single cell, a query's results or a dashboard.
type ActionType string

// Action types known to Looker.
const (
	TypeCell      ActionType = "cell"
	TypeQuery     ActionType = "query"
	TypeDashboard ActionType = "dashboard"
)

// Format is a data format Looker can render for an action.
type Format string

// Formats known to Looker.
const (
	FormatTxt                  Format = "txt"
	FormatCSV                  Format = "csv"
	FormatInlineJSON           Format = "inline_json"
	FormatJSON                 Format = "json"
	FormatJSONLabel            Format = "json_label"
	FormatJSONDetail           Format = "json_detail"
	FormatJSONDetailLiteStream Format = "json_detail_lite_stream"
	FormatXLSX                 Format = "xlsx"
	FormatHTML                 Format = "html"
	FormatWysiwygPDF           Format = "wysiwyg_pdf"
	FormatAssembledPDF         Format = "assembled_pdf"
	FormatWysiwygPNG           Format = "wysiwyg_png"
	FormatCSVZip               Format = "csv_zip"
)

// Extension is the file extension the Node hub uses for a format: the JSON formats map to
// "json", every other format to its own name.
func (f Format) Extension() string {
	switch f {
	case FormatJSON, FormatJSONLabel, FormatInlineJSON, FormatJSONDetail:
		return "json"
	}
	return string(f)
}

// Formatting says whether Looker applies value formatting.
type Formatting string

// Formattings known to Looker.
const (
	Formatted   Formatting = "formatted"
	Unformatted Formatting = "unformatted"
)

// VisFormatting says whether Looker applies visualization options.
type VisFormatting string

// Visualization formattings known to Looker.
const (
	VisApply   VisFormatting = "apply"
	VisNoApply VisFormatting = "noapply"
)

// Param is a setting Looker collects from the admin (Admin > Actions) and sends in
// every request's data. Looker masks Sensitive params in its UI.
type Param struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Required    bool   `json:"required"`
	Sensitive   bool   `json:"sensitive"`
	Description string `json:"description,omitempty"`
	// PerUser marks a param whose value Looker takes per user.
	PerUser bool `json:"per_user,omitempty"`
	// UserAttributeName binds the param to a Looker user attribute.
	UserAttributeName string `json:"user_attribute_name,omitempty"`
	// DelegateOAuthURL is the path inside Looker where delegate OAuth starts.
	DelegateOAuthURL string `json:"delegate_oauth_url,omitempty"`
}

// RequiredField decides which query fields make the action available: a field with Tag,
// any of AnyTag, or all of AllTags.
type RequiredField struct {
	Tag     string   `json:"tag,omitempty"`
	AnyTag  []string `json:"any_tag,omitempty"`
	AllTags []string `json:"all_tags,omitempty"`
}

// DefaultMinimumLookerVersion is the Node hub's default minimum Looker version.
const DefaultMinimumLookerVersion = "5.5.0"

// Definition is everything Looker learns about an action from the action list.
type Definition struct {
	Name        string
	Label       string
	Description string
	// Icon is a data URI ("data:image/svg+xml;base64,..."), see IconDataURI; empty lists null.
	Icon                 string
	Params               []Param
	RequiredFields       []RequiredField
	SupportedActionTypes []ActionType
	// SupportedFormats: nil omits the key (Looker offers every format); an empty non-nil
	// slice lists [].
	SupportedFormats []Format
	// FormatsFor, when set, computes the formats from the Looker version ("" when unknown)
	// and takes precedence over SupportedFormats.
	FormatsFor                        func(lookerVersion string) []Format
	SupportedFormattings              []Formatting
	SupportedVisualizationFormattings []VisFormatting
	// Streaming actions get a one-time download URL instead of a pushed attachment.
	Streaming bool
	// MinimumLookerVersion hides the action from older Lookers; "" means 5.5.0.
	MinimumLookerVersion string
}

// FormatsForVersion returns the formats to advertise for a Looker version.
func (d *Definition) FormatsForVersion(lookerVersion string) []Format {
	if d.FormatsFor != nil {
		return d.FormatsFor(lookerVersion)
	}
	return d.SupportedFormats
}

// MinimumVersion returns MinimumLookerVersion or the default.
func (d *Definition) MinimumVersion() string {
	if d.MinimumLookerVersion == "" {
		return DefaultMinimumLookerVersion
	}
	return d.MinimumLookerVersion
}

// SupportsType reports whether t is one of the supported action types.
func (d *Definition) SupportsType(t ActionType) bool {
	for _, s := range d.SupportedActionTypes {
		if s == t {
			return true
		}
	}
	return false
}

// LiteStreamFormats is the FormatsFor used by the row actions of the Node hub:
// json_detail_lite_stream for Looker 6.2.0 and later, json_detail otherwise.
func LiteStreamFormats(lookerVersion string) []Format {
	if lookerVersion != "" && VersionAtLeast(lookerVersion, "6.2.0") {
		return []Format{FormatJSONDetailLiteStream}
	}
	return []Format{FormatJSONDetail}
}

// IconDataURI returns the data URI of an icon file for Definition.Icon: mime is
// "image/svg+xml" or "image/png".
func IconDataURI(mime string, data []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data)
}
