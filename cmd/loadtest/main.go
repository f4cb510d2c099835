// Command loadtest drives whole logons (chooser, password, token card code, welcome page)
// against a real `sleutelbos serve --demo` process on 127.0.0.1 and reports throughput and
// latency. It is bounded in time and in count, and refuses any target that is not loopback.
//
//	go build -o bin/sleutelbos ./cmd/sleutelbos && go run ./cmd/loadtest -clients 8 -duration 20s
//
// With -database-url postgres://… the server uses PostgreSQL (a fresh schema is advisable).
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, databaseURL, kinds string
	clients, maxLogons      int
	duration                time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&o.bin, "server", "bin/sleutelbos", "the sleutelbos binary to start")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL for the server (default: SQLite in a temporary directory)")
	fs.StringVar(&o.kinds, "kinds", "password,tokencard", "key kinds to log on with, round robin")
	fs.IntVar(&o.clients, "clients", 8, "concurrent clients (1 to 256)")
	fs.IntVar(&o.maxLogons, "max-logons", 5000, "stop after this many logons (1 to 1000000)")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "stop after this long (at most 5m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	if o.clients < 1 || o.clients > 256 {
		errs = append(errs, fmt.Errorf("-clients %d: want 1 to 256", o.clients))
	}
	if o.maxLogons < 1 || o.maxLogons > 1_000_000 {
		errs = append(errs, fmt.Errorf("-max-logons %d: want 1 to 1000000", o.maxLogons))
	}
	if o.duration <= 0 || o.duration > 5*time.Minute {
		errs = append(errs, fmt.Errorf("-duration %s: want more than 0 and at most 5m", o.duration))
	}
	kinds := strings.Split(o.kinds, ",")
	for _, k := range kinds {
		if k != "password" && k != "tokencard" {
			errs = append(errs, fmt.Errorf("-kinds: %q is not supported (password, tokencard; totp codes cannot be reused concurrently)", k))
		}
	}
	if o.databaseURL != "" {
		if u, err := url.Parse(o.databaseURL); err != nil || !isLoopback(u.Hostname()) {
			errs = append(errs, errors.New("-database-url: only a database on 127.0.0.1/localhost is allowed"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	base, codes, cleanup, err := startServer(ctx, o)
	if err != nil {
		return err
	}
	defer cleanup()

	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var next, failures atomic.Int64
	lat := make([][]time.Duration, o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for ctx.Err() == nil {
				n := next.Add(1)
				if n > int64(o.maxLogons) {
					return
				}
				kind := kinds[int(n)%len(kinds)]
				t0 := time.Now()
				if err := logon(base, kind, codes); err != nil {
					if failures.Add(1) <= 3 {
						fmt.Fprintf(os.Stderr, "loadtest: logon %d (%s): %v\n", n, kind, err)
					}
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))]
	}
	backend := "sqlite"
	if o.databaseURL != "" {
		backend = "postgres"
	}
	fmt.Fprintf(out, "loadtest: %d logons (%s) in %s by %d clients on %s: %.1f logons/s, %d failed; latency p50 %s p95 %s p99 %s\n",
		len(all), o.kinds, elapsed.Round(time.Millisecond), o.clients, backend, float64(len(all))/elapsed.Seconds(),
		failures.Load(), pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), pct(0.99).Round(time.Millisecond))
	if failures.Load() > 0 {
		return fmt.Errorf("%d logons failed", failures.Load())
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// logon performs one whole logon of kind as a fresh browser.
func logon(base, kind string, codes [tokencard.Positions]string) error {
	c := webtest.New(base, nil)
	query := "?level=substantial"
	if kind == "password" {
		query = ""
	}
	p, err := c.StartLogon(query, kind, "demo", "demo-password-1")
	if err != nil {
		return err
	}
	if kind == "tokencard" {
		pos := p.Position()
		if pos < 1 {
			return fmt.Errorf("no card position at %s: %q", p.URL.Path, p.Alert())
		}
		if p, err = c.SubmitCode(codes[pos-1]); err != nil {
			return err
		}
	}
	if p.Status != http.StatusOK || p.URL.Path != "/" {
		return fmt.Errorf("ended at %s with %d: %q", p.URL.Path, p.Status, p.Alert())
	}
	return nil
}

// startServer runs `serve --demo` with fixed secrets and returns its URL and the demo card.
func startServer(ctx context.Context, o options) (string, [tokencard.Positions]string, func(), error) {
	var codes [tokencard.Positions]string
	hashKey := []byte("loadtest-hash-key-loadtest-hash-key!")
	h, err := secrets.NewHasher(hashKey)
	if err != nil {
		return "", codes, nil, err
	}
	codes = tokencard.DemoCodes(demo.Seed(h), demo.SerialPrefix+"DEMO")
	dir, err := os.MkdirTemp("", "sleutelbos-loadtest-")
	if err != nil {
		return "", codes, nil, err
	}
	args := []string{"serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn",
		"--encryption-keys", "k1:" + base64.StdEncoding.EncodeToString([]byte("loadtest-encryption-key-32-bytes")),
		"--hash-key", base64.StdEncoding.EncodeToString(hashKey),
		// Every logon here is a fresh browser from 127.0.0.1: lift the per-address limit.
		"--logon-starts-per-address", "1000000"}
	if o.databaseURL != "" {
		args = append(args, "--database-url", o.databaseURL)
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return "", codes, nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", codes, nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", codes, nil, fmt.Errorf("start %s (build it with: go build -o %s ./cmd/sleutelbos): %w", o.bin, filepath.Clean(o.bin), err)
	}
	cleanup := func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
		os.RemoveAll(dir)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Sleutelbos is serving at "); ok {
				urlc <- u
			}
		}
	}()
	select {
	case u := <-urlc:
		return u, codes, cleanup, nil
	case <-time.After(60 * time.Second):
		cleanup()
		return "", codes, nil, errors.New("the server did not start within 60 s")
	}
}
