package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/actionhub/actionhub/sdk"
)

// ActionList is the hub's answer to POST /.
type ActionList struct {
	Integrations []*Integration `json:"integrations"`
	Label        string         `json:"label"`
}

// Find returns the integration named name, or nil.
func (l *ActionList) Find(name string) *Integration {
	if l == nil {
		return nil
	}
	for _, in := range l.Integrations {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// Integration is one entry of the action list, as the hub sends it. Optional keys that the
// hub may omit are pointers, so "absent" and "empty" stay distinct as they are for Looker.
type Integration struct {
	Description          string              `json:"description"`
	FormURL              *string             `json:"form_url"`
	Label                string              `json:"label"`
	Name                 string              `json:"name"`
	Params               []Param             `json:"params"`
	RequiredFields       []sdk.RequiredField `json:"required_fields"`
	SupportedActionTypes []string            `json:"supported_action_types"`
	UsesOAuth            bool                `json:"uses_oauth"`
	DelegateOAuth        bool                `json:"delegate_oauth"`
	// SupportedFormats is nil when the hub omits the key: Looker then offers every format.
	SupportedFormats                  *[]string `json:"supported_formats,omitempty"`
	SupportedFormattings              []string  `json:"supported_formattings,omitempty"`
	SupportedVisualizationFormattings []string  `json:"supported_visualization_formattings,omitempty"`
	SupportedDownloadSettings         []string  `json:"supported_download_settings"`
	IconDataURI                       *string   `json:"icon_data_uri"`
	URL                               string    `json:"url"`
	TokenURL                          string    `json:"token_url"`
}

// HasForm reports whether the action has a form URL.
func (in *Integration) HasForm() bool { return in.FormURL != nil && *in.FormURL != "" }

// Streams reports whether the action asks for a download URL rather than pushed data.
func (in *Integration) Streams() bool {
	for _, s := range in.SupportedDownloadSettings {
		if s == "url" {
			return true
		}
	}
	return false
}

// OAuthV2 reports whether the action uses Looker's token route.
func (in *Integration) OAuthV2() bool { return in.TokenURL != "" }

// OAuthKind names the action's OAuth flavour for display: "", "v1", "v2" or "delegate".
func (in *Integration) OAuthKind() string {
	switch {
	case in.DelegateOAuth:
		return "delegate"
	case in.OAuthV2():
		return "v2"
	case in.UsesOAuth:
		return "v1"
	}
	return ""
}

// SupportsType reports whether t is listed in supported_action_types.
func (in *Integration) SupportsType(t string) bool {
	for _, s := range in.SupportedActionTypes {
		if s == t {
			return true
		}
	}
	return false
}

// Formats returns the formats the simulator can offer the action for a request type: the
// action's supported_formats that the simulator can produce for that type, or, when the
// action omits the key (all formats), every such format.
func (in *Integration) Formats(typ string) []sdk.Format {
	producible := FormatsForType(typ)
	if in.SupportedFormats == nil {
		return producible
	}
	var out []sdk.Format
	for _, f := range *in.SupportedFormats {
		for _, p := range producible {
			if sdk.Format(f) == p {
				out = append(out, p)
			}
		}
	}
	return out
}

// SensitiveParams returns the names of the params Looker would mask.
func (in *Integration) SensitiveParams() map[string]bool {
	out := map[string]bool{}
	for _, p := range in.Params {
		if p.IsSensitive() {
			out[p.Name] = true
		}
	}
	return out
}

// Param is an admin param of an action. Sensitive is a pointer because Looker's default,
// when the hub omits the key, is sensitive.
type Param struct {
	Name              string `json:"name"`
	Label             string `json:"label"`
	Required          bool   `json:"required"`
	Sensitive         *bool  `json:"sensitive,omitempty"`
	Description       string `json:"description,omitempty"`
	PerUser           bool   `json:"per_user,omitempty"`
	UserAttributeName string `json:"user_attribute_name,omitempty"`
	DelegateOAuthURL  string `json:"delegate_oauth_url,omitempty"`
}

// IsSensitive applies Looker's default (true) when the key is absent.
func (p Param) IsSensitive() bool { return p.Sensitive == nil || *p.Sensitive }

// IsPerUser reports whether the value comes from the user rather than the admin setting.
func (p Param) IsPerUser() bool { return p.PerUser || p.UserAttributeName != "" }

// Field is a form field as the hub sends it. Decoding is tolerant: a default or value that
// is not a string is kept as its JSON text, and booleans may arrive as strings.
type Field struct {
	Name        string   `json:"name"`
	Label       string   `json:"label,omitempty"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type,omitempty"`
	Default     string   `json:"default,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Interactive bool     `json:"interactive,omitempty"`
	Options     []Option `json:"options,omitempty"`
	Value       string   `json:"value,omitempty"`
	OAuthURL    string   `json:"oauth_url,omitempty"`
}

// Option is one choice of a select field.
type Option struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

// UnmarshalJSON decodes a field leniently.
func (f *Field) UnmarshalJSON(b []byte) error {
	var w struct {
		Name        json.RawMessage `json:"name"`
		Label       json.RawMessage `json:"label"`
		Description json.RawMessage `json:"description"`
		Type        json.RawMessage `json:"type"`
		Default     json.RawMessage `json:"default"`
		Required    json.RawMessage `json:"required"`
		Interactive json.RawMessage `json:"interactive"`
		Options     []struct {
			Name  json.RawMessage `json:"name"`
			Label json.RawMessage `json:"label"`
		} `json:"options"`
		Value    json.RawMessage `json:"value"`
		OAuthURL json.RawMessage `json:"oauth_url"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = Field{Name: rawString(w.Name), Label: rawString(w.Label), Description: rawString(w.Description),
		Type: rawString(w.Type), Default: rawString(w.Default), Required: rawBool(w.Required),
		Interactive: rawBool(w.Interactive), Value: rawString(w.Value), OAuthURL: rawString(w.OAuthURL)}
	for _, o := range w.Options {
		f.Options = append(f.Options, Option{Name: rawString(o.Name), Label: rawString(o.Label)})
	}
	return nil
}

// Kind is the field's type with Looker's default ("string" when absent).
func (f Field) Kind() string {
	if f.Type == "" {
		return "string"
	}
	return f.Type
}

// IsInput reports whether the field contributes a value to form_params.
func (f Field) IsInput() bool {
	switch f.Kind() {
	case "message", "oauth_link", "oauth_link_google":
		return false
	}
	return true
}

func rawString(r json.RawMessage) string {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}

func rawBool(r json.RawMessage) bool {
	s := strings.ToLower(rawString(r))
	b, _ := strconv.ParseBool(s)
	return b
}

// State is the user-state object of a form or execute reply: {"data": "..."} or {}.
type State struct {
	Data *string `json:"data,omitempty"`
}

// FormReply is the hub's answer to a form request: fields, or an error text.
type FormReply struct {
	Fields []Field `json:"fields"`
	State  *State  `json:"state,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// decodeFormReply accepts the object form and the bare array Looker's docs also allow.
func decodeFormReply(b []byte) (*FormReply, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var fields []Field
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, fmt.Errorf("form reply is not a list of fields: %w", err)
		}
		return &FormReply{Fields: fields}, nil
	}
	var w struct {
		Fields []Field         `json:"fields"`
		State  *State          `json:"state"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("form reply is not a JSON object: %w", err)
	}
	return &FormReply{Fields: w.Fields, State: w.State, Error: rawString(w.Error)}, nil
}

// ErrorInfo is the structured error object of an execute reply.
type ErrorInfo struct {
	HTTPCode         int    `json:"http_code"`
	StatusCode       string `json:"status_code"`
	Message          string `json:"message"`
	Location         string `json:"location"`
	DocumentationURL string `json:"documentation_url"`
}

// LookerReply is the "looker" envelope of an execute reply.
type LookerReply struct {
	Message          string            `json:"message,omitempty"`
	RefreshQuery     bool              `json:"refresh_query"`
	Success          bool              `json:"success"`
	ValidationErrors map[string]string `json:"validation_errors"`
	State            *State            `json:"state,omitempty"`
	Error            *ErrorInfo        `json:"error,omitempty"`
	WebhookID        string            `json:"webhookId,omitempty"`
}

// hubError is the body of the hub's 403/404/500 answers.
type hubError struct {
	Success *bool  `json:"success"`
	Error   string `json:"error"`
}
