package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Exit statuses of Main.
const (
	ExitOK      = 0
	ExitFailure = 1 // the action or the hub reported a failure
	ExitUsage   = 2 // bad command line
)

// Environment variables read by Main.
const (
	EnvKey = "LOOKERSIM_KEY"
	EnvHub = "LOOKERSIM_HUB"
)

const usage = `lookersim plays Looker against an Action Hub.

Usage:
  lookersim list    --hub URL --key KEY [--json]
  lookersim form    --hub URL --key KEY --action NAME [--param k=v] [--form k=v] [--type T] [--json]
  lookersim execute --hub URL --key KEY --action NAME [--param k=v] [--form k=v]
                    [--type query|cell|dashboard] [--rows N] [--format F] [--via download|push]
                    [--columns a,b] [--tag col=tag] [--pivot field=v1,v2] [--file data.csv]
                    [--value V] [--title T] [--data-first] [--null-every N] [--unicode]
                    [--rendered] [--extra] [--json]
  lookersim serve   --hub URL --key KEY [--listen 127.0.0.1:8090] [--advertise URL]

The key may also come from $LOOKERSIM_KEY (and the hub from $LOOKERSIM_HUB).
Exit status: 0 on success, 1 when the action or hub reports a failure (success:false,
an HTTP error, a form error), 2 on a usage error. Run "lookersim <command> -h" for flags.
`

// kvList is a repeatable k=v flag.
type kvList map[string]string

func (l kvList) String() string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k+"=…")
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (l kvList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	l[k] = v
	return nil
}

// tagList is a repeatable col=tag flag, kept in order.
type tagList [][2]string

func (l *tagList) String() string { return fmt.Sprint(*l) }
func (l *tagList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want column=tag, got %q", s)
	}
	*l = append(*l, [2]string{k, v})
	return nil
}

type cliFlags struct {
	fs            *flag.FlagSet
	hub, key      string
	lookerVersion string
	instance      string
	user          string
	action        string
	typ           string
	asJSON        bool
	timeout       time.Duration
	params, form  kvList
	state         string
	// execute
	rows      int64
	format    string
	via       string
	columns   string
	tags      tagList
	pivot     string
	file      string
	value     string
	title     string
	seed      uint64
	shape     Shape
	listen    string
	advertise string
}

func newFlags(cmd string, stderr io.Writer, getenv func(string) string) *cliFlags {
	f := &cliFlags{fs: flag.NewFlagSet("lookersim "+cmd, flag.ContinueOnError), params: kvList{}, form: kvList{}}
	fs := f.fs
	fs.SetOutput(stderr)
	fs.StringVar(&f.hub, "hub", getenv(EnvHub), "the hub's root URL ($"+EnvHub+")")
	fs.StringVar(&f.key, "key", "", "the hub's API key (default $"+EnvKey+")")
	fs.StringVar(&f.lookerVersion, "looker-version", DefaultLookerVersion, "Looker version in the User-Agent")
	fs.StringVar(&f.instance, "instance", "", "X-Looker-Instance (default random)")
	fs.BoolVar(&f.asJSON, "json", false, "print machine-readable JSON")
	fs.DurationVar(&f.timeout, "timeout", 0, "give up after this long (0: no limit)")
	switch cmd {
	case "form", "execute":
		fs.StringVar(&f.action, "action", "", "the action's name")
		fs.StringVar(&f.user, "user", DefaultUser, "the simulated Looker user")
		fs.StringVar(&f.typ, "type", "", "request type: query, cell or dashboard (default: the action's first)")
		fs.Var(f.params, "param", "admin param k=v (repeatable)")
		fs.Var(f.form, "form", "form value k=v (repeatable)")
		fs.StringVar(&f.state, "state", "", "the user's stored state, sent as state_json (OAuth actions)")
		fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "where to serve download and state URLs")
		fs.StringVar(&f.advertise, "advertise", "", "base URL the hub uses to reach --listen (default http://<listen address>)")
	case "serve":
		fs.StringVar(&f.listen, "listen", "127.0.0.1:8090", "address of the web UI, download and state URLs")
		fs.StringVar(&f.advertise, "advertise", "", "base URL the hub uses to reach --listen (default http://<listen address>)")
	}
	if cmd == "execute" {
		fs.Int64Var(&f.rows, "rows", 100, "number of generated rows")
		fs.StringVar(&f.format, "format", "", "data format (default: the action's first supported)")
		fs.StringVar(&f.via, "via", "", "download (one-time URL) or push (attachment); default: the action's setting")
		fs.StringVar(&f.columns, "columns", "", "generated columns, comma-separated (default: a user list)")
		fs.Var(&f.tags, "tag", "tag a column: col=tag (repeatable; adds the column if missing)")
		fs.StringVar(&f.pivot, "pivot", "", "pivot measures: field=v1,v2,...")
		fs.StringVar(&f.file, "file", "", "send this CSV or JSON file instead of generated rows")
		fs.StringVar(&f.value, "value", "", "the cell value of a cell send (data.value)")
		fs.StringVar(&f.title, "title", DefaultTitle, "scheduled plan title")
		fs.Uint64Var(&f.seed, "seed", 0, "seed of the generated values")
		fs.BoolVar(&f.shape.DataFirst, "data-first", false, "shape: json_detail \"data\" before \"fields\"")
		fs.IntVar(&f.shape.NullEvery, "null-every", 0, "shape: every n-th cell null")
		fs.BoolVar(&f.shape.Unicode, "unicode", false, "shape: text with escapes, emoji and CJK")
		fs.BoolVar(&f.shape.Rendered, "rendered", false, "shape: rendered values and links in json_detail cells")
		fs.BoolVar(&f.shape.Extra, "extra", false, "shape: full json_detail's extra top-level keys")
	}
	return f
}

func (f *cliFlags) parse(args []string, getenv func(string) string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", f.fs.Arg(0))
	}
	if f.key == "" {
		f.key = getenv(EnvKey)
	}
	if f.hub == "" {
		return errors.New("--hub is required")
	}
	if f.key == "" {
		return errors.New("--key (or $" + EnvKey + ") is required")
	}
	if f.fs.Lookup("action") != nil && f.action == "" {
		return errors.New("--action is required")
	}
	return nil
}

// Main runs the lookersim command line with args (without the program name) and returns
// the exit status. getenv reads the environment (os.Getenv when nil).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv == nil {
		getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	cmd := args[0]
	switch cmd {
	case "list", "form", "execute", "serve":
	default:
		fmt.Fprintf(stderr, "lookersim: unknown command %q\n\n%s", cmd, usage)
		return ExitUsage
	}
	f := newFlags(cmd, stderr, getenv)
	if err := f.parse(args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(stderr, "lookersim %s: %v\n", cmd, err)
		return ExitUsage
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	sim := New(Options{Hub: f.hub, Key: f.key, LookerVersion: f.lookerVersion, InstanceID: f.instance})
	switch cmd {
	case "list":
		return cliList(ctx, sim, f, stdout, stderr)
	case "serve":
		return cliServe(ctx, sim, f, stderr)
	}
	// form and execute serve state (and download) URLs while they run.
	stop, err := listen(sim, f.listen, f.advertise, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "lookersim %s: %v\n", cmd, err)
		return ExitUsage
	}
	defer stop()
	if f.state != "" {
		sim.States.Set(f.user, f.action, f.state, "command line")
	}
	if cmd == "form" {
		return cliForm(ctx, sim, f, stdout, stderr)
	}
	return cliExecute(ctx, sim, f, stdout, stderr)
}

// listen serves the simulator's handler on addr and sets the advertised URL.
func listen(sim *Simulator, addr, advertise string, stderr io.Writer) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	advertise = advertiseURL(ln.Addr(), advertise, stderr)
	sim.SetAdvertise(advertise)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// advertiseURL is the base URL the hub is told to use: adv when given, else the listening
// address (loopback when listening on all interfaces, with a warning).
func advertiseURL(addr net.Addr, adv string, stderr io.Writer) string {
	if adv != "" {
		return strings.TrimRight(adv, "/")
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		fmt.Fprintf(stderr, "lookersim: listening on all interfaces; advertising %s to the hub — set --advertise to an address it can reach\n", host)
	}
	return "http://" + net.JoinHostPort(host, port)
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func cliList(ctx context.Context, sim *Simulator, f *cliFlags, stdout, stderr io.Writer) int {
	l, err := sim.Actions(ctx, true)
	if err != nil {
		if f.asJSON {
			printJSON(stdout, map[string]any{"ok": false, "error": err.Error()})
		}
		fmt.Fprintf(stderr, "lookersim list: %v\n", err)
		return ExitFailure
	}
	if f.asJSON {
		printJSON(stdout, l)
		return ExitOK
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tLABEL\tTYPES\tFORMATS\tDELIVERY\tOAUTH\tPARAMS\n")
	for _, in := range l.Integrations {
		var ps []string
		for _, p := range in.Params {
			n := p.Name
			if p.Required {
				n += "*"
			}
			ps = append(ps, n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.Label, strings.Join(in.SupportedActionTypes, ","),
			describeFormats(in), strings.Join(in.SupportedDownloadSettings, ","), dash(in.OAuthKind()), dash(strings.Join(ps, ",")))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d actions (%s)\n", len(l.Integrations), l.Label)
	return ExitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cliForm(ctx context.Context, sim *Simulator, f *cliFlags, stdout, stderr io.Writer) int {
	rec := sim.Form(ctx, FormInput{Action: f.action, User: f.user, Type: f.typ, FormParams: f.form, Params: f.params})
	if f.asJSON {
		out := map[string]any{"ok": rec.OK, "fields": rec.Fields, "http_status": rec.HTTPStatus}
		if rec.Error != "" {
			out["error"] = rec.Error
		}
		if rec.StateChange != "" {
			out["state_change"] = rec.StateChange
		}
		if len(rec.Exchanges) > 0 {
			out["exchange"] = rec.Exchanges[0]
		}
		if rec.Fields == nil {
			out["fields"] = []Field{}
		}
		printJSON(stdout, out)
	} else {
		for _, fl := range rec.Fields {
			line := fmt.Sprintf("%s (%s)", fl.Name, fl.Kind())
			if fl.Label != "" {
				line += " " + fmt.Sprintf("%q", fl.Label)
			}
			if fl.Required {
				line += " required"
			}
			if fl.Interactive {
				line += " interactive"
			}
			if fl.Default != "" {
				line += " default=" + fl.Default
			}
			if len(fl.Options) > 0 {
				var os []string
				for _, o := range fl.Options {
					os = append(os, o.Name)
				}
				line += " options=" + strings.Join(os, "|")
			}
			if fl.Value != "" {
				line += " value=" + fmt.Sprintf("%q", fl.Value)
			}
			if fl.OAuthURL != "" {
				line += " oauth_url=" + maskURLState(fl.OAuthURL)
			}
			fmt.Fprintln(stdout, line)
		}
		if rec.StateChange != "" {
			fmt.Fprintln(stdout, "state:", rec.StateChange)
		}
	}
	if !rec.OK {
		fmt.Fprintf(stderr, "lookersim form: %s\n", rec.Error)
		return ExitFailure
	}
	return ExitOK
}

func cliExecute(ctx context.Context, sim *Simulator, f *cliFlags, stdout, stderr io.Writer) int {
	ei := ExecInput{Action: f.action, User: f.user, Type: f.typ, FormParams: f.form, Params: f.params,
		Format: f.format, Via: f.via, CellValue: f.value, Title: f.title,
		Gen: GenSpec{Rows: f.rows, Seed: f.seed, Shape: f.shape}}
	switch f.via {
	case "", ViaDownload, ViaPush:
	case "url":
		ei.Via = ViaDownload
	default:
		fmt.Fprintf(stderr, "lookersim execute: --via must be download or push\n")
		return ExitUsage
	}
	if f.columns != "" {
		cols, err := ParseColumns(strings.ReplaceAll(f.columns, ",", "\n"))
		if err != nil {
			fmt.Fprintf(stderr, "lookersim execute: %v\n", err)
			return ExitUsage
		}
		ei.Gen.Columns = cols
	} else if f.file == "" {
		ei.Gen.Columns = DefaultColumns()
	}
	for _, t := range f.tags {
		ei.Gen.Columns = AddTag(ei.Gen.Columns, t[0], t[1])
	}
	if f.pivot != "" {
		field, vals, ok := strings.Cut(f.pivot, "=")
		if !ok || field == "" || vals == "" {
			fmt.Fprintf(stderr, "lookersim execute: --pivot wants field=v1,v2\n")
			return ExitUsage
		}
		ei.Gen.Pivot = field
		for _, v := range strings.Split(vals, ",") {
			if v = strings.TrimSpace(v); v != "" {
				ei.Gen.PivotValues = append(ei.Gen.PivotValues, v)
			}
		}
	}
	if f.file != "" {
		if _, err := os.Stat(f.file); err != nil {
			fmt.Fprintf(stderr, "lookersim execute: %v\n", err)
			return ExitUsage
		}
		ei.Upload = &Upload{Name: filepath.Base(f.file), Path: f.file}
	}
	rec := sim.Execute(ctx, ei)
	if f.asJSON {
		printJSON(stdout, rec)
	} else {
		printSend(stdout, rec)
	}
	if !rec.OK {
		msg := rec.Error
		if msg == "" {
			msg = "the action reported failure"
			if rec.Message != "" {
				msg += ": " + rec.Message
			}
		}
		fmt.Fprintf(stderr, "lookersim execute: %s\n", msg)
		return ExitFailure
	}
	return ExitOK
}

func printSend(w io.Writer, rec *Send) {
	if rec.Success != nil {
		fmt.Fprintf(w, "success: %v\n", *rec.Success)
	}
	if rec.HTTPStatus != 0 {
		fmt.Fprintf(w, "http status: %d\n", rec.HTTPStatus)
	}
	if rec.Message != "" {
		fmt.Fprintf(w, "message: %s\n", rec.Message)
	}
	if rec.Error != "" {
		fmt.Fprintf(w, "error: %s\n", rec.Error)
	}
	keys := make([]string, 0, len(rec.ValidationErrors))
	for k := range rec.ValidationErrors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "validation error: %s: %s\n", k, rec.ValidationErrors[k])
	}
	if rec.Type != "" {
		fmt.Fprintf(w, "type: %s", rec.Type)
		if rec.Format != "" {
			fmt.Fprintf(w, ", format: %s, via: %s", rec.Format, rec.Via)
		}
		fmt.Fprintln(w)
	}
	if d := rec.Download; d != nil {
		if d.Fetched {
			fmt.Fprintf(w, "download: %d rows, %d bytes in %s, complete: %v\n", d.Rows, d.Bytes, d.Duration.Round(time.Millisecond), d.Complete)
		} else {
			fmt.Fprintln(w, "download: never fetched by the hub")
		}
	}
	if rec.Pushed > 0 {
		fmt.Fprintf(w, "pushed: %d rows, %d bytes\n", rec.PushedRows, rec.Pushed)
	}
	if rec.StateChange != "" {
		fmt.Fprintf(w, "state: %s\n", rec.StateChange)
	}
	fmt.Fprintf(w, "duration: %s\n", rec.Duration.Round(time.Millisecond))
}

func cliServe(ctx context.Context, sim *Simulator, f *cliFlags, stderr io.Writer) int {
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		fmt.Fprintf(stderr, "lookersim serve: %v\n", err)
		return ExitUsage
	}
	adv := advertiseURL(ln.Addr(), f.advertise, stderr)
	sim.SetAdvertise(adv)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "lookersim: web UI on http://%s (advertised to the hub as %s), hub %s\n", ln.Addr(), adv, f.hub)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "lookersim serve: %v\n", err)
		return ExitFailure
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return ExitOK
	}
}
