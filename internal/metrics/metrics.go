// Package metrics is what operators watch a node with: Prometheus metrics of logons, the
// password hash queue, HTTP requests, the outbox, throttles, lockouts and the database pool,
// served by Handler on a listener of their own (serve's --metrics-listen, loopback by default).
//
// Metrics are fed from the places that already know: logon outcomes, throttles and lockouts
// from the audit events once their transaction commits (so a rolled-back attempt counts
// nothing, and every node counts what it did), the hash queue from password.Hasher, requests
// from the web server, and the outbox and pool at scrape time. Each Metrics has its own
// registry: no global state, so tests and several nodes in one process do not mix.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Metrics holds a node's metrics and their registry. Its methods are safe for concurrent use.
type Metrics struct {
	reg       *prometheus.Registry
	logons    *prometheus.CounterVec
	failures  *prometheus.CounterVec
	throttles *prometheus.CounterVec
	refused   *prometheus.CounterVec
	lockouts  *prometheus.CounterVec
	hashQueue prometheus.Gauge
	hashWait  prometheus.Histogram
	requests  *prometheus.HistogramVec
}

// hashWaitBuckets suit a queue whose unit is one hash (~25 ms): from no wait to seconds.
var hashWaitBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// requestBuckets span a static file (sub-millisecond) to a logon step queued behind hashes.
var requestBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New returns the metrics of one node, with Go runtime and process metrics registered too.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		logons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sleutelbos_logons_total",
			Help: "Completed logons by key kind and level of assurance reached.",
		}, []string{"kind", "level"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sleutelbos_logon_failures_total",
			Help: "Failed logon steps by key kind and reason (bad_credentials, wrong_code, code_expired, key_locked, …).",
		}, []string{"kind", "reason"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sleutelbos_throttles_total",
			Help: "Throttle periods that refused requests, by scope kind (pwd: a username's password, factor: a key's codes, ip: a client address).",
		}, []string{"scope"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sleutelbos_throttle_refusals_total",
			Help: "Requests refused by a throttle, by scope kind, counted when their throttle period is reported over.",
		}, []string{"scope"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sleutelbos_key_lockouts_total",
			Help: "Keys locked after too many wrong codes, by key kind.",
		}, []string{"kind"}),
		hashQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sleutelbos_password_hash_queue_length",
			Help: "Password hashes waiting for a hashing slot now.",
		}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sleutelbos_password_hash_wait_seconds",
			Help:    "How long password hashes waited for a hashing slot.",
			Buckets: hashWaitBuckets,
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sleutelbos_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status code.",
			Buckets: requestBuckets,
		}, []string{"route", "method", "code"}),
	}
	m.reg.MustRegister(m.logons, m.failures, m.throttles, m.refused, m.lockouts, m.hashQueue, m.hashWait, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveAudit counts what an audit event says about logons, throttles and lockouts. The
// audit recorder calls it once the event's transaction has committed.
func (m *Metrics) ObserveAudit(e store.AuditEvent) {
	switch e.Type {
	case audit.LogonSuccess:
		m.logons.WithLabelValues(label(e.KeyKind), label(e.Detail["level"])).Inc()
	case audit.LogonFailure:
		m.failures.WithLabelValues(label(e.KeyKind), label(e.Reason)).Inc()
	case audit.KeyLocked:
		m.lockouts.WithLabelValues(label(e.KeyKind)).Inc()
	case audit.LogonThrottled:
		scope := scopeKind(e.Detail["scope"])
		switch e.Reason {
		case audit.ReasonThrottleStarted:
			m.throttles.WithLabelValues(scope).Inc()
		case audit.ReasonThrottleEnded:
			if n, err := strconv.Atoi(e.Detail["refused"]); err == nil && n > 0 {
				m.refused.WithLabelValues(scope).Add(float64(n))
			}
		}
	}
}

// HashQueued reports a hash starting (+1) or ending (-1) its wait for a slot.
func (m *Metrics) HashQueued(delta int) { m.hashQueue.Add(float64(delta)) }

// HashWaited reports how long a hash waited for its slot.
func (m *Metrics) HashWaited(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// ObserveRequest records one HTTP request: route is the pattern that served it ("unmatched"
// for none), so the label set stays bounded whatever paths clients send.
func (m *Metrics) ObserveRequest(route, method string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		method = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Observe(d.Seconds())
}

// OutboxReader summarises the outbox (store.Store implements it).
type OutboxReader interface {
	OutboxStatus(ctx context.Context) (store.OutboxStatus, error)
}

// WatchOutbox adds the outbox depth per state and the age of the oldest pending message,
// read from src at each scrape (bounded by timeout) with the time from now.
func (m *Metrics) WatchOutbox(src OutboxReader, now func() time.Time, timeout time.Duration) {
	m.reg.MustRegister(&outboxCollector{src: src, now: now, timeout: timeout})
}

// WatchPool adds the database connection pool's statistics (in use, idle, waits).
func (m *Metrics) WatchPool(db *sql.DB, name string) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

var (
	outboxDepthDesc = prometheus.NewDesc("sleutelbos_outbox_messages",
		"Messages in the outbox by state (pending, sending, sent, failed, held).", []string{"state"}, nil)
	outboxAgeDesc = prometheus.NewDesc("sleutelbos_outbox_oldest_pending_age_seconds",
		"Age of the oldest pending message (0 when none is pending).", nil, nil)
	outboxUpDesc = prometheus.NewDesc("sleutelbos_outbox_status_up",
		"1 when the outbox could be read at this scrape, 0 when the database did not answer.", nil, nil)
)

// outboxCollector reads the outbox at scrape time: the database is the truth every node
// shares, so any node's scrape shows the whole queue.
type outboxCollector struct {
	src     OutboxReader
	now     func() time.Time
	timeout time.Duration
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- outboxAgeDesc
	ch <- outboxUpDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.src.OutboxStatus(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(outboxUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxUpDesc, prometheus.GaugeValue, 1)
	for _, state := range []store.MessageState{store.MessagePending, store.MessageSending, store.MessageSent, store.MessageFailed, store.MessageHeld} {
		ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(s.Counts[state]), string(state))
	}
	age := 0.0
	if !s.OldestPending.IsZero() {
		age = max(c.now().Sub(s.OldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
}

// label keeps an empty value readable.
func label(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// scopeKind is a throttle scope's kind: "pwd:<hash>" → "pwd". The rest of a scope names a
// username's hash, a key or an address, which must not become a label.
func scopeKind(scope string) string {
	kind, _, _ := strings.Cut(scope, ":")
	return label(kind)
}
