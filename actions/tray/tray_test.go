package tray

import (
	"net/http"
	"testing"

	fake "github.com/actionhub/actionhub/internal/fakes/webhook"
	"github.com/actionhub/actionhub/internal/webhooktest"
)

// tray is the action as its tests see it (Node's test_tray.ts for the texts).
var tray = webhooktest.Case{
	Name:        Name,
	New:         New,
	Hosts:       []string{"*.trayapp.io", "*.tray.io"},
	Hook:        "https://0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0.trayapp.io/abcdef/",
	HookPath:    "/abcdef/",
	HookSecret:  "abcdef",
	Label:       "Tray",
	Description: "Send data and begin a Tray workflow.",
	URLLabel:    "Tray Webhook URL",
	BadURLs:     []string{"https://eviltrayapp.io/x", "https://x.trayapp.io.evil.io/x"},
	Answer: func(w http.ResponseWriter, r *fake.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"attempt":"1","id":"2","request_id":"3","status":"success"}`))
	},
}

func TestEndToEnd(t *testing.T) { webhooktest.EndToEnd(t, tray) }

// Without ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS the hub refuses to connect to the loopback
// fake, although the trayapp.io host passed the domain check: the guard is at dial time.
func TestEndToEndLoopbackRefused(t *testing.T) { webhooktest.LoopbackRefused(t, tray) }

func TestConformance(t *testing.T) { webhooktest.Conformance(t, tray) }
