package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/password"
)

// A configuration is measured in pairs: A, the hash-only ceiling (argon2id verifications of
// the seeded hash on GOMAXPROCS goroutines in the driver, with the nodes idle), then B, the
// logon run, each as long as the other — A B A B … — so both see the machine as it is at the
// time, however much other work shares it.
//
// The CPU time of one hash depends on how many run at once: two hashes on two cores compete
// for caches and memory bandwidth and each costs some 20% more CPU than one alone. So the hash
// CPU that E divides is measured with as many hashes at once as the nodes compute during the
// logon run — min(clients, GOMAXPROCS) — in a second part of A (half as long) when that is
// fewer than the ceiling's GOMAXPROCS.

// hashRun is one A run.
type hashRun struct {
	Hashes  int           `json:"hashes"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// CPU is the driver's user+system time during the run (getrusage): all of it hashing.
	CPU time.Duration `json:"cpu_ns"`
}

// logonRun is one B run.
type logonRun struct {
	OK      int           `json:"ok"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// ServeCPU is the nodes' user+system time (/proc/PID/stat), summed over the nodes.
	ServeCPU time.Duration `json:"serve_cpu_ns"`
	// DBCPU is the CPU time of the PostgreSQL backends serving the nodes' connections.
	DBCPU time.Duration `json:"db_cpu_ns"`
	// ClusterCPU is the whole PostgreSQL cluster's (everyone's work on a shared server); -1
	// when unknown.
	ClusterCPU time.Duration `json:"cluster_cpu_ns"`
	// DriverCPU is this process's own CPU time: the clients' side of the logons.
	DriverCPU time.Duration   `json:"driver_cpu_ns"`
	Latencies []time.Duration `json:"-"`
	Failures  map[string]int  `json:"failures,omitempty"`
	// PeakRSS is the largest VmHWM of the nodes during the run (since start when the peak
	// could not be reset).
	PeakRSS int64 `json:"peak_rss_bytes"`
	// PeakSinceStart says PeakRSS is the peak since the node started: it could not be reset.
	PeakSinceStart bool `json:"peak_since_start,omitempty"`
	// Idle is the time clients waited for a citizen allowed to log on (a fresh TOTP step, the
	// e-mailed code limit).
	Idle time.Duration `json:"idle_ns"`
	// Backends is how many PostgreSQL backends served the nodes.
	Backends int `json:"backends,omitempty"`
}

// pair is one A B pair.
type pair struct {
	// Hash is the ceiling run (GOMAXPROCS at once); HashCPU the run E's hash CPU comes from
	// (as many at once as the logon run hashes; the ceiling run itself when that is as many).
	Hash    hashRun  `json:"hash"`
	HashCPU hashRun  `json:"hash_cpu"`
	Logon   logonRun `json:"logon"`
}

// hashConcurrency is how many hashes the nodes compute at once when clients log on at once.
func hashConcurrency(clients int) int { return min(clients, runtime.GOMAXPROCS(0)) }

// hashPhase runs argon2id verifications of encoded on workers goroutines for d.
func hashPhase(ctx context.Context, h *password.Hasher, encoded, plain string, workers int, d time.Duration) (hashRun, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	cpu0, start := selfCPU(), time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				ok, _, err := h.Verify(ctx, encoded, plain)
				if err == nil && !ok {
					err = fmt.Errorf("the seeded password does not verify")
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	r := hashRun{Hashes: int(n.Load()), Elapsed: time.Since(start), CPU: selfCPU() - cpu0}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	return r, firstErr
}

// nodeSet is the running nodes of one backend and size, with what the clients need of each.
type nodeSet struct {
	nodes []*node
	rps   []*relyingParty // nil entries until the OIDC flow is first used
	hc    []*http.Client
	// pg is the run's PostgreSQL target; nil on SQLite.
	pg *pgTarget
	// postmaster is the PostgreSQL server process (0: unknown or SQLite).
	postmaster int
	hz         int64
}

// serveTicks sums the nodes' CPU ticks.
func (ns *nodeSet) serveTicks() (uint64, error) {
	var sum uint64
	for _, n := range ns.nodes {
		st, err := readStat(n.pid())
		if err != nil {
			return 0, fmt.Errorf("%s: %w", n.name, err)
		}
		sum += st.UTime + st.STime
	}
	return sum, nil
}

// runSpec is one logon run's shape.
type runSpec struct {
	flow, kind string
	clients    int
	duration   time.Duration
	maxLogons  int
	sources    int // loopback source addresses the clients spread over
}

// newClients makes spec.clients clients, spread round robin over the nodes and the source
// addresses, each owning every clients-th citizen.
func newClients(ns *nodeSet, spec runSpec, set citizenSet, state *citizenState, mail *mailbox, stop <-chan struct{}) []*client {
	cs := make([]*client, spec.clients)
	for j := range cs {
		src := net.IPv4(127, 0, 0, byte(1+j%spec.sources))
		rt := newTransport(src)
		k := j % len(ns.nodes)
		c := &client{set: set, state: state, mail: mail, base: ns.nodes[k].url, rp: ns.rps[k],
			hc: &http.Client{Transport: rt, Timeout: 60 * time.Second}, rt: rt,
			cards: map[int][tokencard.Positions]string{}, stop: stop}
		for i := j; i < set.n; i += spec.clients {
			c.citizens = append(c.citizens, i)
		}
		cs[j] = c
	}
	return cs
}

// logonPhase runs one B run with clients cs.
func logonPhase(ctx context.Context, ns *nodeSet, cs []*client, spec runSpec) (logonRun, error) {
	r := logonRun{Failures: map[string]int{}, ClusterCPU: -1}
	reset := true
	for _, n := range ns.nodes {
		reset = resetPeakRSS(n.pid()) && reset
	}
	serve0, err := ns.serveTicks()
	if err != nil {
		return r, err
	}
	var meter *backendMeter
	var cluster0 uint64
	clusterOK := false
	if ns.pg != nil {
		meter = ns.pg.startBackendMeter(ctx)
		if ns.postmaster > 0 {
			cluster0, err = clusterTicks(ns.postmaster)
			clusterOK = err == nil
		}
	}
	driver0, start := selfCPU(), time.Now()
	deadline := start.Add(spec.duration)
	var started atomic.Int64
	type clientResult struct {
		lat      []time.Duration
		failures map[string]int
		idle     time.Duration
	}
	res := make([]clientResult, len(cs))
	var wg sync.WaitGroup
	for j, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := clientResult{failures: map[string]int{}}
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(deadline) {
					break
				}
				i, wait := c.pick(spec.kind, now)
				if i < 0 {
					w := min(wait, deadline.Sub(now))
					out.idle += w
					select {
					case <-time.After(w):
					case <-ctx.Done():
					}
					continue
				}
				if started.Add(1) > int64(spec.maxLogons) {
					break
				}
				t0 := time.Now()
				if err := c.logon(ctx, spec.flow, spec.kind, i); err != nil {
					out.failures[reasonOf(err)]++
					continue
				}
				out.lat = append(out.lat, time.Since(t0))
			}
			res[j] = out
		}()
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	r.DriverCPU = selfCPU() - driver0
	serve1, err := ns.serveTicks()
	if err != nil {
		return r, err
	}
	r.ServeCPU = ticks(serve1-serve0, ns.hz)
	if meter != nil {
		db, backends, _, _ := meter.finish(ctx)
		r.DBCPU, r.Backends = ticks(db, ns.hz), backends
		if clusterOK {
			if cluster1, err := clusterTicks(ns.postmaster); err == nil && cluster1 >= cluster0 {
				r.ClusterCPU = ticks(cluster1-cluster0, ns.hz)
			}
		}
	}
	for _, n := range ns.nodes {
		if rss, err := peakRSS(n.pid()); err == nil && rss > r.PeakRSS {
			r.PeakRSS = rss
		}
	}
	r.PeakSinceStart = !reset
	for _, cr := range res {
		r.Latencies = append(r.Latencies, cr.lat...)
		r.Idle += cr.idle
		for k, v := range cr.failures {
			r.Failures[k] += v
		}
	}
	r.OK = len(r.Latencies)
	for _, n := range ns.nodes {
		if !n.alive() {
			return r, fmt.Errorf("%w: %s (%v):\n%s", errNodeDied, n.name, n.err, tail(n.log, 20))
		}
	}
	return r, ctx.Err()
}
