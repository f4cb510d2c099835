package recovery_test

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// statementLog is the store calls (one statement each) and transaction ends a request made.
type statementLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *statementLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, name)
}

func (l *statementLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

// loggingStore logs the statements the forgotten-username and forgotten-password requests
// run; in a transaction it hands fn a loggingStore too.
type loggingStore struct {
	store.Store
	log *statementLog
}

func (s loggingStore) Tx(ctx context.Context, fn func(store.Store) error) error {
	s.log.add("begin")
	err := s.Store.Tx(ctx, func(tx store.Store) error { return fn(loggingStore{Store: tx, log: s.log}) })
	s.log.add("end") // commit or rollback: one statement either way
	return err
}

func (s loggingStore) GetAccountByEmail(ctx context.Context, email string) (store.Account, error) {
	s.log.add("GetAccountByEmail")
	return s.Store.GetAccountByEmail(ctx, email)
}

func (s loggingStore) GetAccountByUsername(ctx context.Context, username string) (store.Account, error) {
	s.log.add("GetAccountByUsername")
	return s.Store.GetAccountByUsername(ctx, username)
}

func (s loggingStore) LockAccount(ctx context.Context, id int64) error {
	s.log.add("LockAccount")
	return s.Store.LockAccount(ctx, id)
}

func (s loggingStore) CodeTimesSince(ctx context.Context, accountID int64, purpose store.CodePurpose, since time.Time) ([]time.Time, error) {
	s.log.add("CodeTimesSince")
	return s.Store.CodeTimesSince(ctx, accountID, purpose, since)
}

func (s loggingStore) CreateCode(ctx context.Context, c *store.Code) error {
	s.log.add("CreateCode")
	return s.Store.CreateCode(ctx, c)
}

func (s loggingStore) Enqueue(ctx context.Context, m *store.Message) error {
	s.log.add("Enqueue")
	return s.Store.Enqueue(ctx, m)
}

func (s loggingStore) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	s.log.add("AppendAudit")
	return s.Store.AppendAudit(ctx, e)
}

// TestUnknownRunsTheStatementsOfKnown: the forgotten-username and forgotten-password pages
// run the same store statements, in the same order, for an account that exists and for one
// that does not (the unknown one's in a transaction rolled back), so their time tells nothing;
// only the known one's e-mail and link stay.
func TestUnknownRunsTheStatementsOfKnown(t *testing.T) {
	t.Parallel()
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		w := logintest.New(t, db, logintest.Options{})
		quota := func() *attempts.Quota {
			q, err := attempts.NewQuota(db, 1000, recovery.Window, w.Clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
		log := &statementLog{}
		svc, err := recovery.New(recovery.DefaultConfig(), recovery.Deps{Store: loggingStore{Store: db, log: log}, Passwords: w.Passwords,
			Hasher: w.Hasher, Mailer: w.Mail, Audit: w.Audit, Factors: w.Service, Kinds: w.Kinds, AddressQuota: quota(),
			IdentifierQuota: quota(), Now: w.Clock.Now, Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		c := recovery.Client{IP: "192.0.2.9"}
		run := func(fn func() error) []string {
			t.Helper()
			log.take()
			if err := fn(); err != nil {
				t.Fatal(err)
			}
			return log.take()
		}
		count := func() (msgs, codes int) {
			ms, err := db.ListMessages(ctx, 100000)
			if err != nil {
				t.Fatal(err)
			}
			times, err := db.CodeTimesSince(ctx, w.Account.ID, store.CodeReset, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return len(ms), len(times)
		}
		for _, p := range []struct{ what, known, unknown string }{
			{"username", w.Citizen.Email, "nobody@example.org"},
			{"password by username", w.Citizen.Username, "nobody"},
			{"password by address", w.Citizen.Email, "nobody@example.org"},
		} {
			fn := func(id string) func() error {
				if p.what == "username" {
					return func() error { return svc.ForgotUsername(ctx, id, c) }
				}
				return func() error { return svc.ForgotPassword(ctx, id, c) }
			}
			m0, c0 := count()
			unknown := run(fn(p.unknown))
			if m, cs := count(); m != m0 || cs != c0 {
				t.Errorf("%s of an unknown account kept %d e-mails and %d links", p.what, m-m0, cs-c0)
			}
			known := run(fn(p.known))
			if m, _ := count(); m != m0+1 {
				t.Errorf("%s of a known account: %d e-mails, want 1", p.what, m-m0)
			}
			if !slices.Equal(known, unknown) || len(known) < 4 {
				t.Errorf("%s: statements\n known   %v\n unknown %v", p.what, known, unknown)
			}
			w.Clock.Advance(time.Minute)
		}
	})
}
