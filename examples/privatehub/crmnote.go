package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/actionhub/actionhub/sdk"
)

// CRMNote posts the clicked cell value as a note to an internal CRM.
type CRMNote struct{ env *sdk.Env }

func init() {
	sdk.Register(sdk.Module{Name: "crm_note", New: func(env *sdk.Env) (sdk.Action, error) {
		return &CRMNote{env: env}, nil
	}})
}

// Definition lists the action for cells tagged "account_id".
func (a *CRMNote) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name: "crm_note", Label: "Post to our CRM", Description: "Adds a note to the account in the CRM.",
		Params: []sdk.Param{
			{Name: "crm_url", Label: "CRM URL", Required: true},
			{Name: "crm_token", Label: "CRM token", Required: true, Sensitive: true},
		},
		RequiredFields:       []sdk.RequiredField{{Tag: "account_id"}},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeCell},
	}
}

// Form asks for the note text.
func (a *CRMNote) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{Name: "note", Label: "Note", Type: sdk.FieldTextarea, Required: true}}}, nil
}

// Execute posts {"account_id", "note"} to <crm_url>/notes.
func (a *CRMNote) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	note := req.Form("note")
	if note == "" {
		return &sdk.Response{ValidationErrors: map[string]string{"note": "Write a note."}}, nil
	}
	body, _ := json.Marshal(map[string]string{"account_id": req.Params["value"], "note": note})
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(req.Param("crm_url"), "/")+"/notes", strings.NewReader(string(body)))
	if err != nil {
		return nil, sdk.Errorf("CRM URL is not a URL.")
	}
	hreq.Header.Set("Authorization", "Bearer "+req.Param("crm_token"))
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := a.env.Client().Do(hreq)
	if err != nil {
		return sdk.Fail("The CRM did not answer."), nil
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return sdk.Fail(fmt.Sprintf("The CRM refused the note (HTTP %d).", resp.StatusCode)), nil
	}
	return sdk.OK("Note added."), nil
}
