package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver: schemas and pg_stat_activity
)

// pgTarget is the PostgreSQL database of one run: a fresh schema in the database the operator
// named, dropped at the end, and an application_name that tells the nodes' backends apart
// from everyone else's on a shared server.
type pgTarget struct {
	admin   *sql.DB
	schema  string
	appName string
	// nodeURL is the URL the nodes and the seeding use: search_path and application_name set.
	nodeURL string
}

// newPGTarget creates the schema in the database at base.
func newPGTarget(ctx context.Context, base string) (*pgTarget, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("-postgres-url: %w", err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", u.Redacted(), err)
	}
	admin.SetMaxOpenConns(2)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		admin.Close()
		return nil, err
	}
	t := &pgTarget{admin: admin, schema: "loadtest_" + hex.EncodeToString(b), appName: "sleutelbos-loadtest-" + hex.EncodeToString(b)}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(cctx, "CREATE SCHEMA "+t.schema); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create schema in %s: %w", u.Redacted(), err)
	}
	q := u.Query()
	q.Set("search_path", t.schema)
	q.Set("application_name", t.appName)
	u.RawQuery = q.Encode()
	t.nodeURL = u.String()
	return t, nil
}

// close drops the schema.
func (t *pgTarget) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := t.admin.ExecContext(ctx, "DROP SCHEMA "+t.schema+" CASCADE")
	t.admin.Close()
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", t.schema, err)
	}
	return nil
}

// backendPIDs returns the process ids of the server backends serving the nodes' connections.
func (t *pgTarget) backendPIDs(ctx context.Context) ([]int, error) {
	rows, err := t.admin.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", t.appName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	return pids, rows.Err()
}

// pgSampleEvery is how often the backends are sampled during a logon run. A backend whose
// connection closes between two samples takes the CPU it used since the last one with it;
// the nodes keep their connections open while busy, so little is lost.
const pgSampleEvery = 200 * time.Millisecond

// backendMeter adds up the CPU time of the nodes' backends over a logon run.
type backendMeter struct {
	t    *pgTarget
	stop chan struct{}
	done chan struct{}

	mu         sync.Mutex
	first      map[int]uint64 // ticks at the first sample (0 for a backend born during the run)
	last       map[int]uint64
	postmaster int // the parent of the backends; 0 until one was seen
	errs       int
}

// startBackendMeter takes the first sample and samples until stop.
func (t *pgTarget) startBackendMeter(ctx context.Context) *backendMeter {
	m := &backendMeter{t: t, stop: make(chan struct{}), done: make(chan struct{}), first: map[int]uint64{}, last: map[int]uint64{}}
	m.sample(ctx, true)
	go func() {
		defer close(m.done)
		tick := time.NewTicker(pgSampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				m.sample(ctx, false)
			}
		}
	}()
	return m
}

func (m *backendMeter) sample(ctx context.Context, initial bool) {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	pids, err := m.t.backendPIDs(qctx)
	cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.errs++
		return
	}
	for _, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		cpu := st.UTime + st.STime
		if _, seen := m.first[pid]; !seen {
			if initial {
				m.first[pid] = cpu
			} else {
				m.first[pid] = 0 // born during the run: all its time is the run's
			}
		}
		m.last[pid] = cpu
		if m.postmaster == 0 {
			m.postmaster = st.PPID
		}
	}
}

// finish takes a last sample and returns the backends' CPU ticks during the run, how many
// backends served, and the postmaster's pid (0 when no backend was seen).
func (m *backendMeter) finish(ctx context.Context) (cpuTicks uint64, backends, postmaster, errs int) {
	close(m.stop)
	<-m.done
	m.sample(ctx, false)
	m.mu.Lock()
	defer m.mu.Unlock()
	for pid, last := range m.last {
		if last > m.first[pid] {
			cpuTicks += last - m.first[pid]
		}
	}
	return cpuTicks, len(m.last), m.postmaster, m.errs
}

// clusterTicks returns the CPU ticks the whole PostgreSQL cluster of postmaster has used: the
// postmaster, its live children, and its children that exited (the postmaster's cutime and
// cstime). On a shared server it includes everyone's work.
func clusterTicks(postmaster int) (uint64, error) {
	pm, err := readStat(postmaster)
	if err != nil {
		return 0, err
	}
	sum := pm.UTime + pm.STime + pm.CUTime + pm.CSTime
	all, err := allStats()
	if err != nil {
		return 0, err
	}
	for _, st := range all {
		if st.PPID == postmaster {
			sum += st.UTime + st.STime
		}
	}
	return sum, nil
}
