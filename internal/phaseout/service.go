package phaseout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Store is what the Service reads and writes.
type Store interface {
	store.Transactor
	GetPhaseoutPolicy(ctx context.Context, kind string) (store.PhaseoutPolicy, error)
	ListPhaseoutPolicies(ctx context.Context) ([]store.PhaseoutPolicy, error)
	CountStranded(ctx context.Context, kind string, others []string) (int64, error)
}

var _ Store = store.Store(nil)

// changeStore is the Service's view inside its transaction.
type changeStore interface {
	GetPhaseoutPolicy(ctx context.Context, kind string) (store.PhaseoutPolicy, error)
	PutPhaseoutPolicy(ctx context.Context, p store.PhaseoutPolicy) error
	DeletePhaseoutPolicy(ctx context.Context, kind string) error
	audit.Appender
}

var _ changeStore = store.Store(nil)

// Auditor records audit events (internal/audit).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

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
	// disabled_from unless they migrate. Only counted when the policy disables the kind.
	Stranded int64
	// Others are the substantial kinds counted as a way on.
	Others []string
}

// Check validates p against the registered kinds and the other policies: everything
// CheckOrder checks, a known kind, never the password kind, and never disabling the last
// enabled substantial kind. It returns the policy's Impact when valid.
func (s *Service) Check(ctx context.Context, p Policy) (Impact, error) {
	var errs []error
	if err := p.CheckOrder(); err != nil {
		errs = append(errs, err)
	}
	kind, known := s.kinds.Get(p.Kind)
	switch {
	case p.Kind == "":
	case p.Kind == keys.Password:
		errs = append(errs, errors.New("the password kind cannot be phased out: every account has one"))
	case !known:
		errs = append(errs, fmt.Errorf("unknown key kind %q (known: %s)", p.Kind, s.kindNames()))
	}
	if len(errs) > 0 {
		return Impact{}, errors.Join(errs...)
	}
	if p.DisabledFrom.IsZero() {
		return Impact{}, nil
	}
	others, err := s.enabledAt(ctx, p.Kind, p.DisabledFrom)
	if err != nil {
		return Impact{}, err
	}
	if kind.Level() >= keys.LevelSubstantial && len(others) == 0 {
		return Impact{}, fmt.Errorf("%s cannot be disabled from %s: it would be the last enabled substantial kind", p.Kind, Format(p.DisabledFrom))
	}
	n, err := s.st.CountStranded(ctx, p.Kind, others)
	if err != nil {
		return Impact{}, fmt.Errorf("check phase-out of %s: %w", p.Kind, err)
	}
	return Impact{Stranded: n, Others: others}, nil
}

// enabledAt lists the substantial kinds other than kind that are still enabled at at (their
// own policies do not disable them by then).
func (s *Service) enabledAt(ctx context.Context, kind string, at time.Time) ([]string, error) {
	list, err := s.st.ListPhaseoutPolicies(ctx)
	if err != nil {
		return nil, fmt.Errorf("check phase-out of %s: %w", kind, err)
	}
	policies := make(map[string]Policy, len(list))
	for _, sp := range list {
		policies[sp.Kind] = FromStore(sp)
	}
	var out []string
	for _, k := range s.kinds.Meeting(keys.LevelSubstantial) {
		if k.Name() == kind || Decide(policies[k.Name()], at) == Disabled {
			continue
		}
		out = append(out, k.Name())
	}
	return out, nil
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

// Set stores p after Check, replacing the kind's policy, with an operator.action event in the
// same transaction. A policy that disables the kind while citizens would be stranded needs
// confirm (ErrNeedsConfirm otherwise, and nothing is written).
func (s *Service) Set(ctx context.Context, p Policy, confirm bool) (Impact, error) {
	imp, err := s.Check(ctx, p)
	if err != nil {
		return Impact{}, err
	}
	if !p.DisabledFrom.IsZero() && imp.Stranded > 0 && !confirm {
		return imp, ErrNeedsConfirm
	}
	now := s.now()
	err = store.InTx(ctx, s.st, func(tx changeStore) error {
		prev, getErr := tx.GetPhaseoutPolicy(ctx, p.Kind)
		if getErr != nil && !errors.Is(getErr, store.ErrNotFound) {
			return getErr
		}
		if err := tx.PutPhaseoutPolicy(ctx, p.ToStore(now)); err != nil {
			return err
		}
		d := describe(p)
		if getErr == nil {
			for k, v := range describe(FromStore(prev)) {
				d["previous_"+k] = v
			}
		}
		d["stranded"] = strconv.FormatInt(imp.Stranded, 10)
		return s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.OperatorAction, Actor: audit.ActorOperator,
			Reason: "phaseout.set", KeyKind: p.Kind, Detail: d})
	})
	if err != nil {
		return Impact{}, fmt.Errorf("set phase-out of %s: %w", p.Kind, err)
	}
	return imp, nil
}

// Clear removes the kind's policy (store.ErrNotFound when it has none), audited in the same
// transaction. Keys a disabling policy already recorded as expired stay expired.
func (s *Service) Clear(ctx context.Context, kind string) error {
	err := store.InTx(ctx, s.st, func(tx changeStore) error {
		prev, err := tx.GetPhaseoutPolicy(ctx, kind)
		if err != nil {
			return err
		}
		if err := tx.DeletePhaseoutPolicy(ctx, kind); err != nil {
			return err
		}
		d := map[string]string{}
		for k, v := range describe(FromStore(prev)) {
			d["previous_"+k] = v
		}
		return s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.OperatorAction, Actor: audit.ActorOperator,
			Reason: "phaseout.clear", KeyKind: kind, Detail: d})
	})
	if err != nil {
		return fmt.Errorf("clear phase-out of %s: %w", kind, err)
	}
	return nil
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
