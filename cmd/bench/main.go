// Command bench measures the Action Hub on this machine in one run over loopback: it builds
// the hub binary, starts it as a child process for each measured row, feeds it generated
// Looker data from one-time download URLs and lets it deliver to the repository's vendor
// fakes. It prints a table (or JSON with -json) of:
//
//   - rows/s and the hub's peak RSS for Segment Identify and Braze at 100k and 1M rows,
//   - MB/s and peak RSS for an amazon_s3 upload of 1 GiB,
//   - the same bytes merely read from the socket into io.Discard, the physical reference,
//   - p50/p99 latency and requests/s of the action list and a form at 64 clients,
//
// with the date and the machine (CPU model, cores). -quick makes a small run (seconds).
//
//	go run ./cmd/bench
//	go run ./cmd/bench -quick -json
//	go run ./cmd/bench -s3 256M -segment 100000 -braze 100000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/actionhub/actionhub/internal/benchkit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "small run: 2,000 and 10,000 rows, 16 MiB, 0.5 s of latency load")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	segment := fs.String("segment", "", "Segment Identify row counts, comma-separated (default 100000,1000000)")
	braze := fs.String("braze", "", "Braze row counts, comma-separated (default 100000,1000000)")
	s3 := fs.String("s3", "", "amazon_s3 upload size: bytes or with a K, M or G suffix (default 1G; 0 skips)")
	clients := fs.Int("clients", 0, "concurrent clients of the latency rows (default 64)")
	duration := fs.Duration("duration", 0, "duration of each latency row (default 5s)")
	hub := fs.String("hub", "", "hub binary to run instead of building one")
	pkg := fs.String("pkg", benchkit.BenchHub, "main package built when -hub is not given")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	opt := benchkit.DefaultOptions()
	if *quick {
		opt = benchkit.QuickOptions()
	}
	var err error
	if *segment != "" {
		if opt.SegmentRows, err = counts(*segment); err != nil {
			fmt.Fprintf(stderr, "bench: -segment: %v\n", err)
			return 2
		}
	}
	if *braze != "" {
		if opt.BrazeRows, err = counts(*braze); err != nil {
			fmt.Fprintf(stderr, "bench: -braze: %v\n", err)
			return 2
		}
	}
	if *s3 != "" {
		if opt.S3Bytes, err = benchkit.ParseSize(*s3); err != nil {
			fmt.Fprintf(stderr, "bench: -s3: %v\n", err)
			return 2
		}
	}
	if *clients > 0 {
		opt.Clients = *clients
	}
	if *duration > 0 {
		opt.LatencyDuration = *duration
	}
	opt.HubBinary, opt.HubPackage = *hub, *pkg
	if !*quiet {
		opt.Progress = stderr
	}
	start := time.Now()
	res, err := benchkit.Run(ctx, opt)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v (after %s)\n", err, time.Since(start).Round(time.Millisecond))
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		return 0
	}
	if err := res.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

// counts parses "100000,1000000" (underscores allowed).
func counts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(f), "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive row count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
