package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// configuration names one measured configuration.
type configuration struct {
	Backend string `json:"backend"`
	Nodes   int    `json:"nodes"`
	Flow    string `json:"flow"`
	Kind    string `json:"kind"`
	Clients int    `json:"clients"`
}

// result is one configuration's pairs and what follows from them.
type result struct {
	Config  configuration `json:"config"`
	Pairs   []pair        `json:"pairs"`
	Summary summary       `json:"summary"`
}

// summary is what the report shows of a configuration: totals over its pairs, and E's spread
// over the pairs.
type summary struct {
	Logons       int     `json:"logons"`
	LogonsPerSec float64 `json:"logons_per_s"`
	HashesPerSec float64 `json:"hashes_per_s"`
	// ThroughputRatio is logons/s ÷ hash-only/s: on a quiet machine, E.
	ThroughputRatio float64 `json:"throughput_ratio"`
	// HashCPU is the CPU time of one argon2id verification; ServeCPU, DBCPU and ClusterCPU are
	// per successful logon; ClusterCPU is negative when unknown.
	HashCPU    time.Duration `json:"hash_cpu_ns"`
	ServeCPU   time.Duration `json:"serve_cpu_per_logon_ns"`
	DBCPU      time.Duration `json:"db_cpu_per_logon_ns"`
	ClusterCPU time.Duration `json:"cluster_cpu_per_logon_ns"`
	DriverCPU  time.Duration `json:"driver_cpu_per_logon_ns"`
	// E is the median over the pairs of each pair's hash CPU ÷ its nodes' CPU per logon;
	// EWithDB the same with the database's CPU per logon added. EMin and EMax are the lowest
	// and highest E of a single pair. (A ratio of totals could lie outside that range: the
	// pairs weigh differently in hashes and in logons.)
	E       float64        `json:"e"`
	EWithDB float64        `json:"e_with_db"`
	EMin    float64        `json:"e_min"`
	EMax    float64        `json:"e_max"`
	P50     time.Duration  `json:"p50_ns"`
	P95     time.Duration  `json:"p95_ns"`
	P99     time.Duration  `json:"p99_ns"`
	Failed  int            `json:"failed"`
	Reasons map[string]int `json:"failures,omitempty"`
	PeakRSS int64          `json:"peak_rss_bytes"`
	// PeakSinceStart: some PeakRSS is since the node started (VmHWM could not be reset).
	PeakSinceStart bool          `json:"peak_since_start,omitempty"`
	Idle           time.Duration `json:"idle_ns"`
}

// percentile returns the p-th quantile (0 < p ≤ 1) of sorted by the nearest-rank method: the
// smallest value with at least p of the values at or below it. Zero for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// median returns the median of vs (the mean of the middle two for an even count); vs must
// not be empty. vs is sorted in place.
func median(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// ratio returns a ÷ b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// perLogon divides a CPU time by a count of logons.
func perLogon(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

// efficiency is E: the CPU time of one hash ÷ the CPU time per logon.
func efficiency(hashCPU, perLogon time.Duration) float64 {
	return ratio(float64(hashCPU), float64(perLogon))
}

// summarize totals the pairs of a configuration.
func summarize(pairs []pair) summary {
	var s summary
	var hashes, cpuHashes int
	var hashTime, hashCPU, logonTime, serve, db, cluster, driver time.Duration
	clusterKnown := true
	var lat []time.Duration
	var es, esDB []float64
	s.Reasons = map[string]int{}
	for _, p := range pairs {
		hashes += p.Hash.Hashes
		hashTime += p.Hash.Elapsed
		cpuHashes += p.HashCPU.Hashes
		hashCPU += p.HashCPU.CPU
		l := p.Logon
		s.Logons += l.OK
		logonTime += l.Elapsed
		serve += l.ServeCPU
		db += l.DBCPU
		driver += l.DriverCPU
		if l.ClusterCPU < 0 {
			clusterKnown = false
		}
		cluster += l.ClusterCPU
		lat = append(lat, l.Latencies...)
		for r, n := range l.Failures {
			s.Reasons[r] += n
			s.Failed += n
		}
		s.PeakRSS = max(s.PeakRSS, l.PeakRSS)
		s.PeakSinceStart = s.PeakSinceStart || l.PeakSinceStart
		s.Idle += l.Idle
		if p.HashCPU.Hashes > 0 && l.OK > 0 {
			h := p.HashCPU.CPU / time.Duration(p.HashCPU.Hashes)
			es = append(es, efficiency(h, perLogon(l.ServeCPU, l.OK)))
			esDB = append(esDB, efficiency(h, perLogon(l.ServeCPU+l.DBCPU, l.OK)))
		}
	}
	if len(es) > 0 {
		s.E, s.EWithDB = median(es), median(esDB)
		s.EMin, s.EMax = slices.Min(es), slices.Max(es)
	}
	s.LogonsPerSec = ratio(float64(s.Logons), logonTime.Seconds())
	s.HashesPerSec = ratio(float64(hashes), hashTime.Seconds())
	s.ThroughputRatio = ratio(s.LogonsPerSec, s.HashesPerSec)
	if cpuHashes > 0 {
		s.HashCPU = hashCPU / time.Duration(cpuHashes)
	}
	s.ServeCPU = perLogon(serve, s.Logons)
	s.DBCPU = perLogon(db, s.Logons)
	s.ClusterCPU = -1
	if clusterKnown {
		s.ClusterCPU = perLogon(cluster, s.Logons)
	}
	s.DriverCPU = perLogon(driver, s.Logons)
	slices.Sort(lat)
	s.P50, s.P95, s.P99 = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)
	return s
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// msKnown is ms for a duration that is negative when unknown.
func msKnown(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return ms(d)
}

// tableHeader is the first line of the results table; writeRow writes the others.
const tableHeader = "backend  nodes flow kind      clients | logons/s hash/s ratio | E    (min–max)   E+db | hash ms serve ms besides db ms pg-all driver | p50 ms p95 ms p99 ms | failed idle s | RSS MiB"

func writeRow(w io.Writer, r result) {
	c, s := r.Config, r.Summary
	rss := fmt.Sprintf("%.0f", float64(s.PeakRSS)/(1<<20))
	if s.PeakSinceStart {
		rss += "*"
	}
	fmt.Fprintf(w, "%-8s %5d %-4s %-9s %7d | %8.1f %6.1f %5.2f | %4.2f (%4.2f–%4.2f) %4.2f | %7s %8s %7s %5s %6s %6s | %6s %6s %6s | %6d %6.1f | %7s\n",
		c.Backend, c.Nodes, c.Flow, c.Kind, c.Clients,
		s.LogonsPerSec, s.HashesPerSec, s.ThroughputRatio,
		s.E, s.EMin, s.EMax, s.EWithDB,
		ms(s.HashCPU), ms(s.ServeCPU), ms(s.ServeCPU-s.HashCPU), ms(s.DBCPU), msKnown(s.ClusterCPU), ms(s.DriverCPU),
		ms(s.P50), ms(s.P95), ms(s.P99),
		s.Failed, s.Idle.Seconds(), rss)
	reasons := make([]string, 0, len(s.Reasons))
	for k := range s.Reasons {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if s.Reasons[reasons[i]] != s.Reasons[reasons[j]] {
			return s.Reasons[reasons[i]] > s.Reasons[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	for _, k := range reasons {
		fmt.Fprintf(w, "    %6d× %s\n", s.Reasons[k], k)
	}
}

// legend explains the table.
const legend = `
E       = CPU time of one argon2id hash ÷ the nodes' CPU time per logon (kernel accounting, same
          run): the share of a logon's server CPU that is the unavoidable hash; the median of
          the pairs, and their lowest and highest. E+db adds the PostgreSQL backends' CPU per
          logon to the denominator (SQLite runs inside the node).
ratio   = logons/s ÷ hash-only/s, both measured in this run (A B pairs): equals E on a quiet
          machine, swings when others share it — E is the robust figure.
hash ms = CPU per argon2id verification, measured in the driver beside the hash-only runs with
          as many hashes at once as the logon run computes (min(clients, GOMAXPROCS)).
serve ms / besides = the nodes' CPU per logon, and that minus one hash. db ms = the PostgreSQL
          backends serving the nodes; pg-all = the whole PostgreSQL cluster (everyone's work on
          a shared server). driver = the driver's own CPU per logon (the clients' side, on the
          same cores). p50/p95/p99 = whole-logon latency. idle s = time clients waited for
          a citizen allowed to log on (a new TOTP step, the e-mail code limit). RSS = the peak
          resident set of the largest node during the runs (* = since it started).`

// machineLine describes the machine and its load.
func machineLine(label string, l [3]float64) string {
	return fmt.Sprintf("%s load average %.2f %.2f %.2f", label, l[0], l[1], l[2])
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
