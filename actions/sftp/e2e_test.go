package sftp_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actions/sftp"
	"github.com/actionhub/actionhub/actiontest"
	sftpfake "github.com/actionhub/actionhub/internal/fakes/sftp"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
)

var module = sdk.Module{Name: sftp.Name, New: sftp.New}

var env = map[string]string{"ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS": "true"}

func TestStreamingThroughHub(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "looker", Password: "pw"})
	h := hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{module}})
	data := bytes.Repeat([]byte("row,of,data\n"), 200_000) // 2.4 MB
	form := map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "looker", "password": "pw",
		"host_key": srv.Fingerprint, "filename": "big.csv"}
	res := h.Execute(t, "sftp", map[string]any{"type": "query", "form_params": form,
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data)}})
	if !res.Looker.Success {
		t.Fatalf("%s", res.Body)
	}
	got, err := os.ReadFile(filepath.Join(srv.Root, "big.csv"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	srv.WaitClosed(t, 2*time.Second)

	// a download cut mid-stream leaves nothing on the server
	form["filename"] = "cut.csv"
	dl := h.DownloadFunc(t, func(w io.Writer) error { w.Write(data[:500_000]); return errors.New("cut") })
	res = h.Execute(t, "sftp", map[string]any{"type": "query", "form_params": form, "scheduled_plan": map[string]any{"download_url": dl}})
	if res.Looker.Success || !strings.Contains(res.Looker.Message, "Upload aborted, nothing was written to /cut.csv") {
		t.Fatalf("%s", res.Body)
	}
	ents, _ := os.ReadDir(srv.Root)
	if len(ents) != 1 {
		t.Fatalf("%d entries", len(ents))
	}
	srv.WaitClosed(t, 2*time.Second)

	// the unknown-host-key answer shows the fingerprint to pin
	delete(form, "host_key")
	res = h.Execute(t, "sftp", map[string]any{"type": "query", "form_params": form,
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data[:10])}})
	if res.Looker.Success || !strings.Contains(res.Looker.Message, srv.Fingerprint) || strings.Contains(string(res.Body), `"pw"`) {
		t.Fatalf("%s", res.Body)
	}
}

func TestConformance(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "p"})
	actiontest.Conformance(t, module, actiontest.CheckOptions{
		Env:    env,
		Data:   []byte("a,b\n1,2\n"),
		Format: sdk.FormatCSV,
		FormParams: map[string]string{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "p",
			"host_key": srv.Fingerprint, "filename": "conf.csv"},
	})
}
