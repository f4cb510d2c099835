package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 0.5, 0},
		{[]time.Duration{7}, 0.99, 7},
		{[]time.Duration{1, 2}, 0.5, 1},
		{[]time.Duration{1, 2, 3, 4}, 0.5, 2},
		{[]time.Duration{1, 2, 3, 4}, 0.95, 4},
		{hundred, 0.50, 50 * time.Millisecond},
		{hundred, 0.95, 95 * time.Millisecond},
		{hundred, 0.99, 99 * time.Millisecond},
		{hundred, 1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.values, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %v) = %s, want %s", len(tt.values), tt.p, got, tt.want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSummarizeComputesE(t *testing.T) {
	t.Parallel()
	// Pair 1: 40 hashes in 2 s on the ceiling run, 20 at 25 ms of CPU each on the hash CPU run;
	// 30 logons in 2 s costing 1.5 s of node CPU (50 ms each) and 0.3 s of database CPU.
	// Pair 2: the same, but the logons cost 0.75 s of node CPU (25 ms each: E = 1).
	p1 := pair{
		Hash:    hashRun{Hashes: 40, Elapsed: 2 * time.Second, CPU: 1200 * time.Millisecond},
		HashCPU: hashRun{Hashes: 20, Elapsed: time.Second, CPU: 500 * time.Millisecond},
		Logon: logonRun{OK: 30, Elapsed: 2 * time.Second, ServeCPU: 1500 * time.Millisecond, DBCPU: 300 * time.Millisecond,
			ClusterCPU: 600 * time.Millisecond, Latencies: []time.Duration{3, 1, 2}, Failures: map[string]int{"x": 2}, PeakRSS: 100},
	}
	p2 := p1
	p2.Logon.ServeCPU = 750 * time.Millisecond
	p2.Logon.Failures = map[string]int{"x": 1, "y": 4}
	p2.Logon.PeakRSS = 300
	s := summarize([]pair{p1, p2})

	if s.Logons != 60 || !near(s.LogonsPerSec, 15) || !near(s.HashesPerSec, 20) || !near(s.ThroughputRatio, 0.75) {
		t.Errorf("throughput: %d logons, %.2f/s, %.2f hashes/s, ratio %.3f; want 60, 15, 20, 0.75",
			s.Logons, s.LogonsPerSec, s.HashesPerSec, s.ThroughputRatio)
	}
	if s.HashCPU != 25*time.Millisecond {
		t.Errorf("hash CPU %s, want 25ms (from the hash CPU runs, not the ceiling's 30ms)", s.HashCPU)
	}
	// Node CPU 2.25 s over 60 logons = 37.5 ms; E is the median of the pairs' 25/50 and 25/25.
	if s.ServeCPU != 37500*time.Microsecond || !near(s.E, 0.75) {
		t.Errorf("serve CPU %s, E %.4f; want 37.5ms, 0.75", s.ServeCPU, s.E)
	}
	if wantDB := (25.0/60 + 25.0/35) / 2; s.DBCPU != 10*time.Millisecond || !near(s.EWithDB, wantDB) {
		t.Errorf("db CPU %s, E+db %.4f; want 10ms, %.4f", s.DBCPU, s.EWithDB, wantDB)
	}
	if s.ClusterCPU != 20*time.Millisecond {
		t.Errorf("cluster CPU %s, want 20ms", s.ClusterCPU)
	}
	if !near(s.EMin, 0.5) || !near(s.EMax, 1) {
		t.Errorf("E spread %.3f–%.3f, want 0.5–1 (25/50 and 25/25)", s.EMin, s.EMax)
	}
	if s.Failed != 7 || s.Reasons["x"] != 3 || s.Reasons["y"] != 4 || s.PeakRSS != 300 {
		t.Errorf("failed %d %v, peak %d; want 7 {x:3 y:4}, 300", s.Failed, s.Reasons, s.PeakRSS)
	}
	if s.P50 != 2 || s.P99 != 3 {
		t.Errorf("p50 %d p99 %d, want 2 and 3", s.P50, s.P99)
	}

	p2.Logon.ClusterCPU = -1
	if s := summarize([]pair{p1, p2}); s.ClusterCPU >= 0 {
		t.Errorf("cluster CPU %s with one run unknown, want unknown", s.ClusterCPU)
	}
	// Three pairs: E is the middle one, whatever the pairs' weights.
	p3 := p1
	p3.HashCPU = hashRun{Hashes: 200, CPU: 4 * time.Second} // 20 ms a hash: E = 20/50 = 0.4
	p3.Logon.OK, p3.Logon.ServeCPU = 300, 15*time.Second
	if s := summarize([]pair{p1, p2, p3}); !near(s.E, 0.5) || !near(s.EMin, 0.4) || !near(s.EMax, 1) {
		t.Errorf("three pairs: E %.3f (%.3f–%.3f), want the median 0.5 (0.4–1)", s.E, s.EMin, s.EMax)
	}
	if s := summarize([]pair{{}}); s.E != 0 || s.EMin != 0 || s.LogonsPerSec != 0 {
		t.Errorf("empty pair: %+v, want zeros", s)
	}
}

func TestWriteRowListsReasonsMostFirst(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	r := result{Config: configuration{Backend: "postgres", Nodes: 2, Flow: "oidc", Kind: "totp", Clients: 8},
		Summary: summary{E: 0.61, Failed: 5, Reasons: map[string]int{"b": 1, "a": 1, "c": 3}, PeakRSS: 64 << 20, PeakSinceStart: true, ClusterCPU: -1}}
	writeRow(&b, r)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want a row and 3 reasons:\n%s", len(lines), b.String())
	}
	for _, want := range []string{"postgres", "oidc", "totp", "0.61", "64*"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("row %q lacks %q", lines[0], want)
		}
	}
	if !strings.HasSuffix(lines[1], "3× c") || !strings.HasSuffix(lines[2], "1× a") || !strings.HasSuffix(lines[3], "1× b") {
		t.Errorf("reasons not most frequent first, then by name:\n%s", b.String())
	}
	if n := len(strings.Split(tableHeader, "|")); n != len(strings.Split(lines[0], "|")) {
		t.Errorf("the row has other columns than the header:\n%s\n%s", tableHeader, lines[0])
	}
}

func TestTargetLines(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	rs := []result{
		{Config: configuration{Backend: "sqlite", Nodes: 1, Flow: "web", Kind: "password", Clients: 1},
			Summary: summary{Logons: 10, E: 0.96, EWithDB: 0.96, HashCPU: 26 * ms, ServeCPU: 27 * ms, P50: 30 * ms, P99: 40 * ms}},
		{Config: configuration{Backend: "postgres", Nodes: 1, Flow: "web", Kind: "tokencard", Clients: 2},
			Summary: summary{Logons: 10, E: 0.90, EWithDB: 0.85, HashCPU: 26 * ms, ServeCPU: 29 * ms, P50: 50 * ms, P99: 100 * ms}},
		{Config: configuration{Backend: "sqlite", Nodes: 1, Flow: "web", Kind: "password", Clients: 64},
			Summary: summary{Logons: 10, PeakRSS: 310 << 20, Failed: 2}},
		{Config: configuration{Backend: "sqlite", Nodes: 1, Flow: "web", Kind: "totp", Clients: 4}}, // no logons: left out
	}
	got := strings.Join(targetLines(rs), "\n")
	for _, want := range []string{
		"MET     E ≥ 0.95: 0.96 (E+db 0.96) — sqlite, 1 node(s), web password, 1 client(s)",
		"NOT MET serve CPU besides the hash ≤ 900µs: 1ms — sqlite, 1 node(s), web password, 1 client(s)",
		"NOT MET p50 ≤ one hash + 3ms: 26ms + 4ms — sqlite",
		"NOT MET E ≥ 0.93: 0.90 (E+db 0.85) — postgres, 1 node(s), web tokencard, 2 client(s)",
		"NOT MET p99 ≤ 1.5 × p50: 2.00 × (p50 50ms, p99 100ms) — postgres",
		"NOT MET peak RSS < 300 MiB at 64 clients: 310 MiB — sqlite",
		"NOT MET no failed logons: 2 — sqlite, 1 node(s), web password, 64 client(s)",
		"MET     no failed logons: 0 — postgres",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("target lines lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "totp") {
		t.Errorf("a configuration without logons is judged:\n%s", got)
	}
}
