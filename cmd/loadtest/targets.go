package main

import (
	"fmt"
	"time"
)

// The targets of issue 11, checked against what a run measured (README, "Performance").
const (
	targetEPassword        = 0.95                   // E of password logons
	targetECode            = 0.93                   // E of password + code logons
	targetBesides          = 900 * time.Microsecond // serve CPU per logon besides the hash
	targetP50Over          = 3 * time.Millisecond   // p50 at 1 client, beyond one hash
	targetTail             = 1.5                    // p99 ÷ p50 at 2 clients
	targetRSS        int64 = 300 << 20              // peak RSS at 64 clients
	targetRSSClients       = 64
)

// targetLines says, for each target a run has the configuration of, what was measured and
// whether it is met. A target without such a configuration is not mentioned.
func targetLines(rs []result) []string {
	var out []string
	line := func(met bool, format string, args ...any) {
		mark := "MET    "
		if !met {
			mark = "NOT MET"
		}
		out = append(out, mark+" "+fmt.Sprintf(format, args...))
	}
	for _, r := range rs {
		c, s := r.Config, r.Summary
		name := fmt.Sprintf("%s, %d node(s), %s %s, %d client(s)", c.Backend, c.Nodes, c.Flow, c.Kind, c.Clients)
		if s.Logons == 0 {
			continue
		}
		if c.Clients <= 8 {
			want := targetECode
			if c.Kind == "password" {
				want = targetEPassword
			}
			line(s.E >= want, "E ≥ %.2f: %.2f (E+db %.2f) — %s", want, s.E, s.EWithDB, name)
			besides := s.ServeCPU - s.HashCPU
			line(besides <= targetBesides, "serve CPU besides the hash ≤ %s: %s — %s", targetBesides, besides.Round(10*time.Microsecond), name)
		}
		if c.Clients == 1 && c.Kind == "password" {
			over := s.P50 - s.HashCPU
			line(over <= targetP50Over, "p50 ≤ one hash + %s: %s + %s — %s", targetP50Over, s.HashCPU.Round(100*time.Microsecond), over.Round(100*time.Microsecond), name)
		}
		if c.Clients == 2 && s.P50 > 0 {
			tail := float64(s.P99) / float64(s.P50)
			line(tail <= targetTail, "p99 ≤ %.1f × p50: %.2f × (p50 %s, p99 %s) — %s", targetTail, tail, s.P50.Round(100*time.Microsecond), s.P99.Round(100*time.Microsecond), name)
		}
		if c.Clients >= targetRSSClients {
			line(s.PeakRSS < targetRSS, "peak RSS < %d MiB at %d clients: %d MiB — %s", targetRSS>>20, c.Clients, s.PeakRSS>>20, name)
		}
		line(s.Failed == 0, "no failed logons: %d — %s", s.Failed, name)
	}
	return out
}
