package sftp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	sftpfake "github.com/actionhub/actionhub/internal/fakes/sftp"
	"github.com/actionhub/actionhub/sdk"
)

func request(t *testing.T, body map[string]any) *sdk.Request {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := sdk.DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	req.Env = testEnv
	req.ActionName = Name
	return req
}

func body(form map[string]any, data string) map[string]any {
	return map[string]any{
		"type":        "query",
		"data":        map[string]any{},
		"form_params": form,
		"attachment":  map[string]any{"mimetype": "text/csv", "extension": "csv", "data": data},
	}
}

// testEnv lets the action reach the fake on loopback.
var testEnv = &sdk.Env{Getenv: func(k string) string {
	if k == "ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS" {
		return "true"
	}
	return ""
}}

func newAction() *Action { return &Action{Env: testEnv, DialTimeout: 5 * time.Second} }

func TestNetworkPolicy(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "p"})
	a := &Action{Env: &sdk.Env{Getenv: func(string) string { return "" }}, DialTimeout: 5 * time.Second}
	req := request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "p",
		"host_key": srv.Fingerprint}, "x"))
	resp, err := a.Execute(context.Background(), req)
	if err != nil || resp.Success || !strings.Contains(resp.Message, "loopback") || srv.Total() != 0 {
		t.Fatalf("loopback reached under the strict policy: %v %+v", err, resp)
	}
}

func execute(t *testing.T, req *sdk.Request) (*sdk.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return newAction().Execute(ctx, req)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestPasswordUploadWithPinnedHostKey(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "looker", Password: "s3cret"})
	if err := os.Mkdir(filepath.Join(srv.Root, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	req := request(t, body(map[string]any{
		"address": "sftp://" + srv.Addr + "/out/", "username": "looker", "password": "s3cret",
		"host_key": srv.Fingerprint, "filename": "report.csv",
	}, "a,b\n1,2\n"))
	resp, err := execute(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Success {
		t.Fatalf("failed: %s", resp.Message)
	}
	got, err := os.ReadFile(filepath.Join(srv.Root, "out", "report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "a,b\n1,2\n" {
		t.Fatalf("content %q", got)
	}
	if names := listDir(t, filepath.Join(srv.Root, "out")); len(names) != 1 {
		t.Fatalf("temporary files left: %v", names)
	}
	if strings.Contains(resp.Message, "s3cret") {
		t.Fatal("password in message")
	}
	srv.WaitClosed(t, 2*time.Second)
	if srv.Total() != 1 || srv.Logins()[0] != "password" {
		t.Fatalf("connections %d logins %v", srv.Total(), srv.Logins())
	}
}

func TestUnknownHostKeyRefusedWithFingerprint(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "p"})
	req := request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "p"}, "x"))
	resp, err := execute(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, srv.Fingerprint) || !strings.Contains(resp.Message, "no host key fingerprint") {
		t.Fatalf("got %+v", resp)
	}
	if len(srv.Logins()) != 0 {
		t.Fatal("credentials were sent to an unverified server")
	}
	if names := listDir(t, srv.Root); len(names) != 0 {
		t.Fatalf("files written: %v", names)
	}
	srv.WaitClosed(t, 2*time.Second)
}

func TestChangedHostKeyRefused(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "p", HostKeySeed: bytes.Repeat([]byte{9}, 32)})
	old := sftpfake.New(t, sftpfake.Options{})
	req := request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "p",
		"host_key": old.Fingerprint}, "x"))
	resp, err := execute(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, "does not match") || !strings.Contains(resp.Message, srv.Fingerprint) {
		t.Fatalf("got %+v", resp)
	}
	if len(srv.Logins()) != 0 {
		t.Fatal("logged in despite a mismatched host key")
	}
	srv.WaitClosed(t, 2*time.Second)
}

func TestFingerprintForms(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "p"})
	bare := strings.TrimPrefix(srv.Fingerprint, "SHA256:")
	for _, fp := range []string{bare, bare + "=", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, " + srv.Fingerprint,
		"MD5:" + ssh.FingerprintLegacyMD5(srv.HostKey)} {
		req := request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "p",
			"host_key": fp, "filename": "f.csv"}, "x"))
		resp, err := execute(t, req)
		if err != nil || !resp.Success {
			t.Fatalf("%q: %v %+v", fp, err, resp)
		}
	}
	req := request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "p",
		"host_key": "not-a-fingerprint"}, "x"))
	resp, err := execute(t, req)
	if err != nil || resp.Success || !strings.Contains(resp.Message, "not a SHA256 fingerprint") {
		t.Fatalf("bad fingerprint accepted: %v %+v", err, resp)
	}
}

func privateKeyPEM(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), sp
}

func TestPrivateKeyAuth(t *testing.T) {
	key, pub := privateKeyPEM(t)
	srv := sftpfake.New(t, sftpfake.Options{User: "u", AuthorizedKeys: []ssh.PublicKey{pub}})

	// from the form
	req := request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u",
		"private_key": strings.ReplaceAll(key, "\n", "\r\n"), "host_key": srv.Fingerprint, "filename": "k1.csv"}, "one"))
	resp, err := execute(t, req)
	if err != nil || !resp.Success {
		t.Fatalf("form key: %v %+v", err, resp)
	}
	// from the admin param, with escaped newlines
	b := body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "host_key": srv.Fingerprint,
		"filename": "k2.csv"}, "two")
	b["data"] = map[string]any{"private_key": strings.ReplaceAll(key, "\n", `\n`)}
	resp, err = execute(t, request(t, b))
	if err != nil || !resp.Success {
		t.Fatalf("param key: %v %+v", err, resp)
	}
	for name, want := range map[string]string{"k1.csv": "one", "k2.csv": "two"} {
		got, err := os.ReadFile(filepath.Join(srv.Root, name))
		if err != nil || string(got) != want {
			t.Fatalf("%s: %q %v", name, got, err)
		}
	}
	if l := srv.Logins(); len(l) != 2 || l[0] != "publickey" || l[1] != "publickey" {
		t.Fatalf("logins %v", l)
	}
	// a key the server does not know
	other, _ := privateKeyPEM(t)
	req = request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u",
		"private_key": other, "host_key": srv.Fingerprint}, "x"))
	resp, err = execute(t, req)
	if err != nil || resp.Success || !strings.Contains(resp.Message, "Could not log in") {
		t.Fatalf("unknown key: %v %+v", err, resp)
	}
	srv.WaitClosed(t, 2*time.Second)
}

func TestWrongPassword(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "right"})
	req := request(t, body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "wrong-pw",
		"host_key": srv.Fingerprint}, "x"))
	resp, err := execute(t, req)
	if err != nil || resp.Success || !strings.Contains(resp.Message, "Could not log in") || strings.Contains(resp.Message, "wrong-pw") {
		t.Fatalf("%v %+v", err, resp)
	}
	srv.WaitClosed(t, 2*time.Second)
}

func TestValidation(t *testing.T) {
	a := newAction()
	for _, addr := range []string{"", "sftp:/host/path/", "ftp://host/path/", "http://host/path/", "sftp/host/path/", "/host/path/", "sftp://host:99999/"} {
		req := request(t, body(map[string]any{"address": addr, "username": "u", "password": "p"}, "x"))
		_, err := a.Execute(context.Background(), req)
		e, ok := sdk.AsError(err)
		if !ok || e.Text != "Needs a valid SFTP address." {
			t.Fatalf("%q: %v", addr, err)
		}
	}
	b := body(map[string]any{"address": "sftp://host/path/"}, "")
	delete(b, "attachment")
	_, err := a.Execute(context.Background(), request(t, b))
	if e, ok := sdk.AsError(err); !ok || e.Text != "Couldn't get data from attachment." {
		t.Fatalf("no data: %v", err)
	}
}

func TestStreamingOverwriteAndSanitize(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "p"})
	data := bytes.Repeat([]byte("0123456789abcdef"), 300_000) // 4.8 MB
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer dl.Close()
	if err := os.WriteFile(filepath.Join(srv.Root, "..evil.csv"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := body(map[string]any{"address": "sftp://" + srv.Addr, "username": "u", "password": "p",
		"host_key": srv.Fingerprint, "filename": "../evil.csv"}, "")
	delete(b, "attachment")
	b["scheduled_plan"] = map[string]any{"download_url": dl.URL}
	resp, err := execute(t, request(t, b))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	got, err := os.ReadFile(filepath.Join(srv.Root, "..evil.csv"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content mismatch (%d bytes, %v)", len(got), err)
	}
	if !strings.Contains(resp.Message, strconv.Itoa(len(data))) {
		t.Fatalf("message %q", resp.Message)
	}
	srv.WaitClosed(t, 2*time.Second)
}

func TestCutDownloadCommitsNothing(t *testing.T) {
	srv := sftpfake.New(t, sftpfake.Options{User: "u", Password: "p"})
	if err := os.WriteFile(filepath.Join(srv.Root, "keep.csv"), []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10000000")
		w.Write(bytes.Repeat([]byte("x"), 1_000_000))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer dl.Close()
	b := body(map[string]any{"address": "sftp://" + srv.Addr + "/", "username": "u", "password": "p",
		"host_key": srv.Fingerprint, "filename": "keep.csv"}, "")
	delete(b, "attachment")
	b["scheduled_plan"] = map[string]any{"download_url": dl.URL}
	resp, err := execute(t, request(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, "Upload aborted, nothing was written to /keep.csv") {
		t.Fatalf("got %+v", resp)
	}
	got, _ := os.ReadFile(filepath.Join(srv.Root, "keep.csv"))
	if string(got) != "previous" {
		t.Fatalf("target changed: %q", got)
	}
	if names := listDir(t, srv.Root); len(names) != 1 {
		t.Fatalf("leftovers: %v", names)
	}
	srv.WaitClosed(t, 2*time.Second)
}

func TestDefinitionAndForm(t *testing.T) {
	a := newAction()
	d := a.Definition()
	if d.Name != "sftp" || d.Label != "SFTP" || !d.Streaming || len(d.SupportedActionTypes) != 1 ||
		d.SupportedActionTypes[0] != sdk.TypeQuery || !strings.HasPrefix(d.Icon, "data:image/svg+xml;base64,") {
		t.Fatalf("definition %+v", d)
	}
	if !d.Params[0].Sensitive {
		t.Fatal("private_key param must be sensitive")
	}
	f, err := a.Form(context.Background(), request(t, body(nil, "")))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fl := range f.Fields {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "address,username,password,private_key,host_key,filename" {
		t.Fatalf("fields %v", names)
	}
	if f.Fields[0].Description != "e.g. sftp://host/path/" || !f.Fields[0].Required || f.Fields[3].Type != sdk.FieldTextarea {
		t.Fatalf("fields %+v", f.Fields)
	}
}
