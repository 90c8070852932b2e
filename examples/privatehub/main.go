// Command privatehub is a complete private Action Hub: one company action ("Post to our
// CRM") registered next to the built-in actions, served with the same server as
// cmd/actionhub. Copy this folder to start your own hub.
package main

import (
	"os"

	_ "github.com/actionhub/actionhub/actions/all" // optional: the built-in actions too
	"github.com/actionhub/actionhub/server"
)

func main() {
	os.Exit(server.Main(os.Args[1:], os.Stdout, os.Stderr))
}
