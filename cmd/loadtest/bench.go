package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/sleutelbos/sleutelbos/internal/app"
	sbconfig "github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/password"
)

// bench is one invocation's state: the citizens, the SMTP server, the secrets every node
// shares, and where the output goes.
type bench struct {
	o             options
	set           citizenSet
	mail          *mailbox
	dir           string
	hz            int64
	out           io.Writer
	enc, hashKey  string
	params        string // the argon2id parameters, for the report
	failed        int
	configsFailed int
}

func generateSecrets(r io.Reader) (string, string, error) { return app.GenerateSecrets(r) }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runBackend seeds a fresh database of backend and measures its configurations with each
// node count.
func (b *bench) runBackend(ctx context.Context, backend string) ([]result, error) {
	counts := b.o.nodeCounts(backend)
	if len(counts) == 0 {
		fmt.Fprintf(b.out, "loadtest: %s: skipped (several nodes need PostgreSQL)\n", backend)
		return nil, nil
	}
	cfg := sbconfig.Default()
	cfg.DataDir = filepath.Join(b.dir, backend)
	cfg.EncryptionKeys, cfg.HashKey = b.enc, b.hashKey
	var pg *pgTarget
	if backend == "postgres" {
		var err error
		if pg, err = newPGTarget(ctx, b.o.postgresURL); err != nil {
			return nil, err
		}
		defer func() {
			if err := pg.close(); err != nil {
				fmt.Fprintln(b.out, "loadtest:", err)
			}
		}()
		cfg.DatabaseURL = pg.nodeURL
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params := password.Params{Memory: uint32(cfg.PasswordMemoryKiB), Time: uint32(cfg.PasswordTime),
		Threads: uint8(cfg.PasswordThreads), SaltLen: 16, KeyLen: 32}
	b.params = params.String()
	// The hash the figures divide is the hash alone: the driver's own collector batches the
	// hash memory the way the nodes' does by default (password.HeapLimit; the driver holds the
	// citizens and the latencies besides, hence the extra 64 MiB), so neither side's figure
	// carries a collection after nearly every hash.
	password.TuneGC(password.HeapLimit(params, runtime.GOMAXPROCS(0)) + 64<<20)
	sr, err := seed(ctx, cfg, b.set, b.out)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.out, "loadtest: %s: seeded %d citizens (password, token card, e-mail code, authenticator app) in %s\n",
		backend, b.set.n, sr.took.Round(10*time.Millisecond))
	hasher := password.New(params, 0, rand.Reader)
	state := newCitizenState(b.set.n, cfg.EmailCodeMax, cfg.EmailCodeWindow)
	var results []result
	for _, n := range counts {
		rs, err := b.runNodes(ctx, backend, cfg, n, pg, sr, hasher, state)
		results = append(results, rs...)
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// runNodes starts n nodes on cfg's database and measures every configuration on them.
func (b *bench) runNodes(ctx context.Context, backend string, cfg sbconfig.Config, n int, pg *pgTarget, sr seedResult,
	hasher *password.Hasher, state *citizenState) ([]result, error) {
	ns := &nodeSet{pg: pg, hz: b.hz}
	defer func() {
		for _, nd := range ns.nodes {
			nd.stop()
		}
	}()
	for i := range n {
		name := fmt.Sprintf("node%d", i+1)
		args := serveArgs(cfg, name, b.mail.port())
		if b.o.profileDir != "" {
			args = append(args, "--pprof")
		}
		nd, err := startNode(ctx, b.o.bin, name, append(args, b.o.serveFlags...), b.dir)
		if err != nil {
			return nil, err
		}
		ns.nodes = append(ns.nodes, nd)
	}
	// The online service's discovery, and later the ID token verifier's key fetches, use a
	// client of their own.
	oidcCtx := oidc.ClientContext(ctx, &http.Client{Transport: newTransport(net.IPv4(127, 0, 0, 1)), Timeout: 30 * time.Second})
	ns.rps = make([]*relyingParty, n)
	for i, nd := range ns.nodes {
		rp, err := discover(oidcCtx, nd.url, sr.clientID, sr.clientSecret)
		if err != nil {
			return nil, err
		}
		ns.rps[i] = rp
	}
	stop := ctx.Done()
	// Warm up: connections, caches, the first page renders; and see that logons work at all.
	for _, flow := range b.o.flows {
		spec := runSpec{flow: flow, kind: keys.Password, clients: n, duration: 500 * time.Millisecond, maxLogons: 20, sources: 1}
		w, err := logonPhase(ctx, ns, newClients(ns, spec, b.set, state, b.mail, stop), spec)
		if err != nil {
			return nil, err
		}
		if w.OK == 0 {
			return nil, fmt.Errorf("%d nodes: no %s logon succeeded while warming up: %v", n, flow, w.Failures)
		}
	}
	if pg != nil {
		if pids, err := pg.backendPIDs(ctx); err == nil && len(pids) > 0 {
			if st, err := readStat(pids[0]); err == nil {
				ns.postmaster = st.PPID
			}
		}
	}
	header := false
	var results []result
	for _, c := range b.o.configs(backend, n) {
		if !header {
			fmt.Fprintln(b.out, tableHeader)
			header = true
		}
		r, err := b.measure(ctx, ns, c, sr, hasher, state)
		if err != nil {
			return results, err
		}
		results = append(results, r)
		writeRow(b.out, r)
	}
	return results, nil
}

// measure runs the pairs of configuration c.
func (b *bench) measure(ctx context.Context, ns *nodeSet, c configuration, sr seedResult, hasher *password.Hasher, state *citizenState) (result, error) {
	spec := runSpec{flow: c.Flow, kind: c.Kind, clients: c.Clients, duration: b.o.duration, maxLogons: b.o.maxLogons, sources: b.o.sources}
	cs := newClients(ns, spec, b.set, state, b.mail, ctx.Done())
	r := result{Config: c}
	for range b.o.pairs {
		h, err := hashPhase(ctx, hasher, sr.passwordHash, b.set.password, runtime.GOMAXPROCS(0), b.o.duration)
		if err != nil {
			return r, fmt.Errorf("hash-only run: %w", err)
		}
		hc := h
		if k := hashConcurrency(c.Clients); k < runtime.GOMAXPROCS(0) {
			if hc, err = hashPhase(ctx, hasher, sr.passwordHash, b.set.password, k, b.o.duration/2); err != nil {
				return r, fmt.Errorf("hash CPU run: %w", err)
			}
		}
		l, err := logonPhase(ctx, ns, cs, spec)
		if err != nil {
			return r, err
		}
		r.Pairs = append(r.Pairs, pair{Hash: h, HashCPU: hc, Logon: l})
	}
	r.Summary = summarize(r.Pairs)
	if b.o.profileDir != "" {
		path, err := b.profile(ctx, ns, c, cs, spec)
		if err != nil {
			return r, fmt.Errorf("profile: %w", err)
		}
		fmt.Fprintf(b.out, "loadtest: CPU profile of %s during one more logon run: %s (go tool pprof -top %s %s)\n", ns.nodes[0].name, path, b.o.bin, path)
	}
	if r.Summary.Failed > 0 {
		b.failed += r.Summary.Failed
		b.configsFailed++
	}
	return r, nil
}

// errFailures is returned when logons failed: the figures are printed, and the reasons.
var errFailures = errors.New("logons failed")

// profile runs one more logon run of c, not counted in the figures, while the first node
// records a CPU profile (its --pprof endpoint), and writes the profile to -profile's directory.
func (b *bench) profile(ctx context.Context, ns *nodeSet, c configuration, cs []*client, spec runSpec) (string, error) {
	nd := ns.nodes[0]
	if nd.metrics == "" {
		return "", errors.New("the node printed no metrics address")
	}
	if err := os.MkdirAll(b.o.profileDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(b.o.profileDir, fmt.Sprintf("%s-%dnodes-%s-%s-%dclients.pprof", c.Backend, c.Nodes, c.Flow, c.Kind, c.Clients))
	seconds := max(int(spec.duration/time.Second), 1)
	spec.duration = time.Duration(seconds) * time.Second
	type fetched struct {
		body []byte
		err  error
	}
	got := make(chan fetched, 1)
	go func() {
		u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", nd.metrics, seconds)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			got <- fetched{err: err}
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- fetched{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", u, resp.Status)
		}
		got <- fetched{body: body, err: err}
	}()
	if _, err := logonPhase(ctx, ns, cs, spec); err != nil {
		return "", err
	}
	f := <-got
	if f.err != nil {
		return "", f.err
	}
	return path, os.WriteFile(path, f.body, 0o644)
}
