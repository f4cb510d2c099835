package store

import "context"

// Citizens is what the operator's bulk and data-protection commands need beyond the other
// aggregates: importing many citizens in one transaction (admin users import), listing
// everything held about one (admin users export) and deleting one (admin users delete).
//
// The bulk methods take any number of rows and write them with few statements; they are meant
// to run inside Tx, so that an import is all or nothing.
type Citizens interface {
	// InsertAccounts inserts the accounts whose username (case-insensitively) is not taken yet,
	// and fills their ID, CreatedAt and UpdatedAt like CreateAccount. An account whose username
	// is taken — by a stored account, or by an earlier account of accts — is skipped: its ID
	// stays 0. Nothing else about it is a conflict.
	InsertAccounts(ctx context.Context, accts []Account) error
	// TakenUsernames returns those of usernames that are taken (case-insensitively), as given,
	// in the order given.
	TakenUsernames(ctx context.Context, usernames []string) ([]string, error)
	// InsertKeys inserts keys (their IDs are not filled); ErrConflict when a serial is taken,
	// as CreateKey.
	InsertKeys(ctx context.Context, keys []Key) error
	// TakenSerials returns those of serials that a key of kind has, in the order given.
	TakenSerials(ctx context.Context, kind string, serials []string) ([]string, error)
	// AppendAudits appends events (their IDs are not filled; a zero Time is now).
	AppendAudits(ctx context.Context, events []AuditEvent) error

	// ListAccountAudit returns up to limit (0: all) of the account's audit events with ID >
	// afterID, oldest first.
	ListAccountAudit(ctx context.Context, accountID, afterID int64, limit int) ([]AuditEvent, error)
	// ListAccountMessages returns the outbox messages to the account, and those without an
	// account to its e-mail address (the registration's code), oldest first.
	ListAccountMessages(ctx context.Context, accountID int64) ([]Message, error)
	// ListAccountSignups returns the registrations (signups) with the account's e-mail address
	// or username (store.EmailKey, case-folded username), oldest first.
	ListAccountSignups(ctx context.Context, accountID int64) ([]Signup, error)
	// ListAccountSessions returns the account's sessions, oldest first.
	ListAccountSessions(ctx context.Context, accountID int64) ([]Session, error)
	// ListAccountCodes returns the account's one-time codes, oldest first.
	ListAccountCodes(ctx context.Context, accountID int64) ([]Code, error)

	// DeleteAccount removes the account and every row that is about it — its keys, codes,
	// sessions and outbox messages, and what ListAccountMessages and ListAccountSignups find
	// of its registration — and gives its audit events the account ID pseudonym instead, as
	// well as other events' details that name the account (bound_account). That is the one
	// change ever made to stored audit events: the log keeps what happened, linkable within
	// the deleted citizen's events, but no longer whose they were. pseudonym must be
	// negative, so it is never a live account's ID. ErrNotFound when the account does not
	// exist. Failure counters are left to the sweeper (they name no account).
	DeleteAccount(ctx context.Context, id, pseudonym int64) error
}
