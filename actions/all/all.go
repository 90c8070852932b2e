// Package all imports every action of this repository so that each registers itself.
// cmd/actionhub imports it; a private hub that wants the built-in actions does too.
package all

import (
	_ "github.com/actionhub/actionhub/actions/debug"
)
