package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/actionhub/actionhub/internal/fakes/azurite"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
)

func TestMain(m *testing.M) {
	// Retries in tests need no real delay.
	retryDelay = time.Millisecond
	code := m.Run()
	azurite.StopShared()
	os.Exit(code)
}

// wrongKey is valid base64 but not the account's key.
const wrongKey = "d3JvbmcgYnV0IHZhbGlkIGJhc2U2NCBrZXkgZm9yIHRoZSB0ZXN0cyBvZiB0aGUgYWN0aW9uIQ=="

func params(key string) map[string]any {
	return map[string]any{"account": azurite.Account, "accessKey": key}
}

var containerSeq atomic.Int64

// newContainer makes a container of its own for a test in the shared Azurite.
func newContainer(t *testing.T, az *azurite.Server) (string, *azblob.Client) {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(azurite.Account, azurite.Key)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := azblob.NewClientWithSharedKeyCredential(az.DirectURL+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("c%d-%d", time.Now().UnixNano()%1e9, containerSeq.Add(1))
	if _, err := cl.CreateContainer(context.Background(), name, nil); err != nil {
		t.Fatalf("creating container: %v", err)
	}
	return name, cl
}

func newHub(t *testing.T, az *azurite.Server, now time.Time) *hubtest.Hub {
	env := map[string]string{}
	if az != nil {
		env["ACTION_HUB_VENDOR_URL_AZURE_BLOB"] = az.URL
	}
	mod := sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a := New(env)
		if !now.IsZero() {
			a.now = func() time.Time { return now }
		}
		return a, nil
	}}
	return hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{mod}})
}

// blobContent reads a blob back, with its content type.
func blobContent(t *testing.T, cl *azblob.Client, container, name string) ([]byte, string, error) {
	t.Helper()
	resp, err := cl.DownloadStream(context.Background(), container, name, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ct := ""
	if resp.ContentType != nil {
		ct = *resp.ContentType
	}
	return b, ct, err
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/1021)
	}
	return b
}

func TestDefinition(t *testing.T) {
	d := New(&sdk.Env{}).Definition()
	if d.Name != "azure_storage" || d.Label != "Azure Storage" || d.Description != "Write data files to an Azure container." ||
		!d.Streaming || len(d.SupportedActionTypes) != 2 || d.SupportedActionTypes[0] != sdk.TypeQuery {
		t.Errorf("definition = %+v", d)
	}
	if len(d.Params) != 2 || d.Params[0] != (sdk.Param{Name: "account", Label: "Storage Account", Required: true, Description: "Your account for Azure."}) ||
		d.Params[1] != (sdk.Param{Name: "accessKey", Label: "Access Key", Required: true, Sensitive: true, Description: "Your access key for Azure."}) {
		t.Errorf("params = %+v", d.Params)
	}
}

func TestSettingsErrors(t *testing.T) {
	h := newHub(t, nil, time.Time{})
	form := h.Form(t, Name, map[string]any{"data": params("not base64 at all!")})
	if form.Error != "The provided Account Key is not a valid base64 string" {
		t.Errorf("form = %s", form.Body)
	}
	form = h.Form(t, Name, map[string]any{"data": map[string]any{"account": "evil.example.com/x?", "accessKey": azurite.Key}})
	if !strings.Contains(form.Error, "is not a storage account name") {
		t.Errorf("form = %s", form.Body)
	}
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("not base64 at all!"),
		"form_params": map[string]any{"container": "x"}, "attachment": map[string]any{"mimetype": "text/csv", "data": "1"}})
	if res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), "The provided Account Key is not a valid base64 string") {
		t.Errorf("execute = %d %s", res.Status, res.Body)
	}
}

func TestExecuteNeedsContainer(t *testing.T) {
	res := newHub(t, nil, time.Time{}).Execute(t, Name, map[string]any{"type": "query", "data": params(azurite.Key),
		"attachment": map[string]any{"mimetype": "text/csv", "data": "1,2,3,4"}})
	if res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), "Need Azure container.") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
}

// TestForm uses an Azurite of its own, to see the account empty first.
func TestForm(t *testing.T) {
	az := azurite.Start(t)
	h := newHub(t, az, time.Time{})
	form := h.Form(t, Name, map[string]any{"data": params(azurite.Key)})
	if form.Error != "Create a container in your Azure account." {
		t.Fatalf("empty account: form = %s", form.Body)
	}
	cred, _ := azblob.NewSharedKeyCredential(azurite.Account, azurite.Key)
	cl, _ := azblob.NewClientWithSharedKeyCredential(az.DirectURL+"/", cred, nil)
	for _, c := range []string{"beta", "alpha"} {
		if _, err := cl.CreateContainer(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
	form = h.Form(t, Name, map[string]any{"data": params(azurite.Key)})
	if form.Error != "" || len(form.Fields) != 3 {
		t.Fatalf("form = %s", form.Body)
	}
	c := form.Fields[0]
	if c.Name != "container" || c.Label != "Container" || c.Type != sdk.FieldSelect || !c.Required || c.Default != "alpha" ||
		len(c.Options) != 2 || c.Options[0] != (sdk.Option{Name: "alpha", Label: "alpha"}) {
		t.Errorf("container field = %+v", c)
	}
	if form.Fields[1].Name != "filename" || form.Fields[2].Name != "overwrite" || form.Fields[2].Default != "yes" {
		t.Errorf("fields = %+v", form.Fields[1:])
	}

	form = h.Form(t, Name, map[string]any{"data": params(wrongKey)})
	// Azure answers a wrong key with AuthenticationFailed, Azurite with AuthorizationFailure.
	if !strings.HasPrefix(form.Error, "Azure Storage refused the ") || !strings.Contains(form.Error, "when trying to list the containers: check the Storage Account and Access Key settings") ||
		strings.Contains(string(form.Body), wrongKey) {
		t.Errorf("bad key: form = %s", form.Body)
	}
}

// TestFormAnswersWhenUnreachable: a listing that cannot reach the service answers the
// form with an error instead of hanging it.
func TestFormAnswersWhenUnreachable(t *testing.T) {
	dead := "http://127.0.0.1:1/" + azurite.Account // nothing listens on port 1
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_VENDOR_URL_AZURE_BLOB": dead}, Actions: []sdk.Module{Module}})
	start := time.Now()
	form := h.Form(t, Name, map[string]any{"data": params(azurite.Key)})
	if !strings.Contains(form.Error, "Could not list the containers on Azure Storage") || time.Since(start) > FormTimeout {
		t.Fatalf("form = %s after %s", form.Body, time.Since(start))
	}
}

func TestExecuteAttachment(t *testing.T) {
	az := azurite.Shared(t)
	container, cl := newContainer(t, az)
	h := newHub(t, az, time.Time{})
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(azurite.Key),
		"form_params":    map[string]any{"container": container},
		"scheduled_plan": map[string]any{"title": "Sales Report"},
		"attachment":     map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "1,2,3,4"}})
	want := fmt.Sprintf("Delivered 1 of 1 files: wrote %s/Sales Report.csv (7 bytes).", container)
	if !res.Looker.Success || res.Looker.Message != want {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	got, ct, err := blobContent(t, cl, container, "Sales Report.csv")
	if err != nil || string(got) != "1,2,3,4" || ct != "text/csv" {
		t.Fatalf("blob = %q %q %v", got, ct, err)
	}
}

// TestExecuteStreamsBlocks streams a download of three blocks, staged and committed once.
func TestExecuteStreamsBlocks(t *testing.T) {
	az := azurite.Shared(t)
	az.Reset()
	container, cl := newContainer(t, az)
	h := newHub(t, az, time.Time{})
	data := pattern(2*BlockSize + 4321)
	res := h.Execute(t, Name, map[string]any{"type": "dashboard", "data": params(azurite.Key),
		"form_params":    map[string]any{"container": container, "filename": "big.csv", "format": "csv"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data)}})
	if !res.Looker.Success || !strings.Contains(res.Looker.Message, "(16,781,537 bytes)") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	got, ct, err := blobContent(t, cl, container, "big.csv")
	if err != nil || !bytes.Equal(got, data) || ct != "text/csv" {
		t.Fatalf("blob: %d bytes (want %d) %q %v", len(got), len(data), ct, err)
	}
	if az.Count("PutBlock") != 3 || az.Count("PutBlockList") != 1 {
		t.Errorf("put block %d, block list %d", az.Count("PutBlock"), az.Count("PutBlockList"))
	}
}

// TestExecuteDownloadCut: nothing is committed and the answer says how many bytes came.
func TestExecuteDownloadCut(t *testing.T) {
	for _, sent := range []int{BlockSize + BlockSize/2, 300} {
		t.Run(fmt.Sprint(sent), func(t *testing.T) {
			az := azurite.Shared(t)
			az.Reset()
			container, cl := newContainer(t, az)
			h := newHub(t, az, time.Time{})
			dl := h.DownloadFunc(t, func(w io.Writer) error {
				w.Write(pattern(sent))
				w.(http.Flusher).Flush()
				return errors.New("cut")
			})
			res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(azurite.Key),
				"form_params":    map[string]any{"container": container, "filename": "cut.csv"},
				"scheduled_plan": map[string]any{"download_url": dl}})
			want := fmt.Sprintf("the download from Looker failed after %d bytes", sent)
			if res.Looker.Success || !strings.Contains(res.Looker.Message, want) ||
				!strings.Contains(res.Looker.Message, "no blob was committed to "+container+"/cut.csv") {
				t.Fatalf("execute = %d %s", res.Status, res.Body)
			}
			if _, err := cl.ServiceClient().NewContainerClient(container).NewBlobClient("cut.csv").GetProperties(context.Background(), nil); !bloberror.HasCode(err, bloberror.BlobNotFound) {
				t.Errorf("the blob should not exist: %v", err)
			}
			if az.Count("PutBlockList") != 0 || az.Count("PutBlob") != 0 {
				t.Errorf("committed: block list %d, put blob %d", az.Count("PutBlockList"), az.Count("PutBlob"))
			}
		})
	}
}

// TestExecuteRetriesFailedBlock: a 500 on one block is retried by the SDK and counted.
func TestExecuteRetriesFailedBlock(t *testing.T) {
	az := azurite.Shared(t)
	az.Reset()
	container, cl := newContainer(t, az)
	az.Fail("PutBlock", 1)
	h := newHub(t, az, time.Time{})
	data := pattern(BlockSize + 99)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(azurite.Key),
		"form_params":    map[string]any{"container": container, "filename": "r.bin"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data)}})
	if !res.Looker.Success || !strings.Contains(res.Looker.Message, "1 retries") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if got, _, err := blobContent(t, cl, container, "r.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob: %d bytes, %v", len(got), err)
	}
	if az.Count("PutBlock") != 3 {
		t.Errorf("put block = %d, want 3 (2 blocks, one retried)", az.Count("PutBlock"))
	}
}

// TestExecuteOverwriteNo: the name gets a timestamp, and an existing blob of that name is
// not written over.
func TestExecuteOverwriteNo(t *testing.T) {
	az := azurite.Shared(t)
	container, cl := newContainer(t, az)
	h := newHub(t, az, time.UnixMilli(1234))
	body := map[string]any{"type": "query", "data": params(azurite.Key),
		"form_params": map[string]any{"container": container, "filename": "report.csv", "overwrite": "no"},
		"attachment":  map[string]any{"mimetype": "text/csv", "data": "first"}}
	if res := h.Execute(t, Name, body); !res.Looker.Success || !strings.Contains(res.Looker.Message, "report_1234.csv") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	body["attachment"] = map[string]any{"mimetype": "text/csv", "data": "second"}
	res := h.Execute(t, Name, body)
	if res.Looker.Success || !strings.Contains(res.Looker.Message, "a blob of that name already exists") {
		t.Fatalf("second execute = %d %s", res.Status, res.Body)
	}
	if got, _, err := blobContent(t, cl, container, "report_1234.csv"); err != nil || string(got) != "first" {
		t.Errorf("blob = %q %v", got, err)
	}
}

// TestExecuteSAS: a shared access signature works in place of the account key.
func TestExecuteSAS(t *testing.T) {
	az := azurite.Shared(t)
	container, cl := newContainer(t, az)
	cred, _ := azblob.NewSharedKeyCredential(azurite.Account, azurite.Key)
	perms := sas.AccountPermissions{Read: true, Write: true, Create: true, List: true, Add: true}
	types := sas.AccountResourceTypes{Service: true, Container: true, Object: true}
	qp, err := sas.AccountSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		Permissions: perms.String(), ResourceTypes: types.String()}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	token := qp.Encode()
	h := newHub(t, az, time.Time{})
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(token),
		"form_params": map[string]any{"container": container, "filename": "sas.csv"},
		"attachment":  map[string]any{"mimetype": "text/csv", "data": "via sas"}})
	if !res.Looker.Success {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if got, _, err := blobContent(t, cl, container, "sas.csv"); err != nil || string(got) != "via sas" {
		t.Errorf("blob = %q %v", got, err)
	}
	form := h.Form(t, Name, map[string]any{"data": params(token)})
	if form.Error != "" || len(form.Fields) == 0 {
		t.Errorf("form with SAS = %s", form.Body)
	}
}

func TestExecuteBadCredentials(t *testing.T) {
	az := azurite.Shared(t)
	container, _ := newContainer(t, az)
	res := newHub(t, az, time.Time{}).Execute(t, Name, map[string]any{"type": "query", "data": params(wrongKey),
		"form_params": map[string]any{"container": container, "filename": "x.csv"},
		"attachment":  map[string]any{"mimetype": "text/csv", "data": "1,2"}})
	if res.Looker.Success || !strings.Contains(res.Looker.Message, "Stopped: Azure Storage refused the ") ||
		!strings.Contains(res.Looker.Message, "when trying to write "+container+"/x.csv: check the Storage Account and Access Key settings") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if strings.Contains(string(res.Body), wrongKey) {
		t.Errorf("reply leaks the key: %s", res.Body)
	}
}
