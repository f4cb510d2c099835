package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// maxErrorLength bounds the server answer kept in a message's LastError.
const maxErrorLength = 1000

// bookkeepingTimeout bounds the store calls that record an outcome; they run even while the
// worker shuts down, so a delivered message is never left looking undelivered.
const bookkeepingTimeout = 10 * time.Second

// Store is what a Worker uses: it claims due messages under a lease and records each outcome
// (store.Store implements it).
type Store interface {
	ClaimMessages(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.Message, error)
	MarkSent(ctx context.Context, id int64, owner string, at time.Time) error
	RetryLater(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error
	MarkFailed(ctx context.Context, id int64, owner string, lastErr string) error
}

var _ Store = store.Store(nil)

// Worker delivers due outbox messages: it claims a batch under a lease, sends each message and
// records the outcome. Run one per node; any number of workers may share one database.
type Worker struct {
	st    Store
	send  Sender
	cfg   Config
	node  string
	now   func() time.Time
	log   *slog.Logger
	wake  chan struct{}
	mu    sync.Mutex // guards rnd
	rnd   *rand.Rand
	stats workerStats
}

type workerStats struct {
	sent, retried, failed, abandoned atomic.Uint64
}

// Stats are a worker's counters since it was made.
type Stats struct {
	// Sent messages were accepted by the SMTP server.
	Sent uint64
	// Retried messages failed temporarily and wait for another attempt.
	Retried uint64
	// Failed messages failed permanently or ran out of attempts.
	Failed uint64
	// Abandoned messages were claimed but given back unsent (shutdown, lease running out).
	Abandoned uint64
}

// WorkerOption adjusts a Worker.
type WorkerOption func(*Worker)

// WithJitter spreads retry delays: each is drawn uniformly from [d/2, d] with r, so that
// messages that failed together do not all come back together. Without it delays are exact.
func WithJitter(r *rand.Rand) WorkerOption {
	return func(w *Worker) { w.rnd = r }
}

// NewWorker returns a worker that delivers messages from st with s. node names this worker in
// leases (unique per process, e.g. host name and pid); now is the clock used for due times and
// leases; cfg gets its defaults applied (validate it at start-up with Config.Validate).
func NewWorker(st Store, s Sender, cfg Config, node string, now func() time.Time, log *slog.Logger, opts ...WorkerOption) *Worker {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		st:   st,
		send: s,
		cfg:  cfg.WithDefaults(),
		node: node,
		now:  now,
		log:  log.With("component", "outbox", "node", node),
		wake: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Wake nudges a running worker to look for due messages now instead of at its next poll. It
// never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stats returns the worker's counters.
func (w *Worker) Stats() Stats {
	return Stats{
		Sent:      w.stats.sent.Load(),
		Retried:   w.stats.retried.Load(),
		Failed:    w.stats.failed.Load(),
		Abandoned: w.stats.abandoned.Load(),
	}
}

// Run delivers messages until ctx is done, then returns nil. After a full batch it claims again
// at once; otherwise it waits for PollInterval or a Wake. Errors are logged, never fatal: the
// database or the SMTP server may come back. On shutdown the message being sent is finished
// (bounded by Timeout) and recorded; the rest of the batch is given back.
func (w *Worker) Run(ctx context.Context) error {
	for {
		n, err := w.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Error("outbox: claim failed", "error", err)
		}
		if err == nil && n >= w.cfg.BatchSize {
			continue
		}
		timer := time.NewTimer(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// RunOnce claims one batch of due messages and delivers it, returning how many messages it
// claimed. Errors recording an outcome are logged; the error returned is the claim's.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	now := w.now()
	leaseUntil := now.Add(w.cfg.Lease)
	msgs, err := w.st.ClaimMessages(ctx, w.node, now, leaseUntil, w.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	for i, m := range msgs {
		// Stop when shutting down, or when the lease could end before this delivery is recorded
		// (another node may then claim the message): a send takes at most Timeout, and one more
		// Timeout of margin covers recording it and clock differences between nodes. Give the
		// rest back for an immediate new claim. (Config.Validate keeps Lease >= 2*Timeout, so
		// the first message of a batch always goes.)
		if ctx.Err() != nil || w.now().Add(2*w.cfg.Timeout).After(leaseUntil) {
			w.abandon(ctx, msgs[i:])
			break
		}
		w.deliver(ctx, m)
	}
	return len(msgs), nil
}

// deliver sends one claimed message and records the outcome. The send is not cut short by
// shutdown (only by Timeout): aborting a DATA in flight would leave it unknown whether the
// server took the message.
func (w *Worker) deliver(ctx context.Context, m store.Message) {
	log := w.log.With("outbox_id", m.ID, "message_id", m.MessageID, "template", m.Template, "attempt", m.Attempts)
	if !m.SecretUntil.IsZero() && !w.now().Before(m.SecretUntil) {
		// The code expired while the message waited (a relay outage, a long back-off): it is
		// of no use to the citizen, and MarkFailed drops its text.
		w.fail(ctx, log, m, store.CodeExpiredBeforeDelivery, false)
		return
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Timeout)
	err := w.send.Send(sendCtx, m)
	cancel()

	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	switch {
	case err == nil:
		// The at-least-once window: the server has the message; until MarkSent commits, a
		// crash makes another node send it again (with the same Message-ID).
		if rerr := w.record(bctx, func(c context.Context) error { return w.st.MarkSent(c, m.ID, w.node, w.now()) }); rerr != nil {
			log.Error("outbox: delivered but not recorded; it may be delivered again after the lease", "error", rerr)
			return
		}
		w.stats.sent.Add(1)
		log.Info("outbox: delivered")
	case IsPermanent(err) || m.Attempts >= w.cfg.MaxAttempts:
		w.fail(ctx, log, m, truncate(err.Error()), IsPermanent(err))
	default:
		delay := w.backoff(m.Attempts)
		next := w.now().Add(delay)
		reason := truncate(err.Error())
		if rerr := w.record(bctx, func(c context.Context) error { return w.st.RetryLater(c, m.ID, w.node, next, reason) }); rerr != nil {
			log.Error("outbox: could not schedule retry", "error", rerr, "send_error", reason)
			return
		}
		w.stats.retried.Add(1)
		log.Warn("outbox: delivery failed, will retry", "error", reason, "retry_in", delay)
	}
}

// fail gives up on m for reason.
func (w *Worker) fail(ctx context.Context, log *slog.Logger, m store.Message, reason string, permanent bool) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if rerr := w.record(bctx, func(c context.Context) error { return w.st.MarkFailed(c, m.ID, w.node, reason) }); rerr != nil {
		log.Error("outbox: could not mark failed", "error", rerr, "send_error", reason)
		return
	}
	w.stats.failed.Add(1)
	log.Warn("outbox: delivery failed for good", "error", reason, "permanent", permanent)
}

// record runs a bookkeeping store call, trying again briefly on a transient error. Losing the
// lease (store.ErrNotFound) is final.
func (w *Worker) record(ctx context.Context, fn func(context.Context) error) error {
	var err error
	for try := range 3 {
		if err = fn(ctx); err == nil || errors.Is(err, store.ErrNotFound) {
			return err
		}
		t := time.NewTimer(time.Duration(try+1) * 100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
	return err
}

// abandon gives claimed, unsent messages back: pending and due now, their last error kept.
// If that fails they are claimed again when their lease ends.
func (w *Worker) abandon(ctx context.Context, msgs []store.Message) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	now := w.now()
	for _, m := range msgs {
		if err := w.st.RetryLater(bctx, m.ID, w.node, now, m.LastError); err != nil {
			w.log.Warn("outbox: could not give back a claimed message; it is claimed again after its lease",
				"outbox_id", m.ID, "error", err)
			continue
		}
		w.stats.abandoned.Add(1)
	}
}

// backoff is the delay before attempt+1: BaseBackoff·2^(attempt-1), capped at MaxBackoff, with
// jitter when the worker has a random source.
func (w *Worker) backoff(attempt int) time.Duration {
	d := Backoff(w.cfg.BaseBackoff, w.cfg.MaxBackoff, attempt)
	if w.rnd == nil || d < 2 {
		return d
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return d/2 + time.Duration(w.rnd.Int64N(int64(d/2)+1))
}

// Backoff returns base·2^(attempt-1), at most max; attempt counts from 1.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt; i++ {
		if d >= max/2 {
			return max
		}
		d *= 2
	}
	return min(d, max)
}

// truncate keeps s within maxErrorLength bytes, cutting at a character boundary.
func truncate(s string) string {
	if len(s) <= maxErrorLength {
		return s
	}
	cut := maxErrorLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
