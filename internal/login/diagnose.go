package login

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Obstacle names one reason a logon fails, as Diagnose finds it.
type Obstacle string

// The obstacles, in the order a logon meets them.
const (
	// ObstacleKindUnknown: no such key kind is registered.
	ObstacleKindUnknown Obstacle = "kind_unknown"
	// ObstacleBelowLevel: the kind does not reach the level asked for; no key of it meets it.
	ObstacleBelowLevel Obstacle = "below_level"
	// ObstacleNotOffered: the kind is switched off (a phase-out disabled it).
	ObstacleNotOffered Obstacle = "not_offered"
	// ObstaclePasswordThrottled: too many wrong passwords for the username (Until, Failures).
	ObstaclePasswordThrottled Obstacle = "password_throttled"
	// ObstacleNoPassword: the account has no usable password (imported without one).
	ObstacleNoPassword Obstacle = "no_password"
	// ObstacleNoKey: the citizen has no active key of the kind (never had one, deactivated,
	// expired).
	ObstacleNoKey Obstacle = "no_key"
	// ObstacleKeyLocked: the key is locked after too many wrong codes (Key, Failures).
	ObstacleKeyLocked Obstacle = "key_locked"
	// ObstacleCodeThrottled: too many wrong codes for the key lately (Key, Until, Failures).
	ObstacleCodeThrottled Obstacle = "code_throttled"
)

// Finding is one obstacle with its facts.
type Finding struct {
	Obstacle Obstacle
	// Until is when a throttle ends; Failures the consecutive failures counted.
	Until    time.Time
	Failures int
	// Key is the key concerned (a locked or throttled one).
	Key store.Key
	// Kinds are the kinds the chooser offers at the level asked for (ObstacleBelowLevel): what
	// the citizen could log on with instead; none when no kind reaches it here.
	Kinds []string
}

// Diagnosis is what a logon of one citizen with one key kind at one level meets now.
type Diagnosis struct {
	Kind  string
	Level keys.Level
	// Findings are every obstacle, in the order the logon meets them: the first is what a logon
	// now is told. None: the logon goes through (given the right password and code).
	Findings []Finding
}

// Blocked reports whether a logon now fails.
func (d Diagnosis) Blocked() bool { return len(d.Findings) > 0 }

// Has reports whether o is among the findings.
func (d Diagnosis) Has(o Obstacle) bool {
	for _, f := range d.Findings {
		if f.Obstacle == o {
			return true
		}
	}
	return false
}

// Diagnose says why a logon of the citizen accountID with kind at level min fails now, or that
// it does not, by the logon's own rules and state — the chooser's offer (Choices), the
// throttle counters through the Limiter's Peek (Reserve's rule, without counting), the key a
// logon would use (pickKey) — and changes nothing. The password throttle is the one a browser
// without the citizen's device cookie meets. It looks past the first obstacle, so the helpdesk
// sees everything that must be fixed.
func (s *Service) Diagnose(ctx context.Context, accountID int64, kind string, min keys.Level) (Diagnosis, error) {
	if min < keys.LevelLow {
		min = keys.LevelLow
	}
	d := Diagnosis{Kind: kind, Level: min}
	add := func(f Finding) { d.Findings = append(d.Findings, f) }
	acct, err := s.st.GetAccount(ctx, accountID)
	if err != nil {
		return Diagnosis{}, fmt.Errorf("diagnose logon: %w", err)
	}
	k, ok := s.kinds.Get(kind)
	if !ok {
		add(Finding{Obstacle: ObstacleKindUnknown})
		return d, nil
	}
	offered := false
	var reaching []string
	for _, c := range s.Choices(&Transaction{MinLevel: min}) {
		offered = offered || c.Kind == kind
		reaching = append(reaching, c.Kind)
	}
	if !offered {
		switch {
		case !k.Level().Meets(min):
			add(Finding{Obstacle: ObstacleBelowLevel, Kinds: reaching})
		case !s.offered(kind):
			add(Finding{Obstacle: ObstacleNotOffered})
		default:
			add(Finding{Obstacle: ObstacleKindUnknown})
		}
	}
	pw, err := s.limiter.Peek(ctx, s.passwordScope(acct.Username))
	if f, throttled, err := throttleFinding(ObstaclePasswordThrottled, pw, err); err != nil {
		return Diagnosis{}, err
	} else if throttled {
		add(f)
	}
	if acct.PasswordHash == "" {
		add(Finding{Obstacle: ObstacleNoPassword})
	}
	if _, challenger := k.(keys.Challenger); !challenger {
		return d, nil
	}
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return Diagnosis{}, fmt.Errorf("diagnose logon: %w", err)
	}
	active, locked := pickKey(ks, kind)
	key := active
	switch {
	case active.ID != 0:
	case locked.ID != 0:
		key = locked
		a, err := s.limiter.Peek(ctx, attempts.FactorScope(locked.ID))
		if err != nil && !errors.Is(err, attempts.ErrThrottled) {
			return Diagnosis{}, fmt.Errorf("diagnose logon: %w", err)
		}
		add(Finding{Obstacle: ObstacleKeyLocked, Key: locked, Failures: a.Failures})
	default:
		add(Finding{Obstacle: ObstacleNoKey})
		return d, nil
	}
	code, err := s.limiter.Peek(ctx, attempts.FactorScope(key.ID))
	if f, throttled, err := throttleFinding(ObstacleCodeThrottled, code, err); err != nil {
		return Diagnosis{}, err
	} else if throttled && key.Status == store.KeyActive {
		f.Key = key
		add(f)
	}
	return d, nil
}

// throttleFinding turns a Peek into a finding when it says the scope is throttled.
func throttleFinding(o Obstacle, a store.Attempt, err error) (Finding, bool, error) {
	var t *attempts.ThrottledError
	switch {
	case err == nil:
		return Finding{}, false, nil
	case errors.As(err, &t):
		return Finding{Obstacle: o, Until: t.Until, Failures: a.Failures}, true, nil
	}
	return Finding{}, false, fmt.Errorf("diagnose logon: %w", err)
}

// PasswordScope is the throttle counter of wrong passwords typed with username (from a browser
// without the citizen's device cookie): the helpdesk lifts it.
func (s *Service) PasswordScope(username string) attempts.Scope { return s.passwordScope(username) }
