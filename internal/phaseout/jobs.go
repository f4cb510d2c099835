package phaseout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// JobStore is what the jobs read, and the transactions they open.
type JobStore interface {
	store.Transactor
	AcquireJobLease(ctx context.Context, job, owner string, now, until time.Time) (bool, error)
	ReleaseJobLease(ctx context.Context, job, owner string) error
	ListPhaseoutPolicies(ctx context.Context) ([]store.PhaseoutPolicy, error)
	ListActiveKeysOfKind(ctx context.Context, kind string, afterID int64, limit int) ([]store.Key, error)
	ListUnusedKeys(ctx context.Context, kind string, usedBefore time.Time, afterID int64, limit int) ([]store.Key, error)
}

var _ JobStore = store.Store(nil)

// jobTx is the jobs' view inside the transaction of one key's change.
type jobTx interface {
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	TransitionKey(ctx context.Context, id int64, from, to store.KeyStatus, cause string, at time.Time) (bool, error)
	MarkUnusedWarning(ctx context.Context, keyID int64, due, deadline time.Time) (bool, error)
	audit.Appender
	mail.Outbox
}

var _ jobTx = store.Store(nil)

// Mailer renders and enqueues e-mails in the caller's transaction (mail.Composer).
type Mailer interface {
	Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error
}

// JobName is the lease the phase-out jobs run under.
const JobName = "phaseout"

// WarnBefore is how long before an unused key's deactivation its citizen is warned.
const WarnBefore = 14 * 24 * time.Hour

// JobsConfig tunes the jobs.
type JobsConfig struct {
	// Owner names this node in the job lease (unique per node).
	Owner string
	// Lease is how long one run may hold the lease; a node that dies mid-run frees it then.
	Lease time.Duration
	// Batch is how many keys are read at once; the expiry of a batch is one transaction (with
	// its events), an unused key's warning or deactivation one each (each sends an e-mail).
	Batch int
	// LogonURL is where the warning e-mail sends the citizen (My digital keys).
	LogonURL string
}

// Jobs records the switch-off of disabled kinds and deactivates keys unused for their
// policy's period, under a lease so one node at a time runs them. Every step is idempotent:
// a key is expired or deactivated by a conditional transition, a warning recorded once per
// deadline, so a run cut short is finished by the next.
type Jobs struct {
	cfg    JobsConfig
	st     JobStore
	mailer Mailer
	audit  Auditor
	now    func() time.Time
	log    *slog.Logger
}

// NewJobs returns the jobs.
func NewJobs(cfg JobsConfig, st JobStore, m Mailer, a Auditor, now func() time.Time, log *slog.Logger) (*Jobs, error) {
	if cfg.Owner == "" || cfg.Lease <= 0 || cfg.Batch <= 0 {
		return nil, errors.New("phaseout jobs: owner, lease and batch must be set")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Jobs{cfg: cfg, st: st, mailer: m, audit: a, now: now, log: log}, nil
}

// Report is what one run did.
type Report struct {
	Ran         bool // false: another node held the lease
	Expired     int  // keys of disabled kinds recorded as expired
	Warned      int  // warnings of an unused key's deactivation sent
	Deactivated int  // unused keys deactivated
}

// Run runs the jobs once, when this node gets the lease.
func (j *Jobs) Run(ctx context.Context) (Report, error) {
	now := j.now()
	ok, err := j.st.AcquireJobLease(ctx, JobName, j.cfg.Owner, now, now.Add(j.cfg.Lease))
	if err != nil || !ok {
		return Report{}, err
	}
	defer func() {
		if err := j.st.ReleaseJobLease(context.WithoutCancel(ctx), JobName, j.cfg.Owner); err != nil {
			j.log.Warn("release the phase-out job lease", "err", err)
		}
	}()
	rep := Report{Ran: true}
	list, err := j.st.ListPhaseoutPolicies(ctx)
	if err != nil {
		return rep, fmt.Errorf("phase-out jobs: %w", err)
	}
	for _, sp := range list {
		p := FromStore(sp)
		switch {
		case Decide(p, now) == Disabled:
			n, err := j.expire(ctx, p, now)
			rep.Expired += n
			if err != nil {
				return rep, err
			}
		case p.UnusedMonths > 0:
			w, d, err := j.unused(ctx, p, now)
			rep.Warned, rep.Deactivated = rep.Warned+w, rep.Deactivated+d
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// expire records every active key of the disabled kind p as expired (cause phase-out), with
// a key.expired event each. The keys read as expired already (portal.StatusOf decides from
// the policy); this makes the transition a fact the reports can count.
func (j *Jobs) expire(ctx context.Context, p Policy, now time.Time) (int, error) {
	n := 0
	for {
		// Expired keys leave the active list, so each batch starts from the beginning; a key
		// that would not move (a concurrent change) is skipped by its ID.
		ks, err := j.st.ListActiveKeysOfKind(ctx, p.Kind, 0, j.cfg.Batch)
		if err != nil {
			return n, fmt.Errorf("expire %s keys: %w", p.Kind, err)
		}
		// One transaction per batch, not per key: a million keys would otherwise cost a million
		// commits (hours on PostgreSQL). Each key still moves only from active (a concurrent
		// change wins) and gets its key.expired event in the same commit.
		moved := 0
		err = store.InTx(ctx, j.st, func(tx jobTx) error {
			moved = 0 // Tx may run fn again
			for _, k := range ks {
				ok, err := tx.TransitionKey(ctx, k.ID, store.KeyActive, store.KeyExpired, keys.CausePhaseOut, now)
				if err != nil {
					return fmt.Errorf("key %d: %w", k.ID, err)
				}
				if !ok {
					continue
				}
				moved++
				if err := j.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyExpired, AccountID: k.AccountID, KeyKind: k.Kind,
					KeyID: k.ID, Actor: audit.ActorSystem, Reason: keys.CausePhaseOut,
					Detail: map[string]string{"kind": k.Kind, "disabled_from": p.DisabledFrom.UTC().Format(time.RFC3339)}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("expire %s keys: %w", p.Kind, err)
		}
		n += moved
		if len(ks) < j.cfg.Batch || moved == 0 {
			return n, nil
		}
	}
}

// lastUse is when k was last used, or activated when never used.
func lastUse(k store.Key) time.Time {
	if !k.LastUsedAt.IsZero() {
		return k.LastUsedAt
	}
	return k.ActivatedAt
}

// unusedAction is what the unused-key job does with one key.
type unusedAction int

const (
	unusedWait       unusedAction = iota // not due, or warned and its deadline not reached
	unusedWarn                           // warn now of the deadline returned
	unusedDeactivate                     // warned at least WarnBefore ago and the deadline passed
)

// unusedStep decides what the unused-key job does with k at now. A key is deactivated only
// after a warning for its current deadline (the one from its last use, or a later one when
// the warning came late); that warning was sent at least WarnBefore before the deadline it
// names. A key found within WarnBefore of its deadline, or past it, without that warning is
// warned now, of its deadline or of now+WarnBefore when that is later. It returns the action,
// the deadline from the last use (due) and the deadline to warn of.
func unusedStep(p Policy, k store.Key, now time.Time) (act unusedAction, due, deadline time.Time) {
	due = p.UnusedDeadline(lastUse(k))
	if w := k.UnusedWarnedFor; !w.IsZero() && !w.Before(due) {
		if now.Before(w) {
			return unusedWait, due, w
		}
		return unusedDeactivate, due, w
	}
	if now.Before(due.Add(-WarnBefore)) {
		return unusedWait, due, due
	}
	deadline = due
	if late := now.Add(WarnBefore); late.After(deadline) {
		deadline = late
	}
	return unusedWarn, due, deadline
}

// unusedCutoff is a last use before which a key of p's kind may be due for a warning at now:
// a few days' margin covers months of different lengths, and each key's own deadline decides.
func unusedCutoff(p Policy, now time.Time) time.Time {
	return now.Add(WarnBefore).In(brussels).AddDate(0, -p.UnusedMonths, 0).Add(4 * 24 * time.Hour)
}

// unused warns the citizens of keys of p's kind due for deactivation within WarnBefore (once
// per deadline) and deactivates those warned whose deadline passed (cause unused), with the
// e-mail that says so.
func (j *Jobs) unused(ctx context.Context, p Policy, now time.Time) (warned, deactivated int, err error) {
	cutoff := unusedCutoff(p, now)
	after := int64(0)
	for {
		ks, err := j.st.ListUnusedKeys(ctx, p.Kind, cutoff, after, j.cfg.Batch)
		if err != nil {
			return warned, deactivated, fmt.Errorf("unused %s keys: %w", p.Kind, err)
		}
		for _, k := range ks {
			after = k.ID
			switch act, due, deadline := unusedStep(p, k, now); act {
			case unusedDeactivate:
				ok, err := j.deactivateUnused(ctx, k)
				if err != nil {
					return warned, deactivated, err
				}
				if ok {
					deactivated++
				}
			case unusedWarn:
				ok, err := j.warnUnused(ctx, k, due, deadline)
				if err != nil {
					return warned, deactivated, err
				}
				if ok {
					warned++
				}
			}
		}
		if len(ks) < j.cfg.Batch {
			return warned, deactivated, nil
		}
	}
}

// deactivateUnused deactivates k (if still active) with its event and e-mail, in one
// transaction.
func (j *Jobs) deactivateUnused(ctx context.Context, k store.Key) (bool, error) {
	moved := false
	err := store.InTx(ctx, j.st, func(tx jobTx) error {
		ok, err := tx.TransitionKey(ctx, k.ID, store.KeyActive, store.KeyDeactivated, keys.CauseUnused, j.now())
		if err != nil || !ok {
			moved = false
			return err
		}
		acct, err := tx.GetAccount(ctx, k.AccountID)
		if err != nil {
			return err
		}
		if err := j.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyDeactivated, AccountID: k.AccountID, KeyKind: k.Kind,
			KeyID: k.ID, Actor: audit.ActorSystem, Reason: keys.CauseUnused,
			Detail: map[string]string{"cause": keys.CauseUnused, "kind": k.Kind}}); err != nil {
			return err
		}
		moved = true
		return j.mailer.Enqueue(ctx, tx, recipient(acct), mail.TemplateKeyDeactivated, map[string]any{"Kind": k.Kind, "Cause": keys.CauseUnused})
	})
	if err != nil {
		return false, fmt.Errorf("deactivate unused %s key %d: %w", k.Kind, k.ID, err)
	}
	return moved, nil
}

// warnUnused sends the warning of k's deactivation at deadline, once for its due date.
func (j *Jobs) warnUnused(ctx context.Context, k store.Key, due, deadline time.Time) (bool, error) {
	sent := false
	err := store.InTx(ctx, j.st, func(tx jobTx) error {
		first, err := tx.MarkUnusedWarning(ctx, k.ID, due, deadline)
		if err != nil || !first {
			sent = false
			return err
		}
		acct, err := tx.GetAccount(ctx, k.AccountID)
		if err != nil {
			return err
		}
		sent = true
		return j.mailer.Enqueue(ctx, tx, recipient(acct), mail.TemplateKeyUnusedWarning,
			map[string]any{"Kind": k.Kind, "Deadline": deadline, "LogonURL": j.cfg.LogonURL})
	})
	if err != nil {
		return false, fmt.Errorf("warn of unused %s key %d: %w", k.Kind, k.ID, err)
	}
	return sent, nil
}

func recipient(acct store.Account) mail.Recipient {
	return mail.Recipient{AccountID: acct.ID, Name: acct.Name, Address: acct.Email, Language: acct.Language}
}
