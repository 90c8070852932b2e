package zapier

import (
	"net/http"
	"strings"
	"testing"

	fake "github.com/actionhub/actionhub/internal/fakes/webhook"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/webhooktest"
)

const hookPath = "/hooks/catch/4242/abcdef/"

// zapier is the action as its tests see it (Node's test_zapier.ts for the texts).
var zapier = webhooktest.Case{
	Name:        Name,
	New:         New,
	Hosts:       []string{"hooks.zapier.com"},
	Hook:        "https://hooks.zapier.com" + hookPath,
	HookPath:    hookPath,
	HookSecret:  "abcdef",
	Label:       "Zapier",
	Description: "Send data and begin a Zapier zap.",
	URLLabel:    "Zapier Webhook URL",
	BadURLs:     []string{"https://evilzapier.com/hooks/catch/1/2/", "https://hooks.zapier.com.evil.io/x"},
	Answer: func(w http.ResponseWriter, r *fake.Request) {
		w.Header().Set("Content-Type", "application/json")
		// The hook's path is its credential: an unknown one is refused, as Zapier does.
		if r.Path != hookPath {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"status":"error","message":"hook not found"}`))
			return
		}
		w.Write([]byte(`{"attempt":"1","id":"2","request_id":"3","status":"success"}`))
	},
	More: func(t *testing.T, h *hubtest.Hub, data []byte) int {
		// A deleted hook: the execute fails with Zapier's answer.
		res := webhooktest.Execute(t, h, Name, "https://hooks.zapier.com/hooks/catch/4242/gone/", data)
		if res.Status != 200 || res.Looker.Success || !strings.Contains(res.Looker.Message, "Zapier answered HTTP 404 Not Found") ||
			!strings.Contains(res.Looker.Message, "hook not found") || strings.Contains(res.Looker.Message, "gone") {
			t.Errorf("deleted hook: %s", res.Body)
		}
		return 1
	},
}

func TestEndToEnd(t *testing.T) { webhooktest.EndToEnd(t, zapier) }

// Without ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS the hub refuses to connect to the loopback
// fake, although hooks.zapier.com passed the domain check: the guard is at dial time.
func TestEndToEndLoopbackRefused(t *testing.T) { webhooktest.LoopbackRefused(t, zapier) }

func TestConformance(t *testing.T) { webhooktest.Conformance(t, zapier) }
