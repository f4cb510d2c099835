// Command loadtest measures what a whole logon costs the server beside its one unavoidable
// argon2id hash. It seeds many distinct citizens (every key kind) in a fresh SQLite database or
// PostgreSQL schema, starts real `sleutelbos serve` processes on 127.0.0.1 (one, or several
// sharing PostgreSQL), and drives whole logons from concurrent clients — password, token card,
// authenticator app, security code by e-mail (read from real e-mails: the nodes deliver to an
// SMTP server inside the driver), directly or through an OpenID Connect online service.
//
// Every configuration (backend × nodes × flow × kind × clients) runs in pairs, A B A B …: A is
// the hash-only ceiling (argon2id verifications on every core, in the driver, nodes idle), B the
// logon run, equally long. From the kernel's accounting of the same run it reports E, the CPU
// time of one hash ÷ the nodes' CPU time per logon, beside the throughput ratio (logons/s ÷
// hash-only/s), the nodes' CPU per logon besides the hash, the database's CPU per logon,
// latency percentiles, failures by reason and the nodes' peak RSS.
//
//	go build -o bin/sleutelbos ./cmd/sleutelbos && go run ./cmd/loadtest -backends sqlite -clients 1,4
//
// Everything is bounded (-duration per run, -max-logons per run, -timeout overall) and stays on
// loopback addresses; PostgreSQL must be on 127.0.0.1 or localhost.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
		os.Exit(1)
	}
}

// options are the driver's flags, checked.
type options struct {
	bin, postgresURL, jsonPath string
	profileDir                 string   // -profile: a CPU profile of the first node per configuration
	serveFlags                 []string // -serve-flags: more flags for every node
	backends, flows, kinds     []string
	nodes, clients             []int
	citizens, pairs            int
	maxLogons, sources         int
	duration, timeout          time.Duration
}

var (
	allBackends = []string{"sqlite", "postgres"}
	allFlows    = []string{flowWeb, flowOIDC}
	allKinds    = []string{keys.Password, keys.TokenCard, keys.TOTP, keys.EmailCode}
)

// Bounds of the flags.
const (
	maxClients   = 256
	maxCitizens  = 100_000
	maxNodes     = 4
	maxPairs     = 20
	maxDuration  = 5 * time.Minute
	maxTimeout   = 2 * time.Hour
	maxLogonsCap = 1_000_000
)

// postgresURLEnv is where -postgres-url comes from by default (make test and make bench set it).
const postgresURLEnv = "SLEUTELBOS_TEST_POSTGRES_URL"

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var backends, flows, kinds, nodes, clients string
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "server", "bin/sleutelbos", "the sleutelbos binary to start")
	fs.StringVar(&backends, "backends", "sqlite,postgres", "databases to measure: sqlite, postgres")
	fs.StringVar(&o.postgresURL, "postgres-url", getenv(postgresURLEnv), "PostgreSQL database on 127.0.0.1 to create a fresh schema in (default $"+postgresURLEnv+")")
	fs.StringVar(&nodes, "nodes", "1,2", "node counts to measure; more than one shares PostgreSQL (skipped on SQLite)")
	fs.StringVar(&flows, "flows", flowWeb, "logon flows: web (the logon pages), oidc (an online service: authorize, logon, token, userinfo)")
	fs.StringVar(&kinds, "kinds", "password,tokencard", "key kinds: password, tokencard, totp, emailcode")
	fs.StringVar(&clients, "clients", "1,2,4,64", "concurrent client counts to measure (1 to 256 each)")
	fs.IntVar(&o.citizens, "citizens", 10_000, "distinct citizens to seed (1 to 100000); each client logs its own ones on")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "length of each hash-only run and each logon run (at most 5m)")
	fs.IntVar(&o.pairs, "pairs", 3, "hash-only/logon run pairs per configuration (1 to 20; 3 or more for figures)")
	fs.IntVar(&o.maxLogons, "max-logons", 100_000, "stop a logon run after this many logons (1 to 1000000)")
	fs.IntVar(&o.sources, "source-addresses", 1, "spread the clients over this many loopback source addresses, 127.0.0.1 up (1 to 254)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "stop everything after this long (at most 2h)")
	fs.StringVar(&o.jsonPath, "json", "", "also write every run's figures to this file as JSON")
	fs.StringVar(&o.profileDir, "profile", "", "after each configuration's pairs, one more logon run (not counted) with a CPU profile of the first node, written to this directory")
	var serveFlags string
	fs.StringVar(&serveFlags, "serve-flags", "", "more flags for every serve process, separated by spaces (e.g. \"--gc-memory-limit-mib -1\" for Go's default collector)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	o.serveFlags = strings.Fields(serveFlags)
	reserved := reservedServeFlags()
	for _, f := range o.serveFlags {
		if name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "="); strings.HasPrefix(f, "-") && slices.Contains(reserved, name) {
			errs = append(errs, fmt.Errorf("-serve-flags: %s is set by the driver itself", f))
		}
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	check := func(name string, list []string, allowed []string) []string {
		if len(list) == 0 {
			errs = append(errs, fmt.Errorf("-%s: name at least one of %s", name, strings.Join(allowed, ", ")))
		}
		for _, v := range list {
			if !slices.Contains(allowed, v) {
				errs = append(errs, fmt.Errorf("-%s: %q is not one of %s", name, v, strings.Join(allowed, ", ")))
			}
		}
		return list
	}
	o.backends = check("backends", splitList(backends), allBackends)
	o.flows = check("flows", splitList(flows), allFlows)
	o.kinds = check("kinds", splitList(kinds), allKinds)
	ints := func(name, v string, lo, hi int) []int {
		var out []int
		for _, f := range splitList(v) {
			n, err := strconv.Atoi(f)
			if err != nil || n < lo || n > hi {
				errs = append(errs, fmt.Errorf("-%s: %q: want %d to %d", name, f, lo, hi))
				continue
			}
			out = append(out, n)
		}
		if len(out) == 0 && len(splitList(v)) == 0 {
			errs = append(errs, fmt.Errorf("-%s: give at least one number", name))
		}
		return out
	}
	o.nodes = ints("nodes", nodes, 1, maxNodes)
	o.clients = ints("clients", clients, 1, maxClients)
	if o.citizens < 1 || o.citizens > maxCitizens {
		errs = append(errs, fmt.Errorf("-citizens %d: want 1 to %d", o.citizens, maxCitizens))
	} else if len(o.clients) > 0 && slices.Max(o.clients) > o.citizens {
		errs = append(errs, fmt.Errorf("-clients %d with -citizens %d: every client needs citizens of its own", slices.Max(o.clients), o.citizens))
	}
	if o.duration <= 0 || o.duration > maxDuration {
		errs = append(errs, fmt.Errorf("-duration %s: want more than 0 and at most %s", o.duration, maxDuration))
	}
	if o.pairs < 1 || o.pairs > maxPairs {
		errs = append(errs, fmt.Errorf("-pairs %d: want 1 to %d", o.pairs, maxPairs))
	}
	if o.maxLogons < 1 || o.maxLogons > maxLogonsCap {
		errs = append(errs, fmt.Errorf("-max-logons %d: want 1 to %d", o.maxLogons, maxLogonsCap))
	}
	if o.sources < 1 || o.sources > 254 {
		errs = append(errs, fmt.Errorf("-source-addresses %d: want 1 to 254", o.sources))
	}
	if o.timeout <= 0 || o.timeout > maxTimeout {
		errs = append(errs, fmt.Errorf("-timeout %s: want more than 0 and at most %s", o.timeout, maxTimeout))
	}
	if slices.Contains(o.backends, "postgres") {
		if o.postgresURL == "" {
			errs = append(errs, fmt.Errorf("-backends postgres needs -postgres-url (or $%s), e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", postgresURLEnv))
		} else if u, err := url.Parse(o.postgresURL); err != nil || !isLoopback(u.Hostname()) {
			errs = append(errs, errors.New("-postgres-url: only a database on 127.0.0.1/localhost is allowed"))
		}
	}
	return o, errors.Join(errs...)
}

// configs lists the configurations of backend with n nodes, in the order they run.
func (o options) configs(backend string, n int) []configuration {
	var out []configuration
	for _, flow := range o.flows {
		for _, kind := range o.kinds {
			for _, c := range o.clients {
				out = append(out, configuration{Backend: backend, Nodes: n, Flow: flow, Kind: kind, Clients: c})
			}
		}
	}
	return out
}

// nodeCounts lists the node counts measured on backend: SQLite is one node's own file.
func (o options) nodeCounts(backend string) []int {
	if backend == "sqlite" {
		if slices.Contains(o.nodes, 1) {
			return []int{1}
		}
		return nil
	}
	return o.nodes
}

// report is the JSON output.
type report struct {
	Machine    string    `json:"machine"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	LoadBefore []float64 `json:"load_before"`
	LoadAfter  []float64 `json:"load_after"`
	Citizens   int       `json:"citizens"`
	Argon2id   string    `json:"argon2id"`
	Results    []result  `json:"results"`
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("-server %s: %w (build it with: go build -o %s ./cmd/sleutelbos)", o.bin, err, o.bin)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	hz, err := clockTicks()
	if err != nil {
		return err
	}
	set, err := newCitizenSet(o.citizens)
	if err != nil {
		return err
	}
	mail, err := startMailbox()
	if err != nil {
		return fmt.Errorf("SMTP server: %w", err)
	}
	defer mail.close()
	dir, err := os.MkdirTemp("", "sleutelbos-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	rep := report{Machine: cpuModel(), GOMAXPROCS: runtime.GOMAXPROCS(0), Citizens: o.citizens}
	before := loadavg()
	rep.LoadBefore = before[:]
	total := 0
	for _, b := range o.backends {
		for _, n := range o.nodeCounts(b) {
			total += len(o.configs(b, n))
		}
	}
	fmt.Fprintf(stdout, "loadtest: %s; GOMAXPROCS %d; %s; %s\n", rep.Machine, rep.GOMAXPROCS, runtime.Version(), machineLine("before:", before))
	fmt.Fprintf(stdout, "loadtest: %d configurations × %d pairs × (%s hash-only + %s logons); %d distinct citizens; clients from %d loopback address(es)\n",
		total, o.pairs, o.duration, o.duration, o.citizens, o.sources)
	b := &bench{o: o, set: set, mail: mail, dir: dir, hz: hz, out: stdout}
	if b.enc, b.hashKey, err = generateSecrets(rand.Reader); err != nil {
		return err
	}
	var runErr error
	for _, backend := range o.backends {
		rs, err := b.runBackend(ctx, backend)
		rep.Results = append(rep.Results, rs...)
		if err != nil {
			runErr = fmt.Errorf("%s: %w", backend, err)
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				runErr = fmt.Errorf("stopped at -timeout %s: %d of %d configurations measured", o.timeout, len(rep.Results), total)
			case ctx.Err() != nil:
				runErr = fmt.Errorf("interrupted: %d of %d configurations measured", len(rep.Results), total)
			}
			break
		}
	}
	fmt.Fprintln(stdout, legend)
	if lines := targetLines(rep.Results); len(lines) > 0 {
		fmt.Fprintln(stdout, "Targets (README, \"Performance\"), as measured in this run:")
		for _, l := range lines {
			fmt.Fprintln(stdout, "  "+l)
		}
		fmt.Fprintln(stdout)
	}
	after := loadavg()
	rep.LoadAfter = after[:]
	rep.Argon2id = b.params
	fmt.Fprintf(stdout, "loadtest: %s; argon2id %s\n", machineLine("after:", after), b.params)
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr == nil && mail.unreadable() > 0 {
		runErr = fmt.Errorf("%d e-mails without a readable security code", mail.unreadable())
	}
	if runErr == nil && b.failed > 0 {
		runErr = fmt.Errorf("%w: %d in %d configurations (reasons under each row)", errFailures, b.failed, b.configsFailed)
	}
	return runErr
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
