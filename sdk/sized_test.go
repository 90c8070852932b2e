package sdk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// A download is spooled to a temporary file (bounded), read again from its start each
// time, removed on Close; over the limit it is refused with a *TooLargeError.
func TestOpenSizedDownload(t *testing.T) {
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 5000))
	}))
	defer dl.Close()
	req := &Request{Env: &Env{}, ScheduledPlan: &ScheduledPlan{DownloadURL: dl.URL}}
	src, err := req.OpenSized(context.Background(), 5000)
	if err != nil || src.Size() != 5000 || src.file == nil {
		t.Fatalf("%+v %v", src, err)
	}
	for i := 0; i < 2; i++ {
		if b, _ := io.ReadAll(src.Reader()); len(b) != 5000 {
			t.Errorf("read %d", len(b))
		}
	}
	name := src.file.Name()
	src.Close()
	src.Close()
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("spool file left behind: %v", err)
	}
	_, err = req.OpenSized(context.Background(), 4999)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 4999 || err.Error() != "the data is over 4999 bytes" {
		t.Errorf("%v", err)
	}
}

// A pushed attachment is used in place and checked against the limit.
func TestOpenSizedPushed(t *testing.T) {
	req := &Request{Attachment: &Attachment{Data: []byte("a,b\n1,2")}}
	src, err := req.OpenSized(context.Background(), 7)
	if err != nil || src.Size() != 7 || src.file != nil {
		t.Fatalf("%+v %v", src, err)
	}
	defer src.Close()
	for i := 0; i < 2; i++ {
		if b, _ := io.ReadAll(src.Reader()); string(b) != "a,b\n1,2" {
			t.Errorf("read %q", b)
		}
	}
	var tl *TooLargeError
	if _, err := req.OpenSized(context.Background(), 6); !errors.As(err, &tl) || tl.Limit != 6 {
		t.Errorf("%v", err)
	}
}
