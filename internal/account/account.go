package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Hasher hashes passwords (internal/password).
type Hasher interface {
	Hash(ctx context.Context, plain string) (string, error)
}

// Auditor records audit events (internal/audit).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

// Store is the storage the account service uses: it looks accounts up, and creates or changes
// one together with its audit event in one transaction (see changeStore).
type Store interface {
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	store.Transactor
}

// changeStore is what a change takes, inside its transaction.
type changeStore interface {
	CreateAccount(ctx context.Context, a *store.Account) error
	UpdatePasswordHash(ctx context.Context, id int64, hash string, now time.Time) error
	audit.Appender
}

var (
	_ Store       = store.Store(nil)
	_ changeStore = store.Store(nil)
)

// Service creates and changes accounts.
type Service struct {
	st     Store
	hasher Hasher
	audit  Auditor
	now    func() time.Time
}

// New returns a Service.
func New(st Store, h Hasher, a Auditor, now func() time.Time) *Service {
	return &Service{st: st, hasher: h, audit: a, now: now}
}

// NewAccount is what it takes to create an account.
type NewAccount struct {
	Username, Name, Email, Language, Password string
}

// ErrUsernameTaken is returned when the username exists (case-insensitively).
var ErrUsernameTaken = i18n.NewError("account.error.username_taken")

// ValidateUsername checks a username: 3 to 64 characters of letters, digits and . _ - @.
func ValidateUsername(u string) error {
	n := utf8.RuneCountInString(u)
	if n < 3 || n > 64 {
		return i18n.NewError("account.error.username_length", 3, 64)
	}
	for _, r := range u {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r)) {
			return i18n.NewError("account.error.username_chars")
		}
	}
	return nil
}

// ValidateName checks a display name: 1 to 200 characters, no control characters.
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > 200 {
		return i18n.NewError("account.error.name_length", 200)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return i18n.NewError("account.error.name_chars")
		}
	}
	return nil
}

// ValidateLanguage checks a preferred language.
func ValidateLanguage(lang string) error {
	if !i18n.Supported(lang) {
		return i18n.NewError("account.error.language")
	}
	return nil
}

// Validate returns every problem of in, joined.
func (in NewAccount) Validate() error {
	var errs []error
	for _, err := range []error{
		ValidateUsername(in.Username), ValidateName(in.Name), mail.ValidateAddress(in.Email),
		ValidateLanguage(in.Language), password.ValidateNew(in.Password, in.Username, in.Email),
	} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Create validates in and creates the account; actor says who did it (operator, system).
func (s *Service) Create(ctx context.Context, in NewAccount, actor string) (store.Account, error) {
	in.Username, in.Name, in.Email = strings.TrimSpace(in.Username), strings.TrimSpace(in.Name), strings.TrimSpace(in.Email)
	if err := in.Validate(); err != nil {
		return store.Account{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return store.Account{}, fmt.Errorf("create account: %w", err)
	}
	// The service's clock, not the store's: a test or demo clock reaches the creation time.
	now := s.now()
	a := store.Account{Username: in.Username, Name: in.Name, Email: in.Email, Language: in.Language, PasswordHash: hash,
		CreatedAt: now, UpdatedAt: now}
	err = store.InTx(ctx, s.st, func(st changeStore) error {
		if err := st.CreateAccount(ctx, &a); err != nil {
			return err
		}
		return s.audit.Record(ctx, st, store.AuditEvent{Type: audit.AccountCreated, AccountID: a.ID, Actor: actor})
	})
	if errors.Is(err, store.ErrConflict) {
		return store.Account{}, ErrUsernameTaken
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("create account: %w", err)
	}
	return a, nil
}

// SetPassword validates and stores a new password for the account called username.
func (s *Service) SetPassword(ctx context.Context, username, plain, actor string) error {
	a, err := s.st.GetAccountByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", username, err)
	}
	if err := password.ValidateNew(plain, a.Username, a.Email); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, plain)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return store.InTx(ctx, s.st, func(st changeStore) error {
		if err := st.UpdatePasswordHash(ctx, a.ID, hash, s.now()); err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		return s.audit.Record(ctx, st, store.AuditEvent{Type: audit.PasswordChanged, AccountID: a.ID, Actor: actor})
	})
}
