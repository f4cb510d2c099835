package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// emailCodeLength is the number of digits of an e-mail change code (emailcode.CodeLength).
const emailCodeLength = 6

// EmailChange is a change of a citizen's e-mail address awaiting the code sent to the new
// address: the new address is used only once the code is entered. It is kept in the session
// (the profile page's change, or inside the wizard's first step).
type EmailChange struct {
	accountID int64
	address   string
	codeID    int64
	sentAt    time.Time
	expiresAt time.Time
}

// AccountID returns the citizen whose address changes.
func (c *EmailChange) AccountID() int64 { return c.accountID }

// Address returns the new address.
func (c *EmailChange) Address() string { return c.address }

// ExpiresAt returns when the code stops being valid.
func (c *EmailChange) ExpiresAt() time.Time { return c.expiresAt }

type emailChangeSnapshot struct {
	AccountID int64     `json:"account_id"`
	Address   string    `json:"address"`
	CodeID    int64     `json:"code_id"`
	SentAt    time.Time `json:"sent_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (c *EmailChange) snapshot() emailChangeSnapshot {
	return emailChangeSnapshot{AccountID: c.accountID, Address: c.address, CodeID: c.codeID, SentAt: c.sentAt, ExpiresAt: c.expiresAt}
}

func (s emailChangeSnapshot) restore() (*EmailChange, error) {
	if s.AccountID <= 0 || s.Address == "" || s.CodeID <= 0 {
		return nil, errors.New("e-mail change: account, address or code missing")
	}
	return &EmailChange{accountID: s.AccountID, address: s.Address, codeID: s.CodeID, sentAt: s.SentAt, expiresAt: s.ExpiresAt}, nil
}

// MarshalJSON stores the change.
func (c *EmailChange) MarshalJSON() ([]byte, error) { return json.Marshal(c.snapshot()) }

// UnmarshalJSON restores a change, refusing an incomplete one.
func (c *EmailChange) UnmarshalJSON(b []byte) error {
	var s emailChangeSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("e-mail change: %w", err)
	}
	r, err := s.restore()
	if err != nil {
		return err
	}
	*c = *r
	return nil
}

// RequestEmailChange validates addr and e-mails a code to it (5 minutes, a few tries, at most
// three codes per quarter of an hour). Whether another account uses addr is never looked at:
// the answer is the same for every valid address. It needs a recent logon, and one of level
// substantial for a citizen who holds or held a substantial key (ErrEmailChangeRestricted,
// see MailboxOnly: otherwise a password alone could move the mailbox that the e-mail key's
// activation proves).
func (s *Service) RequestEmailChange(ctx context.Context, acct store.Account, auth Auth, addr string, c Client) (*EmailChange, error) {
	return s.requestEmailChange(ctx, acct, auth, addr, c, nil)
}

// requestEmailChange is RequestEmailChange; when reuse accepts the account's newest e-mail
// change code (a parallel submission's), that code is taken instead of sending another.
func (s *Service) requestEmailChange(ctx context.Context, acct store.Account, auth Auth, addr string, c Client, reuse func(store.Code) bool) (*EmailChange, error) {
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return nil, err
	}
	if only, err := s.mailboxOnly(ctx, acct, auth); err != nil || only {
		if err != nil {
			return nil, fmt.Errorf("request e-mail change: %w", err)
		}
		return nil, ErrEmailChangeRestricted
	}
	addr = strings.TrimSpace(addr)
	if err := mail.ValidateAddress(addr); err != nil {
		return nil, err
	}
	if strings.EqualFold(addr, acct.Email) {
		return nil, ErrSameAddress
	}
	release, _, err := s.reserve(ctx, store.AuditEvent{AccountID: acct.ID, IP: c.IP},
		reservation{s.ipLimiter, attempts.IPScope("code-request", c.IP)})
	if err != nil {
		return nil, err
	}
	var (
		code   store.Code
		reused bool
	)
	// The code and its e-mail are written in this transaction (Issue joins it), under the
	// account's lock, so that parallel requests see each other's code.
	err = store.InTx(ctx, s.st, func(tx enrolStore) error {
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		if reuse != nil {
			prev, err := tx.LatestCode(ctx, acct.ID, store.CodeEmailChange)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil && reuse(prev) {
				code, reused = prev, true
				return nil
			}
		}
		var err error
		code, err = s.codes.Issue(ctx, tx, acct, store.CodeEmailChange, addr, mail.TemplateEmailChange)
		return err
	})
	if err != nil {
		if errors.Is(err, keys.ErrResendLimit) {
			var limit *keys.ResendLimitError
			if errors.As(err, &limit) {
				return nil, limit // it says how long to wait
			}
			return nil, err
		}
		return nil, fmt.Errorf("request e-mail change: %w", err)
	}
	if reused {
		release() // nothing was sent for this request
	}
	return &EmailChange{accountID: acct.ID, address: code.Target, codeID: code.ID, sentAt: code.CreatedAt, expiresAt: code.ExpiresAt}, nil
}

// ConfirmEmailChange checks the code of ch and, when right, makes the new address the
// citizen's, records it and tells the old address (naming the new one only masked), in one
// transaction. Wrong codes are counted before they are compared; a malformed code
// (a format error, keys.IsFormatError) is not an attempt.
func (s *Service) ConfirmEmailChange(ctx context.Context, acct store.Account, auth Auth, ch *EmailChange, code string, c Client) error {
	if ch == nil || ch.accountID != acct.ID {
		return ErrOutOfOrder
	}
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return err
	}
	norm, err := keys.NormalizeCode(code, emailCodeLength)
	if err != nil {
		return err
	}
	ipScope, scope := attempts.IPScope("code", c.IP), attempts.EmailChangeScope(acct.ID)
	release, _, err := s.reserve(ctx, store.AuditEvent{AccountID: acct.ID, IP: c.IP},
		reservation{s.ipLimiter, ipScope}, reservation{s.limiter, scope})
	if err != nil {
		return err // throttled (recorded once per throttle period) or a database error
	}
	if err := s.codes.Check(ctx, s.st, acct, store.CodeEmailChange, ch.codeID, norm); err != nil {
		var le *i18n.LocalizedError
		if !errors.As(err, &le) || errors.Is(err, keys.ErrCodeExpired) {
			release() // nothing was compared
		}
		if !errors.As(err, &le) {
			return fmt.Errorf("confirm e-mail change: %w", err)
		}
		s.record(ctx, store.AuditEvent{Type: audit.EmailChangeFailure, AccountID: acct.ID, Reason: failureReason(err), IP: c.IP})
		return err
	}
	if err := errors.Join(s.ipLimiter.Release(ctx, ipScope), s.limiter.Succeed(ctx, scope)); err != nil {
		s.log.Warn("reset e-mail change attempts", "err", err)
	}
	err = store.InTx(ctx, s.st, func(tx profileStore) error {
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		cur, err := tx.GetAccount(ctx, acct.ID)
		if err != nil {
			return err
		}
		if err := tx.UpdateProfile(ctx, cur.ID, cur.Name, ch.address, cur.Language, s.now()); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.EmailChanged, AccountID: cur.ID, IP: c.IP,
			Detail: map[string]string{"old": auditMask(cur.Email), "new": auditMask(ch.address)}}); err != nil {
			return err
		}
		return s.mailer.Enqueue(ctx, tx, recipient(cur), mail.TemplateEmailChanged,
			map[string]any{"MaskedAddress": mail.MaskAddress(ch.address)})
	})
	if err != nil {
		return fmt.Errorf("change e-mail address: %w", err)
	}
	return nil
}

// auditMask masks addr for the audit log: the local part's first and last character and its
// length, and the domain ("j•••n(8)@example.org"). Two addresses of a change then read
// differently in nearly every case (mail.MaskAddress, for e-mails, keeps the first character
// alone), while the log still does not hold the address itself.
func auditMask(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "•••"
	}
	local := []rune(addr[:at])
	return fmt.Sprintf("%c•••%c(%d)%s", local[0], local[len(local)-1], len(local), addr[at:])
}

// SetLanguage makes lang the citizen's preferred language: pages (unless the citizen picks
// another) and every e-mail from now on use it.
func (s *Service) SetLanguage(ctx context.Context, acct store.Account, lang string) error {
	if !i18n.Supported(lang) {
		return i18n.NewError("account.error.language")
	}
	err := store.InTx(ctx, s.st, func(tx profileStore) error {
		cur, err := tx.GetAccount(ctx, acct.ID)
		if err != nil {
			return err
		}
		return tx.UpdateProfile(ctx, cur.ID, cur.Name, cur.Email, lang, s.now())
	})
	if err != nil {
		return fmt.Errorf("set language: %w", err)
	}
	return nil
}
