// Package logintest builds, for tests, a logon service over a real store with every key kind
// wired as in production (cheap password hashing, fixed keys), and a citizen who has every key
// with codes the test knows. The login and web tests share it so that neither wires the
// service by hand.
package logintest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/emailcode"
	passwordkind "github.com/sleutelbos/sleutelbos/internal/keys/password"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Citizen describes the citizen a World creates.
type Citizen struct {
	Username, Name, Email, Language, Password string
}

// Options tune a World; zero fields take defaults.
type Options struct {
	Citizen Citizen
	// Config changes the logon rules before the service is built.
	Config func(*login.Config)
	// Start is the clock's first instant (default 25 November 2026 10:00 UTC).
	Start time.Time
	// Deps changes the service's parts before it is built (a store that fails, a logger).
	Deps func(*login.Deps)
	// Kinds are the keys the citizen has besides the password: nil gives a token card, an
	// e-mail code key and an authenticator key; an empty slice gives none.
	Kinds []string
}

// World is a logon service, its parts, and one citizen with a password, a token card, an
// e-mail code key and an authenticator key.
type World struct {
	Store     store.Store
	Clock     *clock.Fake
	Bundle    *i18n.Bundle
	Kinds     *keys.Registry
	Passwords *password.Hasher
	Service   *login.Service
	// The parts as wired, for services built beside the logon (My digital keys).
	Mail      *mail.Composer
	EmailCode *emailcode.Kind
	TOTP      *totp.Kind
	Audit     *audit.Recorder
	// Hasher is the keyed hasher of codes and scopes.
	Hasher  *secrets.Hasher
	Citizen Citizen
	Account store.Account
	// CardCodes are the token card's codes, position 1 first; TOTPSecret is the app's secret.
	CardCodes  [tokencard.Positions]string
	TOTPSecret []byte
}

// New builds a World over st. A second World on the same store finds the citizen already
// there and shares it.
func New(t testing.TB, st store.Store, o Options) *World {
	t.Helper()
	ctx := context.Background()
	c := o.Citizen
	if c.Username == "" {
		c = Citizen{Username: "Jan", Name: "Jan Peeters", Email: "jan@example.org", Language: "nl", Password: "correct horse battery"}
	}
	start := o.Start
	if start.IsZero() {
		start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	}
	w := &World{Store: st, Clock: clock.NewFake(start), Citizen: c, TOTPSecret: bytes.Repeat([]byte{3}, 20)}
	for i := range w.CardCodes {
		w.CardCodes[i] = strconv.Itoa(100000 + i*1111)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	w.Bundle, err = i18n.Load("en")
	must(err)
	h, err := secrets.NewHasher(bytes.Repeat([]byte{7}, 32))
	must(err)
	kr, err := secrets.NewKeyring(rand.Reader, "k1", map[string][]byte{"k1": bytes.Repeat([]byte{9}, 32)})
	must(err)
	composer, err := mail.NewComposer(w.Bundle, mail.ComposerConfig{ServiceName: "Sleutelbos", BaseURL: "http://127.0.0.1",
		From: "noreply@example.org", Hold: true, Now: w.Clock.Now})
	must(err)
	tc, err := tokencard.New(h, rand.Reader)
	must(err)
	ec, err := emailcode.New(emailcode.DefaultConfig(), h, composer, rand.Reader, w.Clock.Now)
	must(err)
	tp, err := totp.New(totp.DefaultConfig("Sleutelbos"), kr, rand.Reader, w.Clock.Now)
	must(err)
	w.Kinds, err = keys.NewRegistry(passwordkind.New(), tc, ec, tp)
	must(err)
	w.Mail, w.EmailCode, w.TOTP, w.Hasher = composer, ec, tp, h
	w.Audit = audit.New(w.Clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.Passwords = password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0, rand.Reader,
		password.WithStoredClasses(st.PasswordHashParams))
	cfg := login.DefaultConfig()
	if o.Config != nil {
		o.Config(&cfg)
	}
	deps := login.Deps{
		Store: st, Kinds: w.Kinds, Passwords: w.Passwords,
		Limiter:     attempts.New(st, attempts.DefaultPolicy(), w.Clock.Now),
		IPLimiter:   attempts.New(st, attempts.Policy{Threshold: 1000, Base: time.Minute, Max: time.Hour}, w.Clock.Now),
		ScopeHasher: h,
		Audit:       w.Audit, Now: w.Clock.Now,
	}
	if o.Deps != nil {
		o.Deps(&deps)
	}
	w.Service, err = login.New(cfg, deps)
	must(err)

	hash, err := w.Passwords.Hash(ctx, c.Password)
	must(err)
	w.Account = store.Account{Username: c.Username, Name: c.Name, Email: c.Email, Language: c.Language, PasswordHash: hash}
	if err := st.CreateAccount(ctx, &w.Account); errors.Is(err, store.ErrConflict) {
		w.Account, err = st.GetAccountByUsername(ctx, c.Username)
		must(err)
		return w
	} else {
		must(err)
	}
	kinds := o.Kinds
	if kinds == nil {
		kinds = []string{keys.TokenCard, keys.TOTP, keys.EmailCode}
	}
	for _, kind := range kinds {
		var k store.Key
		switch kind {
		case keys.TokenCard:
			k, err = tokencard.NewKey(h, w.Account.ID, "SER-"+c.Username, w.CardCodes, start)
		case keys.TOTP:
			k, err = tp.NewKey(w.Account.ID, w.TOTPSecret, start)
		case keys.EmailCode:
			k = store.Key{AccountID: w.Account.ID, Kind: keys.EmailCode, Status: store.KeyActive, CreatedAt: start, ActivatedAt: start}
		default:
			t.Fatalf("logintest: no key of kind %q", kind)
		}
		must(err)
		must(st.CreateKey(ctx, &k))
	}
	return w
}
