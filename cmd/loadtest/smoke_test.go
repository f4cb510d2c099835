package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// The smoke tests run the driver end to end at a tiny scale against a real server binary, so
// `make test` proves the load driver works: seeding, every key kind through both flows, the
// e-mailed codes over SMTP, the CPU accounting and the report.

var (
	buildOnce sync.Once
	serverBin string
	buildErr  error
)

// server builds cmd/sleutelbos once for the package's tests.
func server(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sleutelbos-loadtest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		serverBin = filepath.Join(dir, "sleutelbos")
		out, err := exec.Command("go", "build", "-o", serverBin, "../sleutelbos").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build sleutelbos: %v", buildErr)
	}
	return serverBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if serverBin != "" {
		os.RemoveAll(filepath.Dir(serverBin))
	}
	os.Exit(code)
}

// runSmoke runs the driver with args and returns its JSON report and printed output.
func runSmoke(t *testing.T, args ...string) (report, string) {
	t.Helper()
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	var out strings.Builder
	args = append([]string{"-server", server(t), "-json", jsonPath, "-timeout", "3m"}, args...)
	err := run(context.Background(), args, noEnv, &out, &out)
	if err != nil {
		t.Fatalf("loadtest %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, out.String()
}

// checkResults fails unless every configuration logged on without failures and has figures.
func checkResults(t *testing.T, rep report, out string, want int) {
	t.Helper()
	if len(rep.Results) != want {
		t.Fatalf("%d configurations measured, want %d:\n%s", len(rep.Results), want, out)
	}
	for _, r := range rep.Results {
		s, c := r.Summary, r.Config
		if s.Logons == 0 || s.Failed != 0 || s.HashCPU <= 0 || s.HashesPerSec <= 0 || s.ServeCPU <= 0 || s.E <= 0 || s.PeakRSS <= 0 {
			t.Errorf("%+v: %d logons, %d failed (%v), hash CPU %s, %.1f hashes/s, serve CPU %s, E %.2f, peak RSS %d",
				c, s.Logons, s.Failed, s.Reasons, s.HashCPU, s.HashesPerSec, s.ServeCPU, s.E, s.PeakRSS)
		}
	}
	for _, want := range []string{tableHeader, "E       = CPU time of one argon2id hash", "load average"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestSmokeSQLiteEveryKindAndFlow logs citizens on with every key kind, directly and through
// the OpenID Connect online service, on SQLite with one client.
func TestSmokeSQLiteEveryKindAndFlow(t *testing.T) {
	t.Parallel()
	rep, out := runSmoke(t, "-backends", "sqlite", "-citizens", "40", "-clients", "1",
		"-kinds", "password,tokencard,totp,emailcode", "-flows", "web,oidc", "-duration", "300ms", "-pairs", "1")
	checkResults(t, rep, out, 8)
	if rep.Citizens != 40 || rep.Argon2id == "" || len(rep.LoadAfter) != 3 {
		t.Errorf("report header: %+v", rep)
	}
}

// TestSmokePostgresTwoNodes logs on through two nodes sharing a fresh PostgreSQL schema, from
// two loopback source addresses, and measures the database's backends.
func TestSmokePostgresTwoNodes(t *testing.T) {
	t.Parallel()
	sqltest.PostgresURL(t) // skips, or fails under SLEUTELBOS_REQUIRE_POSTGRES=1, without a database
	rep, out := runSmoke(t, "-backends", "postgres", "-postgres-url", os.Getenv(sqltest.PostgresURLEnv),
		"-nodes", "2", "-citizens", "20", "-clients", "2", "-kinds", "tokencard,emailcode", "-flows", "oidc",
		"-duration", "400ms", "-pairs", "1", "-source-addresses", "2")
	checkResults(t, rep, out, 2)
	for _, r := range rep.Results {
		if r.Config.Nodes != 2 || r.Pairs[0].Logon.Backends == 0 || r.Summary.ClusterCPU < 0 {
			t.Errorf("%+v: %d backends seen, cluster CPU %s; want the nodes' backends and the cluster measured",
				r.Config, r.Pairs[0].Logon.Backends, r.Summary.ClusterCPU)
		}
	}
}
