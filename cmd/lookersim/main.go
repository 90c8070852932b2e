// Command lookersim plays Looker against an Action Hub (ours or Google's Node hub): it
// lists actions, fetches forms and executes actions with generated or uploaded data,
// from the command line or from a local web page (lookersim serve). See package
// simulator.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/actionhub/actionhub/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := simulator.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
