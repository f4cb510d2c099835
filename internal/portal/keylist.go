package portal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Status is a key's state as the citizen sees it.
type Status string

// Key states in the key list.
const (
	StatusActive      Status = "active"
	StatusDeactivated Status = "deactivated"
	StatusLocked      Status = "locked"
	StatusExpired     Status = "expired"
)

// StatusOf derives what the key list shows for k at now: a key whose kind the policy has
// switched off is expired unless it was deactivated before; the stored status otherwise.
func StatusOf(k store.Key, p KindPolicy, now time.Time) Status {
	switch {
	case k.Status == store.KeyExpired:
		return StatusExpired
	case k.Status == store.KeyDeactivated:
		return StatusDeactivated
	case p.Disabled(k.Kind, now):
		return StatusExpired
	case k.Status == store.KeyLocked:
		return StatusLocked
	}
	return StatusActive
}

// KeyView is one line of the key list.
type KeyView struct {
	// ID is the key's id; 0 for the password, which every account has and has no key row.
	ID     int64
	Kind   string
	Level  keys.Level
	Status Status
	// ActivatedAt is when the key became active; DeactivatedAt and Cause (keys.Cause…) when
	// and why it stopped, zero and empty while it is active.
	ActivatedAt   time.Time
	DeactivatedAt time.Time
	Cause         string
	// LastUsedAt is the last logon with the key; zero when never (or not recorded).
	LastUsedAt time.Time
	// CanDeactivate: the key is active and not the password. LastKey: deactivating it is
	// refused, it is the citizen's last active key of level substantial or higher.
	CanDeactivate bool
	LastKey       bool
	// CanReactivate: the key is locked and the citizen has another active key of at least its
	// level, with which they log on to reactivate it. NoWayBack: the key is locked and they have
	// no such key, so reactivating it is not offered (the page points to a new key and the
	// helpdesk).
	CanReactivate bool
	NoWayBack     bool
	// CanReportLost: the key is active or locked and not the password — "I lost this key"
	// deactivates it, even the last of level substantial.
	CanReportLost bool
}

// Keys returns the citizen's keys for the key list: the password first, then every key row,
// oldest first.
func (s *Service) Keys(ctx context.Context, acct store.Account) ([]KeyView, error) {
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return nil, fmt.Errorf("key list: %w", err)
	}
	now := s.now()
	out := []KeyView{{Kind: keys.Password, Level: keys.LevelLow, Status: StatusActive, ActivatedAt: acct.CreatedAt}}
	for _, k := range ks {
		out = append(out, s.view(k, ks, now))
	}
	return out, nil
}

func (s *Service) view(k store.Key, all []store.Key, now time.Time) KeyView {
	v := KeyView{ID: k.ID, Kind: k.Kind, Status: StatusOf(k, s.policy, now), ActivatedAt: k.ActivatedAt,
		LastUsedAt: k.LastUsedAt}
	if kind, ok := s.kinds.Get(k.Kind); ok {
		v.Level = kind.Level()
	}
	if v.Status != StatusActive {
		v.DeactivatedAt, v.Cause = k.DeactivatedAt, k.DeactivationCause
		if v.Status == StatusExpired && v.Cause == "" {
			v.Cause = keys.CausePhaseOut
		}
	}
	v.CanDeactivate = v.Status == StatusActive
	v.LastKey = v.CanDeactivate && s.lastStrongKey(k, all, now)
	if v.Status == StatusLocked {
		v.CanReactivate = s.otherKeyReaches(k, all, now)
		v.NoWayBack = !v.CanReactivate
	}
	v.CanReportLost = v.Status == StatusActive || v.Status == StatusLocked
	return v
}

// otherKeyReaches reports whether the citizen has an active key other than k of at least k's
// level: the logon that Reactivate asks for.
func (s *Service) otherKeyReaches(k store.Key, all []store.Key, now time.Time) bool {
	kind, ok := s.kinds.Get(k.Kind)
	if !ok {
		return false
	}
	if !kind.Level().Meets(keys.LevelSubstantial) {
		return true // the password reaches it
	}
	for _, o := range all {
		if ok, found := s.kinds.Get(o.Kind); o.ID != k.ID && found && ok.Level().Meets(kind.Level()) && StatusOf(o, s.policy, now) == StatusActive {
			return true
		}
	}
	return false
}

// lastStrongKey reports whether k is of level substantial or higher and no other active key
// of the citizen is.
func (s *Service) lastStrongKey(k store.Key, all []store.Key, now time.Time) bool {
	strong := func(k store.Key) bool {
		kind, ok := s.kinds.Get(k.Kind)
		return ok && kind.Level().Meets(keys.LevelSubstantial) && StatusOf(k, s.policy, now) == StatusActive
	}
	if !strong(k) {
		return false
	}
	for _, o := range all {
		if o.ID != k.ID && strong(o) {
			return false
		}
	}
	return true
}

// Key returns the key list's line for keyID. A key that does not exist or belongs to another
// citizen gives ErrNoSuchKey — and, since the pages only link the citizen's own keys, an audit
// event of a forged request.
func (s *Service) Key(ctx context.Context, acct store.Account, keyID int64, c Client) (KeyView, error) {
	k, err := s.ownKey(ctx, acct, keyID, c)
	if err != nil {
		return KeyView{}, err
	}
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return KeyView{}, fmt.Errorf("key %d: %w", keyID, err)
	}
	return s.view(k, ks, s.now()), nil
}

func (s *Service) ownKey(ctx context.Context, acct store.Account, keyID int64, c Client) (store.Key, error) {
	k, err := s.st.GetKey(ctx, keyID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && k.AccountID != acct.ID):
		s.forged(ctx, acct, c, "key_id", strconv.FormatInt(keyID, 10))
		return store.Key{}, ErrNoSuchKey
	case err != nil:
		return store.Key{}, fmt.Errorf("key %d: %w", keyID, err)
	}
	return k, nil
}

// Deactivate deactivates the citizen's active key keyID (cause citizen), e-mails them and
// records it, in one transaction. It refuses the last active key of level substantial or
// higher (LastKeyError), a key that is not active (ErrNotActive), another citizen's key
// (ErrNoSuchKey) and a stale logon (*StaleLogonError).
func (s *Service) Deactivate(ctx context.Context, acct store.Account, auth Auth, keyID int64, c Client) error {
	k, err := s.ownKey(ctx, acct, keyID, c)
	if err != nil {
		return err
	}
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return err
	}
	now := s.now()
	err = store.InTx(ctx, s.st, func(tx keyStore) error {
		// Locked, so that two deactivations of a citizen's last two keys cannot both see the
		// other one still active.
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		ks, err := tx.ListKeys(ctx, acct.ID)
		if err != nil {
			return err
		}
		for _, o := range ks {
			if o.ID == k.ID {
				k = o
			}
		}
		if StatusOf(k, s.policy, now) != StatusActive {
			return ErrNotActive
		}
		if s.lastStrongKey(k, ks, now) {
			return LastKeyError(k.Kind)
		}
		moved, err := tx.TransitionKey(ctx, k.ID, store.KeyActive, store.KeyDeactivated, keys.CauseCitizen, now)
		if err != nil {
			return err
		}
		if !moved {
			return ErrNotActive
		}
		return s.deactivated(ctx, tx, acct, k, keys.CauseCitizen, "", c)
	})
	if err != nil {
		return s.keyChangeError("deactivate key", err)
	}
	return nil
}

// deactivated records and e-mails the deactivation of k, in tx.
func (s *Service) deactivated(ctx context.Context, tx keyStore, acct store.Account, k store.Key, cause, replacedBy string, c Client) error {
	return s.deactivatedWith(ctx, tx, acct, k, cause, map[string]string{"replaced_by": replacedBy}, c)
}

// deactivatedWith is deactivated with more detail for the audit event (empty values left out).
func (s *Service) deactivatedWith(ctx context.Context, tx keyStore, acct store.Account, k store.Key, cause string, more map[string]string, c Client) error {
	detail := map[string]string{"cause": cause, "kind": k.Kind}
	// The phase-out's campaign counts migrations per day and target kind from replaced_by;
	// LostKeyWaitUntil reads logon_level.
	for name, v := range more {
		if v != "" {
			detail[name] = v
		}
	}
	if err := s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyDeactivated, AccountID: acct.ID, KeyKind: k.Kind,
		KeyID: k.ID, Reason: cause, IP: c.IP, Detail: detail}); err != nil {
		return err
	}
	return s.mailer.Enqueue(ctx, tx, recipient(acct), mail.TemplateKeyDeactivated, map[string]any{"Kind": k.Kind, "Cause": cause})
}

// Reactivate makes the citizen's locked key keyID active again, after a recent logon with
// another key of at least the locked key's level: someone who only knows the password, and
// whose guesses locked the key, cannot unlock it. The key's count of wrong codes starts again.
func (s *Service) Reactivate(ctx context.Context, acct store.Account, auth Auth, keyID int64, c Client) error {
	k, err := s.ownKey(ctx, acct, keyID, c)
	if err != nil {
		return err
	}
	if StatusOf(k, s.policy, s.now()) != StatusLocked {
		return ErrNotLocked
	}
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return fmt.Errorf("reactivate key: %w", err)
	}
	if !s.otherKeyReaches(k, ks, s.now()) {
		// A logon it asks for could not be finished: say so rather than send the citizen there.
		return ErrNoOtherKey
	}
	var level keys.Level
	if kind, ok := s.kinds.Get(k.Kind); ok {
		level = kind.Level()
	}
	if err := s.CheckAuth(ctx, acct, auth, level); err != nil {
		return err
	}
	now := s.now()
	err = store.InTx(ctx, s.st, func(tx keyStore) error {
		moved, err := tx.TransitionKey(ctx, k.ID, store.KeyLocked, store.KeyActive, "", now)
		if err != nil {
			return err
		}
		if !moved {
			return ErrNotLocked
		}
		if err := s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyReactivated, AccountID: acct.ID, KeyKind: k.Kind,
			KeyID: k.ID, IP: c.IP}); err != nil {
			return err
		}
		return s.mailer.Enqueue(ctx, tx, recipient(acct), mail.TemplateKeyActivated,
			map[string]any{"Kind": k.Kind, "Replaces": "", "Reactivated": true})
	})
	if err != nil {
		return s.keyChangeError("reactivate key", err)
	}
	if err := s.limiter.Succeed(ctx, attempts.FactorScope(k.ID)); err != nil {
		s.log.Warn("reset the reactivated key's failures", "key_id", k.ID, "err", err)
	}
	return nil
}

// keyChangeError passes a citizen's error through and wraps anything else.
func (s *Service) keyChangeError(op string, err error) error {
	var le *i18n.LocalizedError
	if errors.As(err, &le) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// DetailLogonLevel is the audit detail of a key reported lost (key.deactivated, cause lost)
// naming the level of the logon that reported it.
const DetailLogonLevel = "logon_level"

// ReportLost deactivates the citizen's key keyID at once because it was lost or stolen (cause
// lost), e-mails them and records it, in one transaction. Unlike Deactivate it takes the last
// key of level substantial too — whoever holds a lost key must not log on with it, and the
// citizen activates another (or asks the helpdesk) — and a locked key; and it needs a recent
// logon of any level: someone whose only substantial key is gone can only log on with the
// password. A substantial key reported from a logon below substantial closes the mailbox-only
// activation for Config.LostKeyWait (LostKeyWaitUntil). Errors: ErrNotActive (not active nor locked), ErrNoSuchKey, *StaleLogonError.
func (s *Service) ReportLost(ctx context.Context, acct store.Account, auth Auth, keyID int64, c Client) error {
	k, err := s.ownKey(ctx, acct, keyID, c)
	if err != nil {
		return err
	}
	now := s.now()
	if auth.Time.IsZero() || now.Sub(auth.Time) >= s.cfg.RecentLogon {
		return &StaleLogonError{Level: keys.LevelLow}
	}
	err = store.InTx(ctx, s.st, func(tx keyStore) error {
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		cur, err := tx.GetKey(ctx, k.ID)
		if err != nil {
			return err
		}
		from := store.KeyActive
		switch StatusOf(cur, s.policy, now) {
		case StatusActive:
		case StatusLocked:
			from = store.KeyLocked
		default:
			return ErrNotActive
		}
		moved, err := tx.TransitionKey(ctx, k.ID, from, store.KeyDeactivated, keys.CauseLost, now)
		if err != nil {
			return err
		}
		if !moved {
			return ErrNotActive
		}
		// The logon's level decides whether the mailbox-only activation waits (LostKeyWaitUntil).
		return s.deactivatedWith(ctx, tx, acct, cur, keys.CauseLost, map[string]string{DetailLogonLevel: auth.Level.String()}, c)
	})
	if err != nil {
		return s.keyChangeError("report key lost", err)
	}
	return nil
}
