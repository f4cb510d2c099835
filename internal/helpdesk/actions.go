package helpdesk

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// TemplateHelpdeskAction is the e-mail that tells a citizen what the helpdesk did (lifted a
// throttle, issued a recovery code); an unlocked or deactivated key gets the key e-mails.
const TemplateHelpdeskAction = mail.TemplateHelpdeskAction

// act runs one action on the citizen accountID for agent: the reason is checked, the agent's
// own account refused, the citizen loaded (a forged id is ErrNotFound), then change runs in a
// transaction with the account locked, followed there by the Action event. An account holding
// a role is refused in that transaction (ErrPrivileged): otherwise an agent could take over a
// peer or an operator, e.g. by a recovery code for them.
func (s *Service) act(ctx context.Context, agent Agent, accountID int64, reason, action string,
	change func(tx actionStore, acct store.Account) (store.AuditEvent, error)) error {
	reason, err := checkReason(reason)
	if err != nil {
		return err
	}
	if accountID == agent.AccountID {
		return ErrOwnAccount
	}
	acct, err := s.citizen(ctx, accountID)
	if err != nil {
		return err
	}
	err = store.InTx(ctx, s.d.Store, func(tx actionStore) error {
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		switch priv, err := privileged(ctx, tx, acct.ID); {
		case err != nil:
			return err
		case priv:
			return ErrPrivileged
		}
		e, err := change(tx, acct)
		if err != nil {
			return err
		}
		e.Type, e.AccountID, e.Reason, e.IP, e.Actor = Action, acct.ID, reason, agent.IP, audit.ActorHelpdesk
		if e.Detail == nil {
			e.Detail = map[string]string{}
		}
		e.Detail["action"], e.Detail["agent"] = action, agent.Username
		return s.d.Audit.Record(ctx, tx, e)
	})
	var le *i18n.LocalizedError
	switch {
	case errors.As(err, &le):
		return err
	case err != nil:
		return fmt.Errorf("helpdesk %s: %w", action, err)
	}
	return nil
}

// tell e-mails the citizen about an action, in tx.
func (s *Service) tell(ctx context.Context, tx actionStore, acct store.Account, template string, data map[string]any) error {
	return s.d.Mailer.Enqueue(ctx, tx, mail.Recipient{AccountID: acct.ID, Name: acct.Name, Address: acct.Email,
		Language: acct.Language}, template, data)
}

// LiftPasswordThrottle clears the counter of wrong passwords typed with the citizen's
// username. ErrNotThrottled when it is not throttled (nothing to lift).
func (s *Service) LiftPasswordThrottle(ctx context.Context, agent Agent, accountID int64, reason string) error {
	return s.act(ctx, agent, accountID, reason, ActionLiftPassword, func(tx actionStore, acct store.Account) (store.AuditEvent, error) {
		scope := string(s.d.Logons.PasswordScope(acct.Username))
		a, err := tx.GetAttempt(ctx, scope)
		if err != nil {
			return store.AuditEvent{}, err
		}
		if !a.ThrottledUntil.After(s.d.Now()) {
			return store.AuditEvent{}, ErrNotThrottled
		}
		if err := tx.ResetAttempts(ctx, scope); err != nil {
			return store.AuditEvent{}, err
		}
		if err := s.tell(ctx, tx, acct, TemplateHelpdeskAction, map[string]any{"Action": ActionLiftPassword, "Kind": ""}); err != nil {
			return store.AuditEvent{}, err
		}
		return store.AuditEvent{KeyKind: keys.Password, Detail: map[string]string{"failures": fmt.Sprint(a.Failures)}}, nil
	})
}

// ownKey loads the citizen's key keyID in tx; another citizen's key is ErrNoSuchKey.
func ownKey(ctx context.Context, tx actionStore, acct store.Account, keyID int64) (store.Key, error) {
	k, err := tx.GetKey(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.AccountID != acct.ID) {
		return store.Key{}, ErrNoSuchKey
	}
	return k, err
}

// LiftCodeThrottle clears the counter of wrong codes of the citizen's key keyID.
// ErrNotThrottled, ErrNoSuchKey.
func (s *Service) LiftCodeThrottle(ctx context.Context, agent Agent, accountID, keyID int64, reason string) error {
	return s.act(ctx, agent, accountID, reason, ActionLiftCode, func(tx actionStore, acct store.Account) (store.AuditEvent, error) {
		k, err := ownKey(ctx, tx, acct, keyID)
		if err != nil {
			return store.AuditEvent{}, err
		}
		scope := string(attempts.FactorScope(k.ID))
		a, err := tx.GetAttempt(ctx, scope)
		if err != nil {
			return store.AuditEvent{}, err
		}
		if !a.ThrottledUntil.After(s.d.Now()) {
			return store.AuditEvent{}, ErrNotThrottled
		}
		if err := tx.ResetAttempts(ctx, scope); err != nil {
			return store.AuditEvent{}, err
		}
		if err := s.tell(ctx, tx, acct, TemplateHelpdeskAction, map[string]any{"Action": ActionLiftCode, "Kind": k.Kind}); err != nil {
			return store.AuditEvent{}, err
		}
		return store.AuditEvent{KeyKind: k.Kind, KeyID: k.ID, Detail: map[string]string{"failures": fmt.Sprint(a.Failures)}}, nil
	})
}

// UnlockKey makes the citizen's locked key keyID active again; its count of wrong codes starts
// again. ErrNotLocked, ErrNoSuchKey.
func (s *Service) UnlockKey(ctx context.Context, agent Agent, accountID, keyID int64, reason string) error {
	return s.act(ctx, agent, accountID, reason, ActionUnlock, func(tx actionStore, acct store.Account) (store.AuditEvent, error) {
		k, err := ownKey(ctx, tx, acct, keyID)
		if err != nil {
			return store.AuditEvent{}, err
		}
		moved, err := tx.TransitionKey(ctx, k.ID, store.KeyLocked, store.KeyActive, "", s.d.Now())
		if err != nil {
			return store.AuditEvent{}, err
		}
		if !moved {
			return store.AuditEvent{}, ErrNotLocked
		}
		if err := tx.ResetAttempts(ctx, string(attempts.FactorScope(k.ID))); err != nil {
			return store.AuditEvent{}, err
		}
		if err := s.tell(ctx, tx, acct, mail.TemplateKeyActivated, map[string]any{"Kind": k.Kind, "Replaces": "", "Reactivated": true}); err != nil {
			return store.AuditEvent{}, err
		}
		return store.AuditEvent{KeyKind: k.Kind, KeyID: k.ID}, nil
	})
}

// DeactivateKey deactivates the citizen's active or locked key keyID (cause helpdesk) — also
// the last of level substantial: the citizen asked for it (a stolen key). ErrNotActive,
// ErrNoSuchKey.
func (s *Service) DeactivateKey(ctx context.Context, agent Agent, accountID, keyID int64, reason string) error {
	return s.act(ctx, agent, accountID, reason, ActionDeactivate, func(tx actionStore, acct store.Account) (store.AuditEvent, error) {
		k, err := ownKey(ctx, tx, acct, keyID)
		if err != nil {
			return store.AuditEvent{}, err
		}
		if k.Status != store.KeyActive && k.Status != store.KeyLocked {
			return store.AuditEvent{}, ErrNotActive
		}
		moved, err := tx.TransitionKey(ctx, k.ID, k.Status, store.KeyDeactivated, keys.CauseHelpdesk, s.d.Now())
		if err != nil {
			return store.AuditEvent{}, err
		}
		if !moved {
			return store.AuditEvent{}, ErrNotActive
		}
		if err := s.tell(ctx, tx, acct, mail.TemplateKeyDeactivated, map[string]any{"Kind": k.Kind, "Cause": keys.CauseHelpdesk}); err != nil {
			return store.AuditEvent{}, err
		}
		return store.AuditEvent{KeyKind: k.Kind, KeyID: k.ID, Detail: map[string]string{"cause": keys.CauseHelpdesk}}, nil
	})
}

// Resend puts the citizen's failed e-mail messageID back in the outbox (the resent e-mail is
// the citizen's news of it). ErrNoSuchMessage, ErrNotFailed, ErrSecretGone (its code expired:
// the citizen asks for a new one).
func (s *Service) Resend(ctx context.Context, agent Agent, accountID, messageID int64, reason string) error {
	return s.act(ctx, agent, accountID, reason, ActionResend, func(tx actionStore, acct store.Account) (store.AuditEvent, error) {
		m, err := tx.GetMessage(ctx, messageID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && m.AccountID != acct.ID) {
			return store.AuditEvent{}, ErrNoSuchMessage
		} else if err != nil {
			return store.AuditEvent{}, err
		}
		if m.State != store.MessageFailed {
			return store.AuditEvent{}, ErrNotFailed
		}
		switch err := tx.RequeueMessage(ctx, m.ID, s.d.Now()); {
		case errors.Is(err, store.ErrSecretGone):
			return store.AuditEvent{}, ErrSecretGone
		case errors.Is(err, store.ErrConflict):
			return store.AuditEvent{}, ErrNotFailed
		case err != nil:
			return store.AuditEvent{}, err
		}
		return store.AuditEvent{Detail: map[string]string{"message": itoa(m.ID), "template": m.Template}}, nil
	})
}

// recoveryAlphabet is the recovery code's: Crockford-like base32 without vowels that read as
// digits, spoken over the phone without doubt.
var recoveryEncoding = base32.NewEncoding("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").WithPadding(base32.NoPadding)

// RecoveryCodeLength is how many characters a recovery code has (80 random bits).
const RecoveryCodeLength = 16

// IssueRecoveryCode draws a one-time recovery code for the citizen (valid Config.RecoveryValidity,
// single use, superseding the ones before), stores its keyed hash, tells the citizen by e-mail
// that one was issued (never the code), and returns it: shown once to the agent, who reads it
// out or posts it.
func (s *Service) IssueRecoveryCode(ctx context.Context, agent Agent, accountID int64, reason string) (string, error) {
	raw, err := secrets.Generate(s.d.Rand, 10)
	if err != nil {
		return "", fmt.Errorf("recovery code: %w", err)
	}
	code := recoveryEncoding.EncodeToString(raw)
	now := s.d.Now()
	err = s.act(ctx, agent, accountID, reason, ActionRecoveryCode, func(tx actionStore, acct store.Account) (store.AuditEvent, error) {
		c := store.Code{AccountID: acct.ID, Purpose: store.CodeRecovery, Hash: RecoveryHash(s.d.Hasher, acct.ID, code),
			Target: agent.Username, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RecoveryValidity)}
		if err := tx.CreateCode(ctx, &c); err != nil {
			return store.AuditEvent{}, err
		}
		if err := s.tell(ctx, tx, acct, TemplateHelpdeskAction, map[string]any{"Action": ActionRecoveryCode, "Kind": ""}); err != nil {
			return store.AuditEvent{}, err
		}
		return store.AuditEvent{Detail: map[string]string{"expires": c.ExpiresAt.UTC().Format(time.RFC3339)}}, nil
	})
	if err != nil {
		return "", err
	}
	return FormatRecoveryCode(code), nil
}

// FormatRecoveryCode groups a code by four characters, as it is read out.
func FormatRecoveryCode(code string) string {
	var b strings.Builder
	for i, r := range code {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// NormalizeRecoveryCode reads a typed recovery code: spaces and dashes dropped, letters in
// upper case, the letters O and I read as the digits they look like are not in the alphabet
// (0 and 1 neither). ok is false when it cannot be one.
func NormalizeRecoveryCode(typed string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case strings.ContainsRune("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != RecoveryCodeLength {
		return "", false
	}
	return b.String(), true
}

// RecoveryHash is the stored form of a recovery code, bound to its account.
func RecoveryHash(h *secrets.Hasher, accountID int64, code string) []byte {
	return h.Sum("helpdesk.recovery", itoa(accountID), code)
}

// RecoveryCodes reads and hashes recovery codes for the recovery page (recovery.RecoveryCodes).
type RecoveryCodes struct {
	Hasher *secrets.Hasher
}

// Normalize reads a typed code (NormalizeRecoveryCode).
func (c RecoveryCodes) Normalize(typed string) (string, bool) { return NormalizeRecoveryCode(typed) }

// Hash is the stored form of code for the account (RecoveryHash).
func (c RecoveryCodes) Hash(accountID int64, code string) []byte {
	return RecoveryHash(c.Hasher, accountID, code)
}
