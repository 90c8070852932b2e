package actiontest

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/sdk"
)

// CheckOptions configure Conformance.
type CheckOptions struct {
	// Env the action needs to be registered (vendor variables, URL overrides to fakes).
	Env map[string]string
	// Params are valid admin params (data) for form and execute calls.
	Params map[string]string
	// Data, when set, is a small valid result in Format that a successful execute can
	// deliver; Conformance then sends it both pushed (attachment) and through a download URL
	// (streaming actions) and expects success both ways.
	Data []byte
	// Format of Data (for the attachment's mimetype and extension); default json_detail.
	Format sdk.Format
	// FormParams for the execute calls with Data.
	FormParams map[string]string
	// Type of the execute calls; default the first supported type.
	Type sdk.ActionType
	// Expect, when set, checks each successful execute with Data further (message, vendor fake).
	Expect func(t *testing.T, res ExecuteResult)
}

var (
	nameRE      = regexp.MustCompile(`^[a-z0-9_]+$`)
	knownTypes  = map[sdk.ActionType]bool{sdk.TypeCell: true, sdk.TypeQuery: true, sdk.TypeDashboard: true}
	knownFields = map[sdk.FieldType]bool{"": true, sdk.FieldString: true, sdk.FieldTextarea: true, sdk.FieldSelect: true,
		sdk.FieldMessage: true, sdk.FieldOAuthLink: true, sdk.FieldOAuthLinkGoogle: true}
	knownFormats = map[sdk.Format]bool{}
)

func init() {
	for _, f := range []sdk.Format{sdk.FormatTxt, sdk.FormatCSV, sdk.FormatInlineJSON, sdk.FormatJSON, sdk.FormatJSONLabel,
		sdk.FormatJSONDetail, sdk.FormatJSONDetailLiteStream, sdk.FormatXLSX, sdk.FormatHTML, sdk.FormatWysiwygPDF,
		sdk.FormatAssembledPDF, sdk.FormatWysiwygPNG, sdk.FormatCSVZip} {
		knownFormats[f] = true
	}
}

// Conformance runs the Action API checks every action must pass, through the real server:
// a valid definition and list entry, a well-formed form, the Node hub's errors for a
// missing required param and a wrong type, streaming actions refusing requests without
// data and (with opt.Data) accepting both a pushed attachment and a download URL, and no
// sensitive param value echoed in any reply.
func Conformance(t *testing.T, mod sdk.Module, opt CheckOptions) {
	t.Helper()
	h := New(t, Options{Env: opt.Env, Actions: []sdk.Module{mod}})
	a, err := mod.New(h.Server.Env())
	if err != nil {
		t.Fatalf("%s: not registered with the given Env: %v", mod.Name, err)
	}
	d := a.Definition()
	t.Run("definition", func(t *testing.T) { checkDefinition(t, d) })
	t.Run("listed", func(t *testing.T) {
		r := h.Post(t, "/", map[string]any{})
		if r.Status != 200 || !strings.Contains(string(r.Body), `"name":"`+d.Name+`"`) {
			t.Fatalf("not in the action list: %d %s", r.Status, r.Body)
		}
	})
	typ := opt.Type
	if typ == "" && len(d.SupportedActionTypes) > 0 {
		typ = d.SupportedActionTypes[0]
	}
	params := map[string]string{}
	for k, v := range opt.Params {
		params[k] = v
	}
	body := func(p map[string]string, extra map[string]any) map[string]any {
		b := map[string]any{"type": typ, "data": p, "form_params": opt.FormParams}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	if _, ok := a.(sdk.FormAction); ok {
		t.Run("form", func(t *testing.T) {
			f := h.Form(t, d.Name, body(params, nil))
			if f.Status != 200 {
				t.Fatalf("form answered %d: %s", f.Status, f.Body)
			}
			for _, fl := range f.Fields {
				if fl.Name == "" || !knownFields[fl.Type] {
					t.Errorf("bad field %+v", fl)
				}
				if fl.Type == sdk.FieldSelect && len(fl.Options) == 0 && fl.Default == "" {
					t.Logf("select %q has no options (allowed when the vendor has none)", fl.Name)
				}
				if (fl.Type == sdk.FieldOAuthLink || fl.Type == sdk.FieldOAuthLinkGoogle) && fl.OAuthURL == "" {
					t.Errorf("login field %q without oauth_url", fl.Name)
				}
			}
		})
	}
	for _, p := range d.Params {
		if !p.Required {
			continue
		}
		p := p
		t.Run("missing "+p.Name, func(t *testing.T) {
			without := map[string]string{}
			for k, v := range params {
				if k != p.Name {
					without[k] = v
				}
			}
			want := `Required setting "` + p.Label + `" not specified in action settings.`
			r := h.Execute(t, d.Name, body(without, nil))
			if r.Status != 404 || !strings.Contains(string(r.Body), jsonText(want)) {
				t.Errorf("execute without %s: %d %s", p.Name, r.Status, r.Body)
			}
			if _, ok := a.(sdk.FormAction); ok {
				f := h.Form(t, d.Name, body(without, nil))
				if f.Status != 200 || f.Error != want {
					t.Errorf("form without %s: %d %s", p.Name, f.Status, f.Body)
				}
			}
		})
	}
	t.Run("wrong type", func(t *testing.T) {
		for _, wrong := range []sdk.ActionType{sdk.TypeCell, sdk.TypeQuery, sdk.TypeDashboard} {
			if d.SupportsType(wrong) {
				continue
			}
			b := body(params, nil)
			b["type"] = wrong
			r := h.Execute(t, d.Name, b)
			if r.Status != 404 || !strings.Contains(string(r.Body), "This action does not support requests of type") {
				t.Errorf("type %s: %d %s", wrong, r.Status, r.Body)
			}
			return
		}
	})
	if d.Streaming {
		t.Run("streaming without data", func(t *testing.T) {
			r := h.Execute(t, d.Name, body(params, nil))
			if r.Status != 404 || !strings.Contains(string(r.Body), "A streaming action was sent incompatible data.") {
				t.Errorf("%d %s", r.Status, r.Body)
			}
		})
	}
	var replies []string
	if opt.Data != nil {
		f := opt.Format
		if f == "" {
			f = sdk.FormatJSONDetail
		}
		mimetype := "application/json"
		if f == sdk.FormatCSV || f == sdk.FormatTxt {
			mimetype = "text/" + f.Extension()
		}
		t.Run("push", func(t *testing.T) {
			r := h.Execute(t, d.Name, body(params, map[string]any{"attachment": map[string]string{
				"mimetype": mimetype, "extension": f.Extension(), "data": string(opt.Data)},
				"scheduled_plan": map[string]any{"title": "Conformance"}}))
			replies = append(replies, string(r.Body))
			if !r.Looker.Success {
				t.Errorf("pushed data: %d %s", r.Status, r.Body)
			} else if opt.Expect != nil {
				opt.Expect(t, r)
			}
		})
		if d.Streaming {
			t.Run("download url", func(t *testing.T) {
				r := h.Execute(t, d.Name, body(params, map[string]any{"scheduled_plan": map[string]any{
					"title": "Conformance", "download_url": h.Download(t, opt.Data)}}))
				replies = append(replies, string(r.Body))
				if !r.Looker.Success {
					t.Errorf("download URL: %d %s", r.Status, r.Body)
				} else if opt.Expect != nil {
					opt.Expect(t, r)
				}
			})
		}
	}
	t.Run("secrets not echoed", func(t *testing.T) {
		replies = append(replies, string(h.Execute(t, d.Name, body(params, nil)).Body))
		if _, ok := a.(sdk.FormAction); ok {
			replies = append(replies, string(h.Form(t, d.Name, body(params, nil)).Body))
		}
		for _, p := range d.Params {
			v := params[p.Name]
			if !p.Sensitive || len(v) < 6 {
				continue
			}
			for _, r := range replies {
				if strings.Contains(r, v) {
					t.Errorf("sensitive param %s echoed: %s", p.Name, r)
				}
			}
		}
	})
}

func jsonText(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }

func checkDefinition(t *testing.T, d *sdk.Definition) {
	if !nameRE.MatchString(d.Name) {
		t.Errorf("name %q must be lower-case letters, digits and _", d.Name)
	}
	if d.Label == "" || d.Description == "" {
		t.Errorf("label and description are required")
	}
	if len(d.SupportedActionTypes) == 0 {
		t.Errorf("no supported action types")
	}
	for _, ty := range d.SupportedActionTypes {
		if !knownTypes[ty] {
			t.Errorf("unknown action type %q", ty)
		}
	}
	for _, f := range d.FormatsForVersion("") {
		if !knownFormats[f] {
			t.Errorf("unknown format %q", f)
		}
	}
	for _, f := range d.FormatsForVersion(LookerVersion) {
		if !knownFormats[f] {
			t.Errorf("unknown format %q", f)
		}
	}
	seen := map[string]bool{}
	for _, p := range d.Params {
		if p.Name == "" || p.Label == "" || seen[p.Name] {
			t.Errorf("param %+v: name and label required, names unique", p)
		}
		seen[p.Name] = true
	}
	if d.Icon != "" {
		mime, data, ok := strings.Cut(strings.TrimPrefix(d.Icon, "data:"), ";base64,")
		if !strings.HasPrefix(d.Icon, "data:") || !ok || (mime != "image/png" && mime != "image/svg+xml") {
			t.Errorf("icon must be a data URI of image/png or image/svg+xml")
		} else if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			t.Errorf("icon data is not base64: %v", err)
		}
	}
	if d.MinimumLookerVersion != "" && sdk.ParseVersion(d.MinimumLookerVersion) == "" {
		t.Errorf("minimum Looker version %q is not a version", d.MinimumLookerVersion)
	}
}
