package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Store is the storage the campaign reads and writes.
type Store interface {
	store.Campaigns
	store.Reminders
	store.Transactor
}

var _ Store = store.Store(nil)

// remindStore is what one batch of a reminder round writes in its transaction.
type remindStore interface {
	store.Reminders
	mail.Outbox
	audit.Appender
}

var _ remindStore = store.Store(nil)

// Dates are a kind's phase-out policy as a report shows it (SPEC §5): activation closed, the
// migration prompt shown, the kind switched off. A zero instant is "not set".
type Dates struct {
	ActivationClosedFrom time.Time `json:"activation_closed_from"`
	MigrationPromptFrom  time.Time `json:"migration_prompt_from"`
	DisabledFrom         time.Time `json:"disabled_from"`
	UnusedMonths         int       `json:"unused_months,omitempty"`
}

func datesOf(p phaseout.Policy) Dates {
	return Dates{ActivationClosedFrom: p.ActivationClosedFrom, MigrationPromptFrom: p.MigrationPromptFrom,
		DisabledFrom: p.DisabledFrom, UnusedMonths: p.UnusedMonths}
}

// Policies looks up phase-out policies (phaseout.Policies, the node's view of the stored ones).
type Policies interface {
	// Get returns the kind's policy; false when the kind has none.
	Get(kind string) (phaseout.Policy, bool)
}

var _ Policies = (*phaseout.Policies)(nil)

// Mailer renders an e-mail and writes it to the outbox of a transaction (mail.Composer).
type Mailer interface {
	Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error
}

// Deps are the collaborators of a Service.
type Deps struct {
	Store    Store
	Kinds    *keys.Registry
	Policies Policies
	Mailer   Mailer
	Audit    *audit.Recorder
	Now      func() time.Time
	// Location is the time zone days are counted in (default Europe/Brussels).
	Location *time.Location
	// ActivateURL is the address the reminder e-mails send citizens to (My digital keys'
	// activation wizard, through the logon).
	ActivateURL string
	Log         *slog.Logger
}

// Service computes campaign reports and runs reminder rounds. It is safe for concurrent use.
type Service struct {
	d Deps
}

// New checks deps and returns a Service.
func New(d Deps) (*Service, error) {
	var problems []error
	if d.Store == nil || d.Kinds == nil || d.Policies == nil || d.Mailer == nil || d.Audit == nil || d.Now == nil {
		problems = append(problems, errors.New("store, kinds, policies, mailer, audit and clock are required"))
	}
	if d.ActivateURL == "" {
		problems = append(problems, errors.New("no activation URL for the reminder e-mails"))
	}
	if d.Location == nil {
		loc, err := time.LoadLocation("Europe/Brussels")
		if err != nil {
			problems = append(problems, fmt.Errorf("no Location given and Europe/Brussels is unknown: %w", err))
		}
		d.Location = loc
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	return &Service{d: d}, nil
}

// Errors a caller shows the operator (LocalizedErrors: web and admin translate them).
var (
	// ErrUnknownKind: the kind named is not a key kind that can be phased out here.
	ErrUnknownKind = i18n.NewError("operator.error.unknown_kind")
	// ErrNoPolicy: reminders need the date the kind is switched off.
	ErrNoPolicy = i18n.NewError("operator.error.no_policy")
	// ErrAlreadyDisabled: the kind is switched off; reminding its citizens is too late.
	ErrAlreadyDisabled = i18n.NewError("operator.error.disabled")
)

// Campaign kinds: any registered kind but the password, which every account has.
func (s *Service) check(kind string) (store.CampaignKeys, error) {
	k, ok := s.d.Kinds.Get(kind)
	if !ok || kind == "password" {
		return store.CampaignKeys{}, fmt.Errorf("campaign %q: %w", kind, ErrUnknownKind)
	}
	c := store.CampaignKeys{Kind: k.Name()}
	for _, o := range s.d.Kinds.Meeting(keys.LevelSubstantial) {
		if o.Name() != kind {
			c.Others = append(c.Others, o.Name())
		}
	}
	sort.Strings(c.Others)
	return c, nil
}

// Kinds returns the kinds a campaign can be about, in registration order.
func (s *Service) Kinds() []string {
	var out []string
	for _, k := range s.d.Kinds.All() {
		if k.Name() != "password" {
			out = append(out, k.Name())
		}
	}
	return out
}

// Phase returns the kind's phase now.
func (s *Service) Phase(ctx context.Context, kind string) (string, error) {
	if _, err := s.check(kind); err != nil {
		return "", err
	}
	p, has := s.d.Policies.Get(kind)
	return phaseOf(p, has, s.d.Now()), nil
}

// Phases of a kind at an instant, by its policy.
const (
	PhaseNone             = "none"              // no policy: nothing is phased out
	PhaseAnnounced        = "announced"         // a policy whose first date is still to come
	PhaseActivationClosed = "activation_closed" // no new keys; existing ones log on as before
	PhasePrompt           = "prompt"            // the migration pop-up is shown at logon
	PhaseDisabled         = "disabled"          // the kind no longer logs on; its keys are expired
)

// phaseOf is the phase of a kind with policy p (has: there is one) at now, as phaseout.Decide
// says, telling a policy yet to begin from none.
func phaseOf(p phaseout.Policy, has bool, now time.Time) string {
	if !has {
		return PhaseNone
	}
	switch phaseout.Decide(p, now) {
	case phaseout.Disabled:
		return PhaseDisabled
	case phaseout.Prompt:
		return PhasePrompt
	case phaseout.ActivationClosed:
		return PhaseActivationClosed
	}
	return PhaseAnnounced
}

// Last-use buckets of a report, in order.
var Buckets = []string{"never", "month", "half_year", "year", "older"}

// Bucket counts the citizens whose newest use of the kind falls in one range.
type Bucket struct {
	Name     string `json:"name"` // one of Buckets
	Citizens int64  `json:"citizens"`
}

// Funnel is what citizens did with the phase-out pop-up, and how many migrated.
type Funnel struct {
	PromptsShown   int64 `json:"prompts_shown"`
	PromptCitizens int64 `json:"prompt_citizens"`
	// Choices per choice: "activate", "other_key", "close" (always present, maybe zero).
	Choices  []Choice `json:"choices"`
	Migrated int64    `json:"migrated"` // keys of the kind replaced by a new key (cause migration)
}

// Choices of the phase-out pop-up, in the pop-up's order.
var Choices = []string{"activate", "other_key", "close"}

// Choice counts one answer to the pop-up.
type Choice struct {
	Choice   string `json:"choice"`
	Events   int64  `json:"events"`
	Citizens int64  `json:"citizens"`
}

// DayCount is the migrations of one day (in the service's time zone) to one target kind.
type DayCount struct {
	Day    string `json:"day"` // YYYY-MM-DD
	Target string `json:"target"`
	Count  int64  `json:"count"`
}

// Report is the campaign of one kind: the figures of SPEC §5.
type Report struct {
	Kind        string    `json:"kind"`
	GeneratedAt time.Time `json:"generated_at"`
	// Phase is the kind's phase now (Phase…); Policy its dates when HasPolicy.
	Phase     string `json:"phase"`
	HasPolicy bool   `json:"has_policy"`
	Policy    Dates  `json:"policy"`
	// Active counts the citizens with an active key of the kind, LastUse the same citizens by
	// their newest use of it.
	Active  int64    `json:"active"`
	LastUse []Bucket `json:"last_use"`
	// AtRisk counts the citizens with an active key of the kind and no active key of another
	// kind of level substantial (AtRiskOthers).
	AtRisk       int64    `json:"at_risk"`
	AtRiskOthers []string `json:"at_risk_others"`
	Funnel       Funnel   `json:"funnel"`
	// Migrations per day and target kind, oldest first; Targets the target kinds, sorted.
	Migrations []DayCount `json:"migrations"`
	Targets    []string   `json:"targets"`
	// Round is the latest reminder round, nil when none was started.
	Round *store.ReminderRound `json:"round,omitempty"`
}

// month is a month for the last-use buckets (30 days).
const month = 30 * 24 * time.Hour

// Report computes the campaign report of kind.
func (s *Service) Report(ctx context.Context, kind string) (*Report, error) {
	c, err := s.check(kind)
	if err != nil {
		return nil, err
	}
	now := s.d.Now()
	pol, has := s.d.Policies.Get(kind)
	r := &Report{Kind: kind, GeneratedAt: now, Phase: phaseOf(pol, has, now), HasPolicy: has, AtRiskOthers: c.Others}
	if has {
		r.Policy = datesOf(pol)
	}
	counts, err := s.d.Store.CountByLastUse(ctx, kind, []time.Time{now.Add(-month), now.Add(-6 * month), now.Add(-12 * month)})
	if err != nil {
		return nil, fmt.Errorf("campaign %s: %w", kind, err)
	}
	for i, name := range Buckets {
		r.LastUse = append(r.LastUse, Bucket{Name: name, Citizens: counts[i]})
		r.Active += counts[i]
	}
	if r.AtRisk, err = s.d.Store.CountAtRisk(ctx, c); err != nil {
		return nil, fmt.Errorf("campaign %s: %w", kind, err)
	}
	if r.Funnel, err = s.funnel(ctx, kind); err != nil {
		return nil, err
	}
	if r.Migrations, r.Targets, err = s.migrations(ctx, kind); err != nil {
		return nil, err
	}
	for _, m := range r.Migrations {
		r.Funnel.Migrated += m.Count
	}
	round, err := s.d.Store.LatestReminderRound(ctx, kind)
	switch {
	case err == nil:
		r.Round = &round
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("campaign %s: %w", kind, err)
	}
	return r, nil
}

func (s *Service) funnel(ctx context.Context, kind string) (Funnel, error) {
	counts, err := s.d.Store.CountEvents(ctx, kind, []string{audit.PhaseoutPromptShown, audit.PhaseoutChoice}, "choice")
	if err != nil {
		return Funnel{}, fmt.Errorf("campaign %s: %w", kind, err)
	}
	var f Funnel
	byChoice := map[string]store.EventCount{}
	for _, c := range counts {
		switch c.Type {
		case audit.PhaseoutPromptShown:
			// The prompt has no choice field: one row. Distinct citizens summed over values
			// would count one citizen twice, but there is only the empty value.
			f.PromptsShown += c.Events
			f.PromptCitizens += c.Citizens
		case audit.PhaseoutChoice:
			byChoice[c.Value] = c
		}
	}
	for _, ch := range Choices {
		c := byChoice[ch]
		f.Choices = append(f.Choices, Choice{Choice: ch, Events: c.Events, Citizens: c.Citizens})
	}
	return f, nil
}

// migrations folds the hourly counts into days of the service's time zone (whose offsets
// are whole hours, so every hour lies in one day).
func (s *Service) migrations(ctx context.Context, kind string) ([]DayCount, []string, error) {
	hours, err := s.d.Store.CountMigrationsByHour(ctx, kind)
	if err != nil {
		return nil, nil, fmt.Errorf("campaign %s: %w", kind, err)
	}
	type dayTarget struct{ day, target string }
	sum := map[dayTarget]int64{}
	var targets []string
	for _, h := range hours {
		target := h.Value
		if target == "" {
			target = "unknown"
		}
		day := time.Unix(h.Hour*3600, 0).In(s.d.Location).Format(time.DateOnly)
		sum[dayTarget{day, target}] += h.Events
		if !slices.Contains(targets, target) {
			targets = append(targets, target)
		}
	}
	out := make([]DayCount, 0, len(sum))
	for k, n := range sum {
		out = append(out, DayCount{Day: k.day, Target: k.target, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Target < out[j].Target
	})
	sort.Strings(targets)
	return out, targets, nil
}

// atRiskPage is how many citizens at risk one query reads (CSV and reminder batches).
const atRiskPage = 500

// EachAtRisk calls fn with every citizen at risk in kind's campaign, by account ID, reading
// them in pages (the list is never held whole).
func (s *Service) EachAtRisk(ctx context.Context, kind string, fn func(store.AtRisk) error) error {
	c, err := s.check(kind)
	if err != nil {
		return err
	}
	var after int64
	for {
		page, err := s.d.Store.ListAtRisk(ctx, c, after, atRiskPage)
		if err != nil {
			return fmt.Errorf("campaign %s: %w", kind, err)
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < atRiskPage {
			return nil
		}
		after = page[len(page)-1].AccountID
	}
}

// Operator is who does something: the account of an operator page, or the command line.
type Operator struct {
	AccountID int64  // 0: the command line
	Name      string // the operator's username, or "admin"
	IP        string
}

// Record writes an operator action to the audit log (outside any other change: viewing and
// downloads). Detail["action"] says what was done.
func (s *Service) Record(ctx context.Context, op Operator, action, kind string, detail map[string]string) error {
	return s.d.Audit.Record(ctx, auditAppender{s.d.Store}, s.event(op, action, kind, detail))
}

func (s *Service) event(op Operator, action, kind string, detail map[string]string) store.AuditEvent {
	d := map[string]string{"action": action, "by": op.Name}
	for k, v := range detail {
		d[k] = v
	}
	return store.AuditEvent{Type: audit.OperatorAction, Actor: audit.ActorOperator, AccountID: op.AccountID,
		KeyKind: kind, IP: op.IP, Detail: d}
}

// auditAppender appends one event in its own transaction.
type auditAppender struct{ t store.Transactor }

func (a auditAppender) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	return store.InTx(ctx, a.t, func(tx audit.Appender) error { return tx.AppendAudit(ctx, e) })
}
