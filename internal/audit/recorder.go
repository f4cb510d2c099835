package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Recorder appends audit events to the store and mirrors them in the log. It is safe for
// concurrent use.
type Recorder struct {
	now     func() time.Time
	log     *slog.Logger
	observe func(store.AuditEvent)
}

// Option configures a Recorder.
type Option func(*Recorder)

// WithObserver makes the Recorder hand every event to fn once it is durable: after the
// transaction it was recorded in commits (never for one that rolls back), or at once outside a
// transaction. Metrics count logons, throttles and lockouts this way. fn must not block.
func WithObserver(fn func(store.AuditEvent)) Option { return func(r *Recorder) { r.observe = fn } }

// New returns a Recorder reading the time from now and logging to log (nil discards).
func New(now func() time.Time, log *slog.Logger, opts ...Option) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{now: now, log: log}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Appender is where Record writes an event: usually the transaction of the change the event
// describes. store.Store implements it.
type Appender interface {
	AppendAudit(ctx context.Context, e *store.AuditEvent) error
}

var _ Appender = store.Store(nil)

// Record appends e to st: pass the transaction's store so the event commits with the change
// it describes. A zero Time is set from the clock and an empty Actor becomes ActorCitizen; Type
// must be set. After storing, Record logs one line at INFO ("audit", with type, account_id,
// key_kind, key_id, reason, ip and actor — never Detail).
func (r *Recorder) Record(ctx context.Context, st Appender, e store.AuditEvent) error {
	if e.Type == "" {
		return errors.New("record audit event: no event type")
	}
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	if e.Actor == "" {
		e.Actor = ActorCitizen
	}
	if err := st.AppendAudit(ctx, &e); err != nil {
		return fmt.Errorf("record audit event %s: %w", e.Type, err)
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("type", e.Type),
		slog.Int64("account_id", e.AccountID),
		slog.String("key_kind", e.KeyKind),
		slog.Int64("key_id", e.KeyID),
		slog.String("reason", e.Reason),
		slog.String("ip", e.IP),
		slog.String("actor", e.Actor),
	)
	if r.observe != nil {
		if c, ok := st.(store.Committer); ok {
			c.AfterCommit(func() { r.observe(e) })
		} else {
			r.observe(e)
		}
	}
	return nil
}
