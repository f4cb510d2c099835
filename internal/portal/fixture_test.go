package portal_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/portal/portaltest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// fixture is My digital keys over a real store, with one citizen whose keys the test chooses.
type fixture struct {
	t    *testing.T
	w    *logintest.World
	svc  *portal.Service
	st   store.Store
	acct store.Account
	c    portal.Client
}

// newFixture builds the world; kinds are the citizen's keys besides the password (nil: a token
// card, an e-mail code key and an app key).
func newFixture(t *testing.T, db store.Store, kinds []string, mod func(*portal.Config)) *fixture {
	t.Helper()
	w := logintest.New(t, db, logintest.Options{
		Citizen: logintest.Citizen{Username: "anna", Name: "Anna Janssens", Email: "anna@example.org", Language: "fr", Password: "correct horse battery"},
		Kinds:   kinds,
	})
	return &fixture{t: t, w: w, svc: portaltest.New(t, w, mod), st: db, acct: w.Account, c: portal.Client{IP: "192.0.2.7"}}
}

// eachStore runs fn on SQLite and PostgreSQL.
func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.EachParallel(t, fn)
}

// auth is a logon at level that completed just now.
func (f *fixture) auth(level keys.Level) portal.Auth {
	return portal.Auth{Level: level, Time: f.w.Clock.Now()}
}

func (f *fixture) ctx() context.Context { return f.t.Context() }

// account reloads the citizen's account.
func (f *fixture) account() store.Account {
	f.t.Helper()
	a, err := f.st.GetAccount(f.ctx(), f.acct.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// keys returns the citizen's key rows.
func (f *fixture) keys() []store.Key {
	f.t.Helper()
	ks, err := f.st.ListKeys(f.ctx(), f.acct.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return ks
}

// keyOf returns the citizen's newest key of kind.
func (f *fixture) keyOf(kind string) store.Key {
	f.t.Helper()
	var out store.Key
	for _, k := range f.keys() {
		if k.Kind == kind {
			out = k
		}
	}
	if out.ID == 0 {
		f.t.Fatalf("no %s key", kind)
	}
	return out
}

// mails returns the outbox messages of template to address, newest first.
func (f *fixture) mails(template, to string) []store.Message {
	f.t.Helper()
	ms, err := f.st.ListMessages(f.ctx(), 500)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.Message
	for _, m := range ms {
		if m.Template == template && m.ToAddress == to {
			out = append(out, m)
		}
	}
	return out
}

var codeLineRE = regexp.MustCompile(`(?m)^ {4}(\d{6})$`)

// code returns the code in the newest message of template to address.
func (f *fixture) code(template, to string) string {
	f.t.Helper()
	ms := f.mails(template, to)
	if len(ms) == 0 {
		f.t.Fatalf("no %s e-mail to %s", template, to)
	}
	m := codeLineRE.FindStringSubmatch(ms[0].TextBody)
	if m == nil {
		f.t.Fatalf("no code in %s e-mail:\n%s", template, ms[0].TextBody)
	}
	return m[1]
}

// events returns the audit events of type typ for the citizen.
func (f *fixture) events(typ string) []store.AuditEvent {
	f.t.Helper()
	es, err := f.st.ListAudit(f.ctx(), 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range es {
		if e.Type == typ && e.AccountID == f.acct.ID {
			out = append(out, e)
		}
	}
	return out
}

// attempt returns the failure count of scope.
func (f *fixture) attempt(scope string) int {
	f.t.Helper()
	a, err := f.st.GetAttempt(f.ctx(), scope)
	if err != nil {
		f.t.Fatal(err)
	}
	return a.Failures
}

// wizardAtSelect starts a wizard and confirms the address.
func (f *fixture) wizardAtSelect() *portal.Wizard {
	f.t.Helper()
	w, err := f.svc.StartWizard(f.acct)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.ConfirmEmail(w, f.acct); err != nil {
		f.t.Fatal(err)
	}
	return w
}

// must fails the test when err is not nil.
func (f *fixture) must(what string, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

// later moves the clock on by d.
func (f *fixture) later(d time.Duration) { f.w.Clock.Advance(d) }

// contains reports whether body holds every want.
func contains(body string, wants ...string) bool {
	for _, w := range wants {
		if !strings.Contains(body, w) {
			return false
		}
	}
	return true
}
