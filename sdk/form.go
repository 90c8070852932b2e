package sdk

// FieldType is the kind of a form field.
type FieldType string

// Field types of the Action API.
const (
	FieldString          FieldType = "string"
	FieldTextarea        FieldType = "textarea"
	FieldSelect          FieldType = "select"
	FieldMessage         FieldType = "message"
	FieldOAuthLink       FieldType = "oauth_link"
	FieldOAuthLinkGoogle FieldType = "oauth_link_google"
)

// Form is an action's form. Error, when set, replaces the fields (Looker shows it).
type Form struct {
	Fields []Field
	State  *State
	Error  string
}

// Field is one form field, serialised as the action builds it (absent keys stay absent).
type Field struct {
	Name        string    `json:"name"`
	Label       string    `json:"label,omitempty"`
	Description string    `json:"description,omitempty"`
	Type        FieldType `json:"type,omitempty"`
	Default     string    `json:"default,omitempty"`
	Required    bool      `json:"required,omitempty"`
	Interactive bool      `json:"interactive,omitempty"`
	Options     []Option  `json:"options,omitempty"`
	Value       string    `json:"value,omitempty"`
	OAuthURL    string    `json:"oauth_url,omitempty"`
}

// Option is one choice of a select field.
type Option struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

// State replaces the user's Looker-held state. Data "reset" clears it.
type State struct {
	Data *string `json:"data,omitempty"`
}

// NewState returns a State holding data.
func NewState(data string) *State { return &State{Data: &data} }

// ResetState is the state that makes Looker forget the user's tokens.
func ResetState() *State { return NewState("reset") }
