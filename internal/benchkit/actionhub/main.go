// Command actionhub (internal/benchkit/actionhub) is cmd/actionhub with the actions that
// cmd/bench and the load tests drive imported by name: the same server.Main, the same
// actions/all, so the measured process is the production binary's code whatever
// actions/all lists at the time.
package main

import (
	"os"

	_ "github.com/actionhub/actionhub/actions/all"
	_ "github.com/actionhub/actionhub/actions/amazons3"
	_ "github.com/actionhub/actionhub/actions/braze"
	_ "github.com/actionhub/actionhub/actions/segment"
	_ "github.com/actionhub/actionhub/actions/webhookbatch"
	"github.com/actionhub/actionhub/server"
)

func main() {
	os.Exit(server.Main(os.Args[1:], os.Stdout, os.Stderr))
}
