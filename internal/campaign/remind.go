package campaign

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// RemindOptions steer a reminder round.
type RemindOptions struct {
	// NewRound starts another round when the latest one finished: every citizen still at risk
	// gets one more e-mail. Without it a finished round is not repeated (RoundFinishedError).
	NewRound bool
	// Operator is who started it (audited).
	Operator Operator
	// Batch is how many citizens one transaction reminds (default 500).
	Batch int
	// MaxBatches, when positive, stops after that many batches and leaves the round open for
	// the next call to continue (a web request must end within its write timeout).
	MaxBatches int
	// Progress, when set, is called after each batch with the reminders this call sent so far.
	Progress func(sent int64)
}

// RoundResult says what a call of Remind did.
type RoundResult struct {
	// Round is the round as it stands afterwards (finished, with Reminded over all its runs).
	Round store.ReminderRound
	// Resumed: the round was open — interrupted, or running elsewhere at the same time — and
	// this call continued it.
	Resumed bool
	// Sent counts the reminders this call enqueued; Skipped the citizens at risk without a
	// usable e-mail address.
	Sent, Skipped int64
	// Finished: the round is done (false: MaxBatches stopped this call first).
	Finished bool
}

// RoundFinishedError: the latest round of the kind finished, and another was not asked for.
type RoundFinishedError struct {
	Round store.ReminderRound
}

func (e *RoundFinishedError) Error() string {
	return fmt.Sprintf("reminder round %d of %s finished at %s after %d reminders: start another with a new round",
		e.Round.Number, e.Round.Kind, e.Round.FinishedAt.Format(time.RFC3339), e.Round.Reminded)
}

// Unwrap gives the message the operator reads, which web and admin show in their language.
func (e *RoundFinishedError) Unwrap() error {
	return i18n.NewError("operator.error.round_finished", e.Round.Number, e.Round.Reminded)
}

// defaultBatch is how many citizens one transaction of a round reminds: a crash loses at most
// that batch's transaction (which rolls back, so nobody is reminded twice or missed).
const defaultBatch = 500

// Remind runs a reminder round of kind's campaign: every citizen at risk gets the phase-out
// reminder e-mail (mail.TemplatePhaseoutReminder), at most once per round. The reminder rows
// and the e-mails are written together, a batch per transaction, so a round interrupted (a
// crash, a lost connection) is continued by the next call, and two calls at once — on one
// node or several — share the work and remind nobody twice: the row of (round, citizen) is
// unique, and an e-mail is only enqueued by the transaction whose insert wrote it.
func (s *Service) Remind(ctx context.Context, kind string, opt RemindOptions) (RoundResult, error) {
	c, err := s.check(kind)
	if err != nil {
		return RoundResult{}, err
	}
	pol, has := s.d.Policies.Get(kind)
	dates := datesOf(pol)
	if !has || dates.DisabledFrom.IsZero() {
		return RoundResult{}, fmt.Errorf("remind %s: %w", kind, ErrNoPolicy)
	}
	if !s.d.Now().Before(dates.DisabledFrom) {
		return RoundResult{}, fmt.Errorf("remind %s: %w", kind, ErrAlreadyDisabled)
	}
	if opt.Batch <= 0 {
		opt.Batch = defaultBatch
	}
	var res RoundResult
	res.Round, res.Resumed, err = s.openRound(ctx, kind, dates, opt)
	if err != nil {
		return res, err
	}
	var after int64
	for batches := 1; ; batches++ {
		n, last, sent, skipped, err := s.remindBatch(ctx, c, res.Round, after, opt.Batch)
		if err != nil {
			return res, fmt.Errorf("remind %s: round %d: %w", kind, res.Round.Number, err)
		}
		res.Sent += sent
		res.Skipped += skipped
		if opt.Progress != nil {
			opt.Progress(res.Sent)
		}
		if n < opt.Batch {
			break
		}
		if opt.MaxBatches > 0 && batches >= opt.MaxBatches {
			if r, err := s.d.Store.LatestReminderRound(ctx, kind); err == nil && r.ID == res.Round.ID {
				res.Round = r
			}
			return res, nil
		}
		after = last
	}
	err = store.InTx(ctx, s.d.Store, func(tx remindStore) error {
		finished, err := tx.FinishReminderRound(ctx, res.Round.ID, s.d.Now())
		if err != nil || !finished {
			return err // a concurrent run finished it and recorded that
		}
		r, err := tx.LatestReminderRound(ctx, kind)
		if err != nil {
			return err
		}
		return s.d.Audit.Record(ctx, tx, s.event(opt.Operator, "reminder_round_finished", kind, map[string]string{
			"round": strconv.Itoa(res.Round.Number), "reminded": strconv.FormatInt(r.Reminded, 10)}))
	})
	if err != nil {
		return res, fmt.Errorf("remind %s: finish round %d: %w", kind, res.Round.Number, err)
	}
	res.Finished = true
	if r, err := s.d.Store.LatestReminderRound(ctx, kind); err == nil && r.ID == res.Round.ID {
		res.Round = r
	}
	return res, nil
}

// openRound returns the round to work on: the open one (resumed), or a new one.
func (s *Service) openRound(ctx context.Context, kind string, dates Dates, opt RemindOptions) (store.ReminderRound, bool, error) {
	for range 3 {
		latest, err := s.d.Store.LatestReminderRound(ctx, kind)
		next := 1
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return latest, false, fmt.Errorf("remind %s: %w", kind, err)
		case latest.FinishedAt.IsZero():
			err := s.Record(ctx, opt.Operator, "reminder_round_resumed", kind, map[string]string{
				"round": strconv.Itoa(latest.Number), "reminded": strconv.FormatInt(latest.Reminded, 10)})
			return latest, true, err
		case !opt.NewRound:
			return latest, false, &RoundFinishedError{Round: latest}
		default:
			next = latest.Number + 1
		}
		r := store.ReminderRound{Kind: kind, Number: next, StartedAt: s.d.Now(), StartedBy: opt.Operator.Name, DisabledFrom: dates.DisabledFrom}
		err = store.InTx(ctx, s.d.Store, func(tx remindStore) error {
			if err := tx.CreateReminderRound(ctx, &r); err != nil {
				return err
			}
			return s.d.Audit.Record(ctx, tx, s.event(opt.Operator, "reminder_round_started", kind, map[string]string{
				"round": strconv.Itoa(r.Number), "disabled_from": dates.DisabledFrom.UTC().Format(time.RFC3339)}))
		})
		if errors.Is(err, store.ErrConflict) {
			continue // another operator started it at the same moment: join theirs
		}
		if err != nil {
			return r, false, fmt.Errorf("remind %s: start round %d: %w", kind, next, err)
		}
		return r, false, nil
	}
	return store.ReminderRound{}, false, fmt.Errorf("remind %s: rounds keep being started concurrently", kind)
}

// remindBatch reminds, in one transaction, up to batch citizens at risk whom the round has
// not reminded, with an account ID above after. It returns how many citizens it looked at,
// the last one's ID, and how many it reminded and skipped.
func (s *Service) remindBatch(ctx context.Context, c store.CampaignKeys, round store.ReminderRound, after int64, batch int) (n int, last, sent, skipped int64, err error) {
	now := s.d.Now()
	err = store.InTx(ctx, s.d.Store, func(tx remindStore) error {
		n, last, sent, skipped = 0, after, 0, 0 // Tx may run this again
		page, err := tx.UnremindedAtRisk(ctx, round.ID, c, after, batch)
		if err != nil {
			return err
		}
		n = len(page)
		for _, r := range page {
			last = r.AccountID
			if mail.ValidateAddress(r.Email) != nil {
				skipped++ // imported without a usable address: nothing to send to
				continue
			}
			ok, err := tx.RecordReminder(ctx, round.ID, r.AccountID, now)
			if err != nil {
				return err
			}
			if !ok {
				continue // a concurrent run of this round reminded them
			}
			err = s.d.Mailer.Enqueue(ctx, tx, mail.Recipient{AccountID: r.AccountID, Name: r.Name, Address: r.Email, Language: r.Language},
				mail.TemplatePhaseoutReminder, map[string]any{"Kind": c.Kind, "DisabledFrom": round.DisabledFrom, "ActivateURL": s.d.ActivateURL})
			if err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	return n, last, sent, skipped, err
}
