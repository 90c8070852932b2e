// Package hubtest is the in-repository name of package actiontest's test hub, kept so the
// project's own tests read as before; see package actiontest.
package hubtest

import "github.com/actionhub/actionhub/actiontest"

// Aliases of package actiontest.
type (
	Options       = actiontest.Options
	Hub           = actiontest.Hub
	Result        = actiontest.Result
	ExecuteResult = actiontest.ExecuteResult
	Envelope      = actiontest.Envelope
	FormResult    = actiontest.FormResult
)

// Test credentials.
const (
	Secret        = actiontest.Secret
	CipherMaster  = actiontest.CipherMaster
	LookerVersion = actiontest.LookerVersion
)

// New starts a test hub; see actiontest.New.
var New = actiontest.New
