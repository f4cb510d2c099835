package web

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// signupSetup are the rules of the self-registration a fixture's server gets.
type signupSetup struct {
	cfg signup.Config
	// perAddress is the quota of registrations per client address and hour.
	perAddress int
}

// countingPasswords counts the password hashes a registration computes (the same work for a
// free and a taken address is one hash each).
type countingPasswords struct {
	signup.Passwords
	hashes atomic.Int64
}

func (c *countingPasswords) Hash(ctx context.Context, plain string) (string, error) {
	c.hashes.Add(1)
	return c.Passwords.Hash(ctx, plain)
}

// newSignup builds a self-registration over the fixture's world with setup's rules.
func (f *fixture) newSignup(setup signupSetup) *signup.Service {
	f.t.Helper()
	quota, err := attempts.NewQuota(f.db, setup.perAddress, time.Hour, f.clock.Now)
	if err != nil {
		f.t.Fatal(err)
	}
	f.hashes = &countingPasswords{Passwords: f.world.Passwords}
	svc, err := signup.New(setup.cfg, signup.Deps{
		Store: f.db, Passwords: f.hashes, Hasher: f.world.Hasher, Mailer: f.world.Mail, Audit: f.world.Audit,
		Quota:     quota,
		IPLimiter: attempts.New(f.db, attempts.Policy{Threshold: 1000, Base: time.Minute, Max: time.Hour}, f.clock.Now),
		Now:       f.clock.Now, Rand: rand.Reader,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return svc
}

// withRegistration turns "Create an account" on.
func withRegistration(c *Config, _ *Deps) { c.Registration = true }

// newRegisterFixture is a fixture with registration on, with the rules mod changes.
func newRegisterFixture(f *fixture, mod func(*signupSetup)) *fixture {
	f.t.Helper()
	setup := signupSetup{cfg: signup.DefaultConfig(), perAddress: 1000}
	if mod != nil {
		mod(&setup)
	}
	f.signup = f.newSignup(setup)
	f.newServer(f.db, f.world.Service, f.world.Kinds, []option{withRegistration})
	return f
}

// registration is what a test types into "Create an account".
type registration struct {
	username, name, email, language, password, confirm string
}

// newRegistration is a valid registration of username at email.
func newRegistration(username, email string) registration {
	return registration{username: username, name: "Citizen " + username, email: email, language: "en",
		password: "a long and private passphrase", confirm: "a long and private passphrase"}
}

func (g registration) form() url.Values {
	return url.Values{"username": {g.username}, "name": {g.name}, "email": {g.email}, "language": {g.language},
		"password": {g.password}, "confirm": {g.confirm}}
}

// register submits g and fails unless it went on to the code step.
func (b *browser) register(g registration) *response {
	b.f.t.Helper()
	res := b.post("/register", g.form())
	if res.status != http.StatusSeeOther || res.location() != "/register/code" {
		b.f.t.Fatalf("register %s <%s>: %d %s\n%.3000s", g.username, g.email, res.status, res.location(), res.body)
	}
	return res
}

var (
	csrfValueRE = regexp.MustCompile(`name="csrf" value="[^"]*"`)
	anyCodeRE   = regexp.MustCompile(`\b\d{6}\b`)
)

// withoutTokens blanks what differs between two browsers' copies of one page: the CSRF tokens.
func withoutTokens(body string) string {
	return csrfValueRE.ReplaceAllString(body, `name="csrf" value=""`)
}

// messagesTo returns the outbox messages to address, oldest first.
func (f *fixture) messagesTo(address string) []store.Message {
	f.t.Helper()
	ms, err := f.db.ListMessages(context.Background(), 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.Message
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.EqualFold(ms[i].ToAddress, address) {
			out = append(out, ms[i])
		}
	}
	return out
}

// signupMails counts the registration e-mails (codes and notices) to address, in any letter
// case.
func (f *fixture) signupMails(address string) int {
	n := 0
	for _, m := range f.messagesTo(address) {
		if m.Template == "signup_code" || m.Template == "signup_in_use" {
			n++
		}
	}
	return n
}
