package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/portal/portaltest"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// The demo citizen of the browser tests.
const (
	demoUser     = "demo"
	demoPassword = "demo-password-1"
	demoName     = "Demo Citizen"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a Server over a real store with the demo citizen, who has a password and a token
// card (codes known to the test) and an e-mail code key.
type fixture struct {
	t      *testing.T
	db     store.Store
	clock  *clock.Fake
	srv    *Server
	h      http.Handler
	acct   store.Account
	codes  [tokencard.Positions]string
	logs   *syncBuffer
	bundle *i18n.Bundle
	world  *logintest.World
	portal *portal.Service
	// signup is the self-registration the server is given (used with withRegistration); hashes
	// counts the password hashes it computed.
	signup *signup.Service
	hashes *countingPasswords
	// recovery runs the forgotten username and password pages.
	recovery *recovery.Service
}

// option changes the fixture's web configuration or dependencies before New.
type option func(*Config, *Deps)

func newFixture(t *testing.T, db *sqlstore.DB, opts ...option) *fixture {
	t.Helper()
	w := logintest.New(t, db, logintest.Options{
		Citizen: logintest.Citizen{Username: demoUser, Name: demoName, Email: "demo@example.org", Language: "en", Password: demoPassword},
	})
	f := &fixture{t: t, db: db, clock: w.Clock, logs: &syncBuffer{}, bundle: w.Bundle, acct: w.Account, codes: w.CardCodes}
	f.world = w
	f.portal = portaltest.New(t, w, nil)
	f.signup = f.newSignup(signupSetup{cfg: signup.DefaultConfig(), perAddress: 1000})
	f.recovery = f.newRecovery(recovery.DefaultConfig(), 1000)
	f.newServer(db, w.Service, w.Kinds, opts)
	return f
}

// newServer builds the Server under test.
func (f *fixture) newServer(db store.Store, svc *login.Service, reg *keys.Registry, opts []option) {
	f.t.Helper()
	cfg := Config{ServiceName: "Sleutelbos", BaseURL: "http://sleutelbos.test", DefaultLanguage: "en"}
	quota, err := attempts.NewQuota(db, 1000, 15*time.Minute, f.clock.Now)
	if err != nil {
		f.t.Fatal(err)
	}
	deps := Deps{Store: db, Bundle: f.bundle, Login: svc, Portal: f.portal, Keys: reg, StartQuota: quota, Now: f.clock.Now, Rand: rand.Reader,
		DeviceKey: testDeviceKey(f.t), Signup: f.signup, Recovery: f.recovery,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	if f.srv, err = New(cfg, deps); err != nil {
		f.t.Fatal(err)
	}
	f.h = f.srv.Handler()
}

// browser is a minimal cookie-keeping client that drives the handler in-process.
type browser struct {
	f       *fixture
	cookies map[string]string
	header  http.Header // sent with every request
	remote  string      // the client address (default 192.0.2.10:40000)
}

func (f *fixture) browser() *browser {
	return &browser{f: f, cookies: map[string]string{}, header: http.Header{}}
}

// response is what the browser got back.
type response struct {
	status int
	header http.Header
	body   string
	res    *http.Response
}

func (r *response) location() string { return r.header.Get("Location") }

// do sends a request; form, when non-nil, is posted urlencoded. Redirects are not followed.
func (b *browser) do(method, target string, form url.Values) *response {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, "http://sleutelbos.test"+target, body)
	req.RemoteAddr = "192.0.2.10:40000"
	if b.remote != "" {
		req.RemoteAddr = b.remote
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	return b.send(req)
}

// send sends req with the browser's cookies and keeps the cookies it gets back.
func (b *browser) send(req *http.Request) *response {
	for name, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	rec := httptest.NewRecorder()
	b.f.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return &response{status: res.StatusCode, header: res.Header, body: rec.Body.String(), res: res}
}

func (b *browser) get(target string) *response { return b.do(http.MethodGet, target, nil) }

// csrfToken returns the CSRF token the pages of this browser carry now: bound to its session,
// or to its csrf cookie (getting one first if needed).
func (b *browser) csrfToken() string {
	b.f.t.Helper()
	names := b.f.srv.cookies
	if sid := b.cookies[names.session]; sid != "" {
		return b.f.srv.csrfFor(bindSession, sid)
	}
	if b.cookies[names.csrf] == "" {
		b.get("/login")
	}
	return b.f.srv.csrfFor(bindBrowser, b.cookies[names.csrf])
}

// post sends form with the browser's CSRF token added.
func (b *browser) post(target string, form url.Values) *response {
	b.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set(csrfField, b.csrfToken())
	return b.do(http.MethodPost, target, form)
}

// choose starts a logon with kind at the chooser.
func (b *browser) choose(kind, level, ret string) *response {
	b.f.t.Helper()
	return b.post("/login/choose", url.Values{"kind": {kind}, "level": {level}, "return": {ret}})
}

// logon logs the demo citizen on with the password key and checks it worked.
func (b *browser) logon() {
	b.f.t.Helper()
	if res := b.choose("password", "low", "/"); res.status != http.StatusSeeOther || res.location() != "/login/password" {
		b.f.t.Fatalf("choose password: %d %s", res.status, res.location())
	}
	res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	if res.status != http.StatusSeeOther || res.location() != "/" {
		b.f.t.Fatalf("logon: status %d, Location %q, body:\n%s", res.status, res.location(), res.body)
	}
}

// wantStatus fails the test unless res has status want.
func wantStatus(t *testing.T, what string, res *response, want int) {
	t.Helper()
	if res.status != want {
		t.Fatalf("%s: status %d, want %d; Location %q; body:\n%.2000s", what, res.status, want, res.location(), res.body)
	}
}

var htmlLangRE = regexp.MustCompile(`<html lang="([a-z]+)">`)

// htmlLang returns the <html lang> of a page.
func htmlLang(body string) string {
	if m := htmlLangRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// sessionRow returns the stored session of the cookie value id.
func (f *fixture) sessionRow(id string) (store.Session, error) {
	return f.db.GetSession(context.Background(), hashID(id))
}

// eachStore runs fn on SQLite and, when configured, PostgreSQL.
func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.EachParallel(t, fn)
}

// eachStoreFactory runs fn as the subtests "sqlite" and "postgres", each given a function that
// opens a fresh store of that backend, for tests that need several.
func eachStoreFactory(t *testing.T, fn func(t *testing.T, newDB func(testing.TB) *sqlstore.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, sqltest.SQLite) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, sqltest.Postgres) })
}
