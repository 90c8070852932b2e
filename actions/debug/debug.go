// Package debug is the Node hub's debug action, registered only when
// ACTION_HUB_DEBUG_ENDPOINT is set: it sleeps form_params.sleep milliseconds (default 1000)
// and, when form_params.simulated_download_url is set, downloads it and counts the bytes.
package debug

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

func init() { sdk.Register(sdk.Static(&Action{})) }

// MaxSleep caps form_params.sleep so a request cannot hold a hub slot for ever.
const MaxSleep = 10 * time.Minute

// Action is the debug action.
type Action struct{}

// Definition describes the debug action as the Node hub lists it.
func (*Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                 "debug",
		Label:                "Debug",
		Description:          "Sends data to a sample website and optionally sleeps.",
		SupportedActionTypes: []sdk.ActionType{sdk.TypeCell, sdk.TypeDashboard, sdk.TypeQuery},
		SupportedFormats:     []sdk.Format{},
		Params:               []sdk.Param{},
	}
}

// Form asks for the sleep time and an optional URL to download.
func (*Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{
		{Name: "sleep", Label: "Sleep (ms)", Type: sdk.FieldString, Default: "1000"},
		{Name: "simulated_download_url", Label: "Simulated download URL", Type: sdk.FieldString},
	}}, nil
}

// Execute sleeps, then reads the data if any, and reports the bytes.
func (*Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	sleep := 1000 * time.Millisecond
	if v := req.Form("sleep"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, sdk.Errorf("sleep must be a whole number of milliseconds")
		}
		sleep = min(time.Duration(n)*time.Millisecond, MaxSleep)
	}
	select {
	case <-time.After(sleep):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if u := req.Form("simulated_download_url"); u != "" {
		req.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: u}
	}
	if !req.HasData() {
		return sdk.OK(""), nil
	}
	rc, err := req.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		return nil, err
	}
	return sdk.OK(fmt.Sprintf("Read %d bytes.", n)), nil
}
