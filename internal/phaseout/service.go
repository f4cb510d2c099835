package phaseout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Store is what the Service reads and writes.
type Store interface {
	store.Transactor
	ListPhaseoutPolicies(ctx context.Context) ([]store.PhaseoutPolicy, error)
}

var _ Store = store.Store(nil)

// changeStore is the Service's view inside its transaction: every check of a change reads
// here, after LockPhaseoutPolicies, so two changes made at once are checked one after the
// other.
type changeStore interface {
	GetPhaseoutPolicy(ctx context.Context, kind string) (store.PhaseoutPolicy, error)
	ListPhaseoutPolicies(ctx context.Context) ([]store.PhaseoutPolicy, error)
	PutPhaseoutPolicy(ctx context.Context, p store.PhaseoutPolicy) error
	DeletePhaseoutPolicy(ctx context.Context, kind string) error
	LockPhaseoutPolicies(ctx context.Context) error
	CountStranded(ctx context.Context, kind string, others []string) (int64, error)
	RestoreExpiredKeys(ctx context.Context, kind, cause string) ([]store.Key, error)
	ListUnusedKeys(ctx context.Context, kind string, usedBefore time.Time, afterID int64, limit int) ([]store.Key, error)
	audit.Appender
}

var _ changeStore = store.Store(nil)

// Auditor records audit events (internal/audit).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

// CausePolicyChange is the reason of a key.reactivated event when a policy moved later or
// cleared gives back a key its switch-off had expired.
const CausePolicyChange = "policy-change"

// Service sets, shows and clears policies: the operator's side (admin phaseout).
type Service struct {
	st    Store
	kinds *keys.Registry
	audit Auditor
	now   func() time.Time
}

// NewService returns a Service for the kinds of reg.
func NewService(st Store, reg *keys.Registry, a Auditor, now func() time.Time) *Service {
	return &Service{st: st, kinds: reg, audit: a, now: now}
}

// ErrNeedsConfirm: the policy disables the kind and citizens would be left without another
// active substantial key; Set wants confirm.
var ErrNeedsConfirm = errors.New("this policy would leave citizens without another active substantial key: run again with --confirm")

// Impact is what a policy would do to citizens.
type Impact struct {
	// Stranded counts the citizens with an active key of the kind and no active key of another
	// substantial kind that stays enabled: they could not log on at substantial after
	// disabled_from unless they migrate. Only counted when the policy disables the kind. Keys
	// the change gives back (expired by an earlier switch-off now moved later) count as
	// active.
	Stranded int64
	// Others are the substantial kinds counted as a way on.
	Others []string
	// Restored counts the keys of the kind made active again: the policy no longer disables
	// the kind now, and its switch-off had expired them.
	Restored int
	// WarnNow counts the keys the unused-key job warns at its next run (their deadline within
	// WarnBefore, or already past), when the policy deactivates unused keys; none of them is
	// deactivated before WarnBefore after its warning.
	WarnNow int64
}

// check validates p against the registered kinds: everything CheckOrder checks, a known kind,
// never the password kind.
func (s *Service) check(p Policy) error {
	var errs []error
	if err := p.CheckOrder(); err != nil {
		errs = append(errs, err)
	}
	_, known := s.kinds.Get(p.Kind)
	switch {
	case p.Kind == "":
	case p.Kind == keys.Password:
		errs = append(errs, errors.New("the password kind cannot be phased out: every account has one"))
	case !known:
		errs = append(errs, fmt.Errorf("unknown key kind %q (known: %s)", p.Kind, s.kindNames()))
	}
	return errors.Join(errs...)
}

// policiesWith returns the stored policies with p in place of its kind's (or without the
// kind's policy when p is nil).
func policiesWith(list []store.PhaseoutPolicy, kind string, p *Policy) map[string]Policy {
	out := make(map[string]Policy, len(list)+1)
	for _, sp := range list {
		out[sp.Kind] = FromStore(sp)
	}
	delete(out, kind)
	if p != nil {
		out[kind] = *p
	}
	return out
}

// checkLastKind reports an error when, under policies, a moment comes at which no substantial
// kind is enabled. A disabled kind stays disabled (Decide is monotone in time), so checking
// at the latest disabled_from checks every instant at which a policy switches a kind off,
// now included: some substantial kind must never be disabled.
func (s *Service) checkLastKind(policies map[string]Policy, kind string) error {
	var last time.Time
	for _, k := range s.kinds.Meeting(keys.LevelSubstantial) {
		p := policies[k.Name()]
		if p.DisabledFrom.IsZero() {
			return nil
		}
		if p.DisabledFrom.After(last) {
			last = p.DisabledFrom
		}
	}
	var names []string
	for _, k := range s.kinds.Meeting(keys.LevelSubstantial) {
		names = append(names, k.Name()+" disabled from "+Format(policies[k.Name()].DisabledFrom))
	}
	return fmt.Errorf("%s cannot be disabled: from %s no substantial kind would be left enabled (%s); keep the last enabled substantial kind on",
		kind, Format(last), strings.Join(names, ", "))
}

// enabledAt lists the substantial kinds other than kind that are still enabled at at under
// policies.
func (s *Service) enabledAt(policies map[string]Policy, kind string, at time.Time) []string {
	var out []string
	for _, k := range s.kinds.Meeting(keys.LevelSubstantial) {
		if k.Name() == kind || Decide(policies[k.Name()], at) == Disabled {
			continue
		}
		out = append(out, k.Name())
	}
	return out
}

// restore gives back the keys of kind that a switch-off expired, when policies no longer
// disable kind at now, each with a key.reactivated event.
func (s *Service) restore(ctx context.Context, tx changeStore, policies map[string]Policy, kind string, now time.Time) (int, error) {
	if Decide(policies[kind], now) == Disabled {
		return 0, nil
	}
	ks, err := tx.RestoreExpiredKeys(ctx, kind, keys.CausePhaseOut)
	if err != nil {
		return 0, err
	}
	for _, k := range ks {
		if err := s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyReactivated, AccountID: k.AccountID, KeyKind: k.Kind,
			KeyID: k.ID, Actor: audit.ActorOperator, Reason: CausePolicyChange,
			Detail: map[string]string{"kind": k.Kind, "cause": CausePolicyChange}}); err != nil {
			return 0, err
		}
	}
	return len(ks), nil
}

// warnNow counts the keys of p's kind the unused-key job would warn at once at now.
func warnNow(ctx context.Context, tx changeStore, p Policy, now time.Time) (int64, error) {
	if p.UnusedMonths <= 0 || Decide(p, now) == Disabled {
		return 0, nil
	}
	var n int64
	after := int64(0)
	for {
		ks, err := tx.ListUnusedKeys(ctx, p.Kind, unusedCutoff(p, now), after, 1000)
		if err != nil {
			return 0, err
		}
		for _, k := range ks {
			after = k.ID
			if act, _, _ := unusedStep(p, k, now); act == unusedWarn {
				n++
			}
		}
		if len(ks) < 1000 {
			return n, nil
		}
	}
}

func (s *Service) kindNames() string {
	var names string
	for _, k := range s.kinds.All() {
		if k.Name() == keys.Password {
			continue
		}
		if names != "" {
			names += ", "
		}
		names += k.Name()
	}
	return names
}

// Set stores p, replacing the kind's policy, with an operator.action event in the same
// transaction. It is refused when p is invalid or when, with p in place, a moment would come
// at which no substantial kind is enabled. When p no longer disables the kind now, keys its
// switch-off expired are active again, in the same transaction. A policy that disables the
// kind while citizens would be stranded needs confirm (ErrNeedsConfirm otherwise, with the
// Impact, and nothing is written).
func (s *Service) Set(ctx context.Context, p Policy, confirm bool) (Impact, error) {
	if err := s.check(p); err != nil {
		return Impact{}, err
	}
	kind, _ := s.kinds.Get(p.Kind)
	now := s.now()
	var imp Impact
	err := store.InTx(ctx, s.st, func(tx changeStore) error {
		imp = Impact{}
		if err := tx.LockPhaseoutPolicies(ctx); err != nil {
			return err
		}
		list, err := tx.ListPhaseoutPolicies(ctx)
		if err != nil {
			return err
		}
		policies := policiesWith(list, p.Kind, &p)
		if kind.Level() >= keys.LevelSubstantial {
			if err := s.checkLastKind(policies, p.Kind); err != nil {
				return errRefused{err}
			}
		}
		if imp.Restored, err = s.restore(ctx, tx, policies, p.Kind, now); err != nil {
			return err
		}
		if !p.DisabledFrom.IsZero() {
			imp.Others = s.enabledAt(policies, p.Kind, p.DisabledFrom)
			if imp.Stranded, err = tx.CountStranded(ctx, p.Kind, imp.Others); err != nil {
				return err
			}
			if imp.Stranded > 0 && !confirm {
				return ErrNeedsConfirm
			}
		}
		if imp.WarnNow, err = warnNow(ctx, tx, p, now); err != nil {
			return err
		}
		var prev store.PhaseoutPolicy
		had := false
		for _, sp := range list {
			if sp.Kind == p.Kind {
				prev, had = sp, true
			}
		}
		if err := tx.PutPhaseoutPolicy(ctx, p.ToStore(now)); err != nil {
			return err
		}
		d := describe(p)
		if had {
			for k, v := range describe(FromStore(prev)) {
				d["previous_"+k] = v
			}
		}
		d["stranded"] = strconv.FormatInt(imp.Stranded, 10)
		d["restored"] = strconv.Itoa(imp.Restored)
		return s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.OperatorAction, Actor: audit.ActorOperator,
			Reason: "phaseout.set", KeyKind: p.Kind, Detail: d})
	})
	var refused errRefused
	switch {
	case errors.As(err, &refused):
		return Impact{}, refused.err
	case errors.Is(err, ErrNeedsConfirm):
		return imp, ErrNeedsConfirm
	case err != nil:
		return Impact{}, fmt.Errorf("set phase-out of %s: %w", p.Kind, err)
	}
	return imp, nil
}

// errRefused carries a validation error out of Set's transaction unwrapped.
type errRefused struct{ err error }

func (e errRefused) Error() string { return e.err.Error() }

// Clear removes the kind's policy (store.ErrNotFound when it has none), audited in the same
// transaction. Keys its switch-off had expired are active again (each with a key.reactivated
// event): nothing disables the kind any more. It returns how many.
func (s *Service) Clear(ctx context.Context, kind string) (int, error) {
	restored := 0
	err := store.InTx(ctx, s.st, func(tx changeStore) error {
		if err := tx.LockPhaseoutPolicies(ctx); err != nil {
			return err
		}
		prev, err := tx.GetPhaseoutPolicy(ctx, kind)
		if err != nil {
			return err
		}
		if err := tx.DeletePhaseoutPolicy(ctx, kind); err != nil {
			return err
		}
		if restored, err = s.restore(ctx, tx, nil, kind, s.now()); err != nil {
			return err
		}
		d := map[string]string{"restored": strconv.Itoa(restored)}
		for k, v := range describe(FromStore(prev)) {
			d["previous_"+k] = v
		}
		return s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.OperatorAction, Actor: audit.ActorOperator,
			Reason: "phaseout.clear", KeyKind: kind, Detail: d})
	})
	if err != nil {
		return 0, fmt.Errorf("clear phase-out of %s: %w", kind, err)
	}
	return restored, nil
}

// List returns every stored policy, by kind.
func (s *Service) List(ctx context.Context) ([]Policy, error) {
	list, err := s.st.ListPhaseoutPolicies(ctx)
	if err != nil {
		return nil, fmt.Errorf("list phase-out policies: %w", err)
	}
	out := make([]Policy, len(list))
	for i, sp := range list {
		out[i] = FromStore(sp)
	}
	return out, nil
}

// describe is p as audit detail (unset instants left out).
func describe(p Policy) map[string]string {
	d := map[string]string{"kind": p.Kind}
	for name, at := range map[string]time.Time{
		"activation_closed_from": p.ActivationClosedFrom,
		"migration_prompt_from":  p.MigrationPromptFrom,
		"disabled_from":          p.DisabledFrom,
	} {
		if !at.IsZero() {
			d[name] = at.UTC().Format(time.RFC3339Nano)
		}
	}
	if p.UnusedMonths > 0 {
		d["deactivate_unused_after_months"] = strconv.Itoa(p.UnusedMonths)
	}
	return d
}
