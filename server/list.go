package server

import (
	"net/http"

	"github.com/actionhub/actionhub/sdk"
)

// integration is one entry of the action list, keys in the Node hub's order.
type integration struct {
	Description                       string               `json:"description"`
	FormURL                           *string              `json:"form_url"`
	Label                             string               `json:"label"`
	Name                              string               `json:"name"`
	Params                            []sdk.Param          `json:"params"`
	RequiredFields                    []sdk.RequiredField  `json:"required_fields"`
	SupportedActionTypes              []sdk.ActionType     `json:"supported_action_types"`
	UsesOAuth                         bool                 `json:"uses_oauth"`
	DelegateOAuth                     bool                 `json:"delegate_oauth"`
	SupportedFormats                  *[]sdk.Format        `json:"supported_formats,omitempty"`
	SupportedFormattings              *[]sdk.Formatting    `json:"supported_formattings,omitempty"`
	SupportedVisualizationFormattings *[]sdk.VisFormatting `json:"supported_visualization_formattings,omitempty"`
	SupportedDownloadSettings         []string             `json:"supported_download_settings"`
	IconDataURI                       *string              `json:"icon_data_uri"`
	URL                               string               `json:"url"`
	TokenURL                          string               `json:"token_url"`
}

type actionList struct {
	Integrations []integration `json:"integrations"`
	Label        string        `json:"label"`
}

// describe builds the list entry of a for a Looker version.
func (s *Server) describe(a sdk.Action, lookerVersion string) integration {
	d := a.Definition()
	it := integration{
		Description:          d.Description,
		Label:                d.Label,
		Name:                 d.Name,
		Params:               nonNil(d.Params),
		RequiredFields:       nonNil(d.RequiredFields),
		SupportedActionTypes: nonNil(d.SupportedActionTypes),
		UsesOAuth:            sdk.UsesOAuth(a),
		URL:                  s.env.ActionURL(d.Name, "/execute"),
	}
	if _, ok := a.(sdk.FormAction); ok {
		u := s.env.ActionURL(d.Name, "/form")
		it.FormURL = &u
	} else if _, ok := a.(sdk.DelegateOAuthAction); ok {
		u := s.env.ActionURL(d.Name, "/form")
		it.FormURL = &u
	}
	if _, ok := a.(sdk.DelegateOAuthAction); ok {
		it.DelegateOAuth = true
	}
	if f := d.FormatsForVersion(lookerVersion); f != nil {
		it.SupportedFormats = &f
	}
	if d.SupportedFormattings != nil {
		it.SupportedFormattings = &d.SupportedFormattings
	}
	if d.SupportedVisualizationFormattings != nil {
		it.SupportedVisualizationFormattings = &d.SupportedVisualizationFormattings
	}
	if d.Streaming {
		it.SupportedDownloadSettings = []string{"url"}
	} else {
		it.SupportedDownloadSettings = []string{"push"}
	}
	if d.Icon != "" {
		icon := d.Icon
		it.IconDataURI = &icon
	}
	if _, ok := a.(sdk.OAuthV2Action); ok {
		it.TokenURL = s.env.ActionURL(d.Name, "/oauth_token")
	}
	return it
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	req, err := s.decode(w, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	out := actionList{Integrations: []integration{}, Label: s.cfg.Label}
	for _, name := range s.order {
		a := s.actions[name]
		if visible(a.Definition(), req.LookerVersion) {
			out.Integrations = append(out.Integrations, s.describe(a, req.LookerVersion))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) one(w http.ResponseWriter, r *http.Request) {
	req, err := s.decode(w, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	name := r.PathValue("id")
	infoOf(r).action = name
	a, err := s.find(name, req.LookerVersion)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.describe(a, req.LookerVersion))
}
