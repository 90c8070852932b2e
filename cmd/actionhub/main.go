// Command actionhub is the Looker Action Hub: it serves the Action API with every action in
// this repository. With no environment it starts in development mode and prints the URL and
// token to paste into Looker; `actionhub generate-api-key` prints a key for ACTION_HUB_SECRET.
package main

import (
	"os"

	_ "github.com/actionhub/actionhub/actions/all"
	"github.com/actionhub/actionhub/server"
)

func main() {
	os.Exit(server.Main(os.Args[1:], os.Stdout, os.Stderr))
}
