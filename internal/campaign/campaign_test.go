package campaign_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/campaign"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// policies is a fixed table of phase-out policies.
type policies map[string]phaseout.Policy

func (p policies) Get(kind string) (phaseout.Policy, bool) {
	d, ok := p[kind]
	return d, ok
}

// fixture is a campaign service over a real store, with the logon's parts (logintest) and
// citizens whose keys the test chooses.
type fixture struct {
	t   *testing.T
	db  *sqlstore.DB
	w   *logintest.World
	svc *campaign.Service
	pol policies
	ids map[string]int64
}

var brussels = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		panic(err)
	}
	return loc
}()

func newFixture(t *testing.T, db *sqlstore.DB, mailer campaign.Mailer) *fixture {
	t.Helper()
	w := logintest.New(t, db, logintest.Options{Kinds: []string{}, Start: time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)})
	f := &fixture{t: t, db: db, w: w, ids: map[string]int64{}, pol: policies{"tokencard": {Kind: "tokencard",
		ActivationClosedFrom: time.Date(2023, 6, 1, 0, 0, 0, 0, brussels),
		MigrationPromptFrom:  time.Date(2023, 12, 1, 0, 0, 0, 0, brussels),
		DisabledFrom:         time.Date(2024, 1, 31, 0, 0, 0, 0, brussels),
	}}}
	if mailer == nil {
		mailer = w.Mail
	}
	var err error
	f.svc, err = campaign.New(campaign.Deps{Store: db, Kinds: w.Kinds, Policies: f.pol, Mailer: mailer, Audit: w.Audit,
		Now: w.Clock.Now, Location: brussels, ActivateURL: "http://127.0.0.1/keys/activate"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// citizen creates a citizen with keys of kinds, active, last used ago before now (0: never).
func (f *fixture) citizen(name string, ago time.Duration, kinds ...string) int64 {
	f.t.Helper()
	ctx := f.t.Context()
	a := store.Account{Username: name, Name: "Name of " + name, Email: name + "@example.be", Language: "fr"}
	if err := f.db.CreateAccount(ctx, &a); err != nil {
		f.t.Fatal(err)
	}
	now := f.w.Clock.Now()
	for i, kind := range kinds {
		k := store.Key{AccountID: a.ID, Kind: kind, Status: store.KeyActive, CreatedAt: now, ActivatedAt: now}
		if kind == "tokencard" {
			k.Serial = fmt.Sprintf("%s-%d", name, i)
		}
		if err := f.db.CreateKey(ctx, &k); err != nil {
			f.t.Fatal(err)
		}
		if ago > 0 {
			if err := f.db.TouchKey(ctx, k.ID, now.Add(-ago)); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	f.ids[name] = a.ID
	return a.ID
}

// reminders returns how many reminder e-mails each named citizen has in the outbox.
func (f *fixture) reminders(names ...string) map[string]int {
	f.t.Helper()
	out := map[string]int{}
	for _, n := range names {
		msgs, err := f.db.ListAccountMessages(f.t.Context(), f.ids[n])
		if err != nil {
			f.t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Template == mail.TemplatePhaseoutReminder {
				out[n]++
			}
		}
	}
	return out
}

const day = 24 * time.Hour

func TestReport(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		ctx := t.Context()
		f.citizen("never", 0, "tokencard")
		f.citizen("recent", 2*day, "tokencard")
		f.citizen("safe", 100*day, "tokencard", "totp")
		f.citizen("old", 400*day, "tokencard")
		f.citizen("app", day, "totp")
		// 22:30 UTC on 11 January is 23:30 in Brussels (the 11th); 23:30 UTC is the 12th there.
		at := func(d, h, m int) time.Time { return time.Date(2024, 1, d, h, m, 0, 0, time.UTC) }
		migrated := func(acct string, when time.Time, to string) store.AuditEvent {
			return store.AuditEvent{Type: audit.KeyDeactivated, AccountID: f.ids[acct], KeyKind: "tokencard", Time: when,
				Detail: map[string]string{"cause": "migration", "kind": "tokencard", "replaced_by": to}}
		}
		events := []store.AuditEvent{
			{Type: audit.PhaseoutPromptShown, AccountID: f.ids["never"], KeyKind: "tokencard", Time: at(9, 8, 0)},
			{Type: audit.PhaseoutPromptShown, AccountID: f.ids["recent"], KeyKind: "tokencard", Time: at(9, 9, 0)},
			{Type: audit.PhaseoutPromptShown, AccountID: f.ids["recent"], KeyKind: "tokencard", Time: at(9, 10, 0)},
			{Type: audit.PhaseoutChoice, AccountID: f.ids["recent"], KeyKind: "tokencard", Time: at(9, 10, 1), Detail: map[string]string{"choice": "close"}},
			{Type: audit.PhaseoutChoice, AccountID: f.ids["never"], KeyKind: "tokencard", Time: at(9, 8, 1), Detail: map[string]string{"choice": "activate"}},
			migrated("never", at(11, 22, 30), "totp"),
			migrated("recent", at(11, 23, 30), "totp"),
			migrated("safe", at(11, 23, 40), "emailcode"),
		}
		if err := db.AppendAudits(ctx, events); err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.Report(ctx, "tokencard")
		if err != nil {
			t.Fatal(err)
		}
		want := &campaign.Report{
			Kind: "tokencard", GeneratedAt: f.w.Clock.Now(), Phase: campaign.PhasePrompt, HasPolicy: true, Policy: campaign.Dates{
				ActivationClosedFrom: f.pol["tokencard"].ActivationClosedFrom, MigrationPromptFrom: f.pol["tokencard"].MigrationPromptFrom,
				DisabledFrom: f.pol["tokencard"].DisabledFrom},
			Active: 4,
			LastUse: []campaign.Bucket{{Name: "never", Citizens: 1}, {Name: "month", Citizens: 1}, {Name: "half_year", Citizens: 1},
				{Name: "year", Citizens: 0}, {Name: "older", Citizens: 1}},
			AtRisk: 3, AtRiskOthers: []string{"emailcode", "totp"},
			Funnel: campaign.Funnel{PromptsShown: 3, PromptCitizens: 2, Migrated: 3, Choices: []campaign.Choice{
				{Choice: "activate", Events: 1, Citizens: 1}, {Choice: "other_key", Events: 0, Citizens: 0}, {Choice: "close", Events: 1, Citizens: 1}}},
			Migrations: []campaign.DayCount{{Day: "2024-01-11", Target: "totp", Count: 1},
				{Day: "2024-01-12", Target: "emailcode", Count: 1}, {Day: "2024-01-12", Target: "totp", Count: 1}},
			Targets: []string{"emailcode", "totp"},
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		// A kind without a policy is reported too, in phase "none".
		r, err = f.svc.Report(ctx, "totp")
		if err != nil || r.Phase != campaign.PhaseNone || r.Active != 2 || r.AtRisk != 1 {
			t.Errorf("totp report %+v, %v", r, err)
		}
	})
}

func TestUnknownKind(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		ctx := t.Context()
		for _, kind := range []string{"password", "sms", "", "TOKENCARD"} {
			if _, err := f.svc.Report(ctx, kind); !errors.Is(err, campaign.ErrUnknownKind) {
				t.Errorf("Report(%q): %v, want ErrUnknownKind", kind, err)
			}
			if err := f.svc.WriteAtRiskCSV(ctx, kind, &bytes.Buffer{}); !errors.Is(err, campaign.ErrUnknownKind) {
				t.Errorf("WriteAtRiskCSV(%q): %v, want ErrUnknownKind", kind, err)
			}
			if _, err := f.svc.Remind(ctx, kind, campaign.RemindOptions{}); !errors.Is(err, campaign.ErrUnknownKind) {
				t.Errorf("Remind(%q): %v, want ErrUnknownKind", kind, err)
			}
		}
	})
}

func TestAtRiskCSV(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		ctx := t.Context()
		f.citizen("anna", 0, "tokencard")
		f.citizen("=cmd", 3*day, "tokencard")
		f.citizen("bert", day, "tokencard", "emailcode")
		var buf bytes.Buffer
		if err := f.svc.WriteAtRiskCSV(ctx, "tokencard", &buf); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		last := f.w.Clock.Now().Add(-3 * day).UTC().Format(time.RFC3339)
		want := [][]string{campaign.AtRiskHeader,
			{"anna", "Name of anna", "anna@example.be", "fr", ""},
			{"'=cmd", "Name of =cmd", "'=cmd@example.be", "fr", last}}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Errorf("csv (-want +got):\n%s", diff)
		}
	})
}

func TestDefuse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "anna": "anna", "=1+1": "'=1+1", "+32": "'+32", "-x": "'-x",
		"@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx", "a=b": "a=b"} {
		if got := campaign.Defuse(in); got != want {
			t.Errorf("Defuse(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRemindRounds(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		ctx := t.Context()
		f.citizen("a", 0, "tokencard")
		f.citizen("b", day, "tokencard")
		f.citizen("c", day, "tokencard", "totp") // not at risk
		f.citizen("d", day, "tokencard")
		op := campaign.Operator{Name: "admin"}
		res, err := f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Operator: op, Batch: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 3 || res.Resumed || !res.Finished || res.Round.Number != 1 || res.Round.Reminded != 3 || res.Round.FinishedAt.IsZero() {
			t.Errorf("round 1: %+v", res)
		}
		if got, want := f.reminders("a", "b", "c", "d"), map[string]int{"a": 1, "b": 1, "d": 1}; !cmp.Equal(got, want) {
			t.Errorf("reminders %v, want %v", got, want)
		}
		// The e-mail is in the citizen's language and names the date the kind is switched off.
		msgs, err := db.ListAccountMessages(ctx, f.ids["a"])
		if err != nil || len(msgs) != 1 || msgs[0].Language != "fr" || !strings.Contains(msgs[0].TextBody, "31 janvier 2024") ||
			!strings.Contains(msgs[0].TextBody, "http://127.0.0.1/keys/activate") {
			t.Errorf("reminder %+v, %v", msgs, err)
		}
		// Started again: the finished round is not repeated, and says so.
		_, err = f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Operator: op})
		var fin *campaign.RoundFinishedError
		var le *i18n.LocalizedError
		if !errors.As(err, &fin) || fin.Round.Number != 1 || fin.Round.Reminded != 3 || !errors.As(err, &le) || le.Key != "operator.error.round_finished" {
			t.Fatalf("second start: %v, want RoundFinishedError", err)
		}
		if got := f.reminders("a", "b", "d"); !cmp.Equal(got, map[string]int{"a": 1, "b": 1, "d": 1}) {
			t.Errorf("after a refused start: %v", got)
		}
		// A new round reminds those still at risk once more.
		f.citizen("e", day, "tokencard")
		res, err = f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Operator: op, NewRound: true})
		if err != nil || res.Round.Number != 2 || res.Sent != 4 {
			t.Fatalf("round 2: %+v, %v", res, err)
		}
		if got, want := f.reminders("a", "b", "c", "d", "e"), map[string]int{"a": 2, "b": 2, "d": 2, "e": 1}; !cmp.Equal(got, want) {
			t.Errorf("after round 2: %v, want %v", got, want)
		}
		// Every start and end is an operator action.
		var actions []string
		evs, err := db.ListAudit(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == audit.OperatorAction {
				actions = append(actions, e.Detail["action"]+" "+e.Detail["round"])
			}
		}
		want := []string{"reminder_round_started 1", "reminder_round_finished 1", "reminder_round_started 2", "reminder_round_finished 2"}
		if !cmp.Equal(actions, want) {
			t.Errorf("operator actions %q, want %q", actions, want)
		}
	})
}

func TestRemindRefusals(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		ctx := t.Context()
		f.citizen("a", 0, "tokencard", "totp")
		f.citizen("b", 0, "totp")
		if _, err := f.svc.Remind(ctx, "totp", campaign.RemindOptions{}); !errors.Is(err, campaign.ErrNoPolicy) {
			t.Errorf("no policy: %v", err)
		}
		f.w.Clock.Set(f.pol["tokencard"].DisabledFrom)
		if _, err := f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{}); !errors.Is(err, campaign.ErrAlreadyDisabled) {
			t.Errorf("disabled: %v", err)
		}
		if _, err := db.LatestReminderRound(ctx, "tokencard"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused round was stored: %v", err)
		}
	})
}

// failingMailer enqueues through the real composer until it has enqueued after messages,
// then fails: a node that dies in the middle of a round.
type failingMailer struct {
	mu    sync.Mutex
	next  campaign.Mailer
	after int
}

var errCrash = errors.New("crash")

func (m *failingMailer) Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.after == 0 {
		return errCrash
	}
	m.after--
	return m.next.Enqueue(ctx, ob, to, template, data)
}

func TestRemindResumesAfterCrash(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		crashing := &failingMailer{after: 3}
		f := newFixture(t, db, crashing)
		crashing.next = f.w.Mail
		names := []string{"a", "b", "c", "d", "e", "f", "g"}
		for _, n := range names {
			f.citizen(n, day, "tokencard")
		}
		// Batches of 2: the first commits (a, b), the second dies after c's e-mail and rolls back.
		if _, err := f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Batch: 2}); !errors.Is(err, errCrash) {
			t.Fatalf("crashing round: %v", err)
		}
		if got := f.reminders(names...); !cmp.Equal(got, map[string]int{"a": 1, "b": 1}) {
			t.Errorf("after the crash: %v", got)
		}
		r, err := db.LatestReminderRound(ctx, "tokencard")
		if err != nil || !r.FinishedAt.IsZero() || r.Reminded != 2 {
			t.Fatalf("interrupted round %+v, %v", r, err)
		}
		crashing.after = 1 << 30
		res, err := f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Batch: 2})
		if err != nil || !res.Resumed || res.Sent != 5 || res.Round.Reminded != 7 || res.Round.Number != 1 {
			t.Fatalf("resumed round: %+v, %v", res, err)
		}
		want := map[string]int{}
		for _, n := range names {
			want[n] = 1
		}
		if got := f.reminders(names...); !cmp.Equal(got, want) {
			t.Errorf("after resuming: %v, want %v", got, want)
		}
	})
}

func TestRemindConcurrentStartsSendOnce(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		ctx := t.Context()
		var names []string
		for i := range 30 {
			n := fmt.Sprintf("c%02d", i)
			names = append(names, n)
			f.citizen(n, day, "tokencard")
		}
		const runs = 4
		var wg sync.WaitGroup
		results := make([]campaign.RoundResult, runs)
		errs := make([]error, runs)
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Batch: 3})
			}()
		}
		wg.Wait()
		var sent int64
		for i := range runs {
			var fin *campaign.RoundFinishedError
			switch {
			case errors.As(errs[i], &fin): // started after another run finished the round
			case errs[i] != nil:
				t.Fatalf("run %d: %v", i, errs[i])
			default:
				sent += results[i].Sent
				if results[i].Round.Number != 1 {
					t.Errorf("run %d worked on round %d", i, results[i].Round.Number)
				}
			}
		}
		if sent != 30 {
			t.Errorf("the runs sent %d reminders, want 30", sent)
		}
		for n, c := range f.reminders(names...) {
			if c != 1 {
				t.Errorf("%s got %d reminders", n, c)
			}
		}
		if len(f.reminders(names...)) != 30 {
			t.Errorf("reminded %d citizens, want 30", len(f.reminders(names...)))
		}
	})
}

func TestRemindMaxBatches(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		ctx := t.Context()
		for i := range 5 {
			f.citizen(fmt.Sprintf("c%d", i), day, "tokencard")
		}
		res, err := f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Batch: 2, MaxBatches: 1})
		if err != nil || res.Finished || res.Sent != 2 || res.Round.Reminded != 2 || !res.Round.FinishedAt.IsZero() {
			t.Fatalf("first call: %+v, %v", res, err)
		}
		res, err = f.svc.Remind(ctx, "tokencard", campaign.RemindOptions{Batch: 2, MaxBatches: 5})
		if err != nil || !res.Finished || !res.Resumed || res.Sent != 3 || res.Round.Reminded != 5 {
			t.Fatalf("second call: %+v, %v", res, err)
		}
	})
}
