package store

import (
	"context"
	"time"
)

// Roles an account may hold besides being a citizen. A role is a plain value: the helpdesk
// (issue 12) is one more.
const (
	// RoleOperator may use the operator pages (/operator/…): phase-out campaigns and reminders.
	RoleOperator = "operator"
	// RoleHelpdesk may use the helpdesk console (/helpdesk/…): find citizens, see why they
	// cannot log on, and fix it.
	RoleHelpdesk = "helpdesk"
)

// RoleGrant is one role held by one account.
type RoleGrant struct {
	AccountID int64
	Username  string // filled by ListRoles
	Role      string
	GrantedAt time.Time
	// GrantedBy says who granted it ("admin" for the command line).
	GrantedBy string
}

// Roles stores which accounts hold which roles.
type Roles interface {
	// GrantRole gives the account role and reports whether it did: false when the account held
	// it already (its grant is left as it was). ErrNotFound when the account does not exist.
	GrantRole(ctx context.Context, g RoleGrant) (bool, error)
	// RevokeRole takes role from the account and reports whether it held it.
	RevokeRole(ctx context.Context, accountID int64, role string) (bool, error)
	// HasRole reports whether the account holds role.
	HasRole(ctx context.Context, accountID int64, role string) (bool, error)
	// ListRoles returns the grants of role with their usernames, oldest first.
	ListRoles(ctx context.Context, role string) ([]RoleGrant, error)
}

// CampaignKeys says which keys a campaign report is about: the active keys of Kind, and for the
// "at risk" rule the kinds whose active keys would still let a citizen log on at level
// substantial once Kind is gone (Others; Kind itself is never among them).
type CampaignKeys struct {
	Kind   string
	Others []string
}

// LastUseCount is how many citizens with an active key of a campaign's kind used it last
// at or after From and before To (zero times: unbounded); Never counts keys never used.
type LastUseCount struct {
	From, To time.Time
	Never    bool
	Citizens int64
}

// EventCount counts audit events of one type and one answer (Detail "choice").
type EventCount struct {
	Type   string
	Value  string // the Detail "choice" ("" when the event has none)
	Events int64
}

// HourCount counts events in one hour (unix hours: the Time's unix seconds / 3600), per value
// of a Detail field. Reports fold hours into days of their own time zone.
type HourCount struct {
	Hour   int64
	Value  string
	Events int64
}

// AtRisk is a citizen at risk of being locked out by a phase-out: an active key of the kind and
// no active key of another kind of level substantial.
type AtRisk struct {
	AccountID       int64
	Username, Name  string
	Email, Language string
	LastUsedAt      time.Time // the newest use of the kind's active keys; zero: never used
}

// Campaigns answers the questions of a phase-out campaign report with aggregate queries: the
// figures are counted by the database (GROUP BY), never by reading every row.
type Campaigns interface {
	// CountByLastUse counts the citizens with an active key of c.Kind by the newest last use of
	// those keys, in the buckets bounds make: bucket 0 is "never used", bucket i (1 ≤ i ≤
	// len(bounds)) is a last use at or after bounds[i-1] and before bounds[i-2] (bounds[-1] being
	// +∞), and bucket len(bounds)+1 is a last use before the last bound. bounds must be in
	// descending order. It returns len(bounds)+2 counts.
	CountByLastUse(ctx context.Context, kind string, bounds []time.Time) ([]int64, error)
	// CountAtRisk counts the citizens at risk (see AtRisk).
	CountAtRisk(ctx context.Context, c CampaignKeys) (int64, error)
	// ListAtRisk looks at the next window citizens with an active key of c.Kind after account
	// afterID, by account ID, and returns those at risk among them, and the last account it
	// looked at (0: none was left). A caller streams them all by passing last back until it is
	// 0. A window, not a count of citizens at risk, bounds the work of one call: a page of the
	// citizens at risk could otherwise mean reading most of the keys.
	ListAtRisk(ctx context.Context, c CampaignKeys, afterID int64, window int) (page []AtRisk, last int64, err error)
	// CountEvents counts the audit events of the given types whose KeyKind is kind, per type
	// and Detail "choice" (the phase-out pop-up's answer).
	CountEvents(ctx context.Context, kind string, types []string) ([]EventCount, error)
	// CountMigrationsByHour counts the key.deactivated events of cause "migration" (Detail
	// "cause") of the kind's keys (KeyKind) per hour and per Detail "replaced_by" (the kind that
	// replaced them).
	CountMigrationsByHour(ctx context.Context, kind string) ([]HourCount, error)
}

// ReminderRound is one round of reminder e-mails of a phase-out campaign.
type ReminderRound struct {
	ID         int64
	Kind       string
	Number     int // 1, 2, … per kind
	StartedAt  time.Time
	StartedBy  string
	FinishedAt time.Time // zero while the round runs (or was interrupted)
	// DisabledFrom is the date the round's e-mails announce (the policy's at its start).
	DisabledFrom time.Time
	// Reminded counts the round's reminders (filled by LatestReminderRound).
	Reminded int64
}

// Reminders stores reminder rounds and whom each reminded.
type Reminders interface {
	// LatestReminderRound returns the kind's round with the highest number, with Reminded, or
	// ErrNotFound.
	LatestReminderRound(ctx context.Context, kind string) (ReminderRound, error)
	// CreateReminderRound inserts r, filling ID; ErrConflict when the kind has a round with
	// r.Number already (two operators started one at once).
	CreateReminderRound(ctx context.Context, r *ReminderRound) error
	// FinishReminderRound sets the round's FinishedAt, once: it reports false when it was
	// finished already.
	FinishReminderRound(ctx context.Context, id int64, at time.Time) (bool, error)
	// UnremindedAtRisk is ListAtRisk without the citizens the round reminded already.
	UnremindedAtRisk(ctx context.Context, roundID int64, c CampaignKeys, afterID int64, window int) (page []AtRisk, last int64, err error)
	// RecordReminder records that the round reminds the account and reports whether this call
	// did: false when the round reminded it already (a concurrent run of the same round). Call
	// it in the transaction that enqueues the e-mail, and enqueue only on true.
	RecordReminder(ctx context.Context, roundID, accountID int64, at time.Time) (bool, error)
}
