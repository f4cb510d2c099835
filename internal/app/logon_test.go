package app

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// testSecrets are fixed so a test can derive the demo codes.
const (
	testEncryptionKeys = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	testHashKey        = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
)

// testNode is a wired node with the demo citizens, served by httptest.
type testNode struct {
	*Node
	clock  *clock.Fake
	url    string
	demo   map[string]demo.Citizen
	secret []byte
}

// testStart is the test clock's first instant.
var testStart = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// newTestNode opens a node on backend ("sqlite" or "postgres") with cheap password hashing.
func newTestNode(t testing.TB, backend string, mutate func(*config.Config)) *testNode {
	t.Helper()
	return startTestNode(t, backend, testStart, mutate, nil)
}

// startTestNode opens a node whose clock starts at start and serves it with httptest, at the
// node's base URL (the OpenID provider's issuer). before, when set, runs on the node before its
// handler is built.
func startTestNode(t testing.TB, backend string, start time.Time, mutate func(*config.Config), before func(*Node)) *testNode {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := config.Default()
	cfg.BaseURL = srv.URL
	cfg.DataDir = t.TempDir()
	cfg.EncryptionKeys, cfg.HashKey = testEncryptionKeys, testHashKey
	cfg.PasswordMemoryKiB, cfg.PasswordTime = 8*1024, 1
	if backend == "postgres" {
		cfg.DatabaseURL = sqltest.PostgresURL(t)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(start)
	n, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	cs, err := demo.Ensure(context.Background(), n.Store, demo.Deps{Passwords: n.Passwords, Hasher: n.Hasher, TOTP: n.TOTP, Now: n.Now})
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(n)
	}
	if h, err = n.Handler(); err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: n, clock: clk, url: srv.URL, demo: map[string]demo.Citizen{}}
	for _, c := range cs {
		tn.demo[c.Username] = c
	}
	tn.secret = totp.NewSecretForDemo(demo.Seed(n.Hasher), "demo")
	return tn
}

func (tn *testNode) citizen() *webtest.Citizen { return webtest.New(tn.url, nil) }

// lastCode reads the newest e-mailed code for address from the outbox.
func (tn *testNode) lastCode(t testing.TB, address string) string {
	t.Helper()
	msgs, err := tn.Store.ListMessages(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.ToAddress == address {
			if c := regexp.MustCompile(`\b\d{6}\b`).FindString(m.TextBody); c != "" {
				return c
			}
		}
	}
	t.Fatalf("no code e-mailed to %s", address)
	return ""
}

// answer computes the right code for the page p of a logon with kind.
func (tn *testNode) answer(t testing.TB, kind string, p webtest.Page) string {
	t.Helper()
	switch kind {
	case "tokencard":
		pos := p.Position()
		if pos < 1 || pos > 24 {
			t.Fatalf("no card position on the code page:\n%s", p.Body)
		}
		return tn.demo["demo"].CardCodes[pos-1]
	case "totp":
		return totp.Code(tn.secret, tn.clock.Now())
	case "emailcode":
		return tn.lastCode(t, "demo@example.org")
	}
	t.Fatalf("unknown kind %s", kind)
	return ""
}

func backends(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			if b == "postgres" {
				sqltest.PostgresURL(t) // skips or fails exactly as sqltest decides
			}
			fn(t, b)
		})
	}
}

func mustOK(t *testing.T, p webtest.Page, err error, wantPath string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != 200 || p.URL.Path != wantPath {
		t.Fatalf("status %d at %s, want 200 at %s; alert %q", p.Status, p.URL.Path, wantPath, p.Alert())
	}
}

func TestHTTPLogonEveryKind(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newTestNode(t, backend, nil)
		for _, kind := range []string{"password", "tokencard", "emailcode", "totp"} {
			t.Run(kind, func(t *testing.T) {
				c := tn.citizen()
				level := "?level=substantial"
				if kind == "password" {
					level = ""
				}
				p, err := c.StartLogon(level, kind, "demo", "demo-password-1")
				if kind != "password" {
					mustOK(t, p, err, "/login/code")
					if kind == "totp" {
						tn.clock.Advance(30 * time.Second) // a fresh step for every logon
					}
					p, err = c.SubmitCode(" " + tn.answer(t, kind, p) + " ")
				}
				mustOK(t, p, err, "/")
				if !strings.Contains(p.Body, "Demo Citizen") {
					t.Fatalf("welcome page without the name:\n%s", p.Body)
				}
				p, err = c.Post("/logout", nil)
				mustOK(t, p, err, "/login")
			})
		}
	})
}

// wantMessage fails the test unless page p shows the catalogue message key (with args) in the
// page's language: the exact text, not a guess at its wording.
func (tn *testNode) wantMessage(t *testing.T, p webtest.Page, key string, args ...any) {
	t.Helper()
	lang := "en"
	if m := htmlLangRE.FindStringSubmatch(p.Body); m != nil {
		lang = m[1]
	}
	want := tn.Bundle.Printer(lang).T(key, args...)
	if !strings.Contains(p.Body, html.EscapeString(want)) {
		t.Errorf("page %s (%s) does not say %q; alert %q", p.URL.Path, lang, want, p.Alert())
	}
}

var htmlLangRE = regexp.MustCompile(`<html[^>]*\blang="([a-z]{2})"`)

// wrongCode returns a well-formed code that is not right.
func wrongCode(right string) string {
	if right == "999999" {
		return "888888"
	}
	return "999999"
}

// cardKey returns the demo citizen's token card as stored now, failing when it has none.
func (tn *testNode) cardKey(t *testing.T, username string) store.Key {
	t.Helper()
	ctx := context.Background()
	a, err := tn.Store.GetAccountByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := tn.Store.ListKeys(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Kind == "tokencard" {
			return k
		}
	}
	t.Fatalf("%s has no token card (keys %+v)", username, ks)
	return store.Key{}
}

// TestHTTPLogonFailures: each way a logon goes wrong, over HTTP. Every subtest has a node of
// its own, so each runs alone (go test -run 'TestHTTPLogonFailures/sqlite/key_missing').
func TestHTTPLogonFailures(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		node := func(t *testing.T) *testNode {
			return newTestNode(t, backend, func(c *config.Config) { c.LockAfter = 8; c.ThrottleAfter = 5 })
		}

		t.Run("wrong code then right", func(t *testing.T) {
			tn := node(t)
			c := tn.citizen()
			p, err := c.StartLogon("?level=substantial", "tokencard", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			pos := p.Position()
			right := tn.answer(t, "tokencard", p)
			p, err = c.SubmitCode(wrongCode(right))
			mustOK(t, p, err, "/login/code")
			tn.wantMessage(t, p, "login.error.wrong_code")
			if got := p.Position(); got != pos {
				t.Errorf("the position changed after a wrong code: %d, then %d", pos, got)
			}
			p, err = c.SubmitCode(right)
			mustOK(t, p, err, "/")
		})

		t.Run("expired e-mail code", func(t *testing.T) {
			tn := node(t)
			c := tn.citizen()
			p, err := c.StartLogon("?level=substantial", "emailcode", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			code := tn.answer(t, "emailcode", p)
			tn.clock.Advance(5*time.Minute + time.Second)
			p, err = c.SubmitCode(code)
			mustOK(t, p, err, "/login/code")
			tn.wantMessage(t, p, "login.error.code_expired")
			p, err = c.Post("/login/resend", nil)
			mustOK(t, p, err, "/login/code")
			p, err = c.SubmitCode(tn.answer(t, "emailcode", p))
			mustOK(t, p, err, "/")
		})

		t.Run("replayed totp step", func(t *testing.T) {
			tn := node(t)
			a := tn.citizen()
			p, err := a.StartLogon("?level=substantial", "totp", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			code := tn.answer(t, "totp", p)
			p, err = a.SubmitCode(code)
			mustOK(t, p, err, "/")
			b := tn.citizen()
			p, err = b.StartLogon("?level=substantial", "totp", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			p, err = b.SubmitCode(code)
			mustOK(t, p, err, "/login/code")
			tn.wantMessage(t, p, "login.error.code_used")
		})

		t.Run("key missing", func(t *testing.T) {
			tn := node(t)
			p, err := tn.citizen().StartLogon("?level=substantial", "totp", "token", "token-password-1")
			if err != nil {
				t.Fatal(err)
			}
			tn.wantMessage(t, p, "login.error.no_key", i18n.Msg("key.totp.short"))
		})

		t.Run("same message for unknown user and wrong password", func(t *testing.T) {
			tn := node(t)
			a, err := tn.citizen().StartLogon("", "password", "demo", "not the password")
			if err != nil {
				t.Fatal(err)
			}
			b, err := tn.citizen().StartLogon("", "password", "nobody-at-all", "not the password")
			if err != nil {
				t.Fatal(err)
			}
			tn.wantMessage(t, a, "login.error.bad_credentials")
			if a.Alert() != b.Alert() || a.Status != b.Status || a.URL.Path != b.URL.Path {
				t.Fatalf("wrong password %d %s %q, unknown user %d %s %q", a.Status, a.URL.Path, a.Alert(), b.Status, b.URL.Path, b.Alert())
			}
		})

		t.Run("throttled password", func(t *testing.T) {
			tn := node(t)
			c := tn.citizen()
			for i := range 5 {
				p, err := c.StartLogon("", "password", "demo", "wrong again "+strconv.Itoa(i))
				if err != nil {
					t.Fatal(err)
				}
				tn.wantMessage(t, p, "login.error.bad_credentials")
			}
			p, err := c.StartLogon("", "password", "demo", "demo-password-1")
			if err != nil {
				t.Fatal(err)
			}
			if p.URL.Path == "/" {
				t.Fatal("the right password got through the throttle")
			}
			tn.wantMessage(t, p, "attempts.error.throttled_minute")
			tn.clock.Advance(time.Minute)
			p, err = c.StartLogon("", "password", "demo", "demo-password-1")
			mustOK(t, p, err, "/")
		})

		t.Run("locked after repeated wrong codes", func(t *testing.T) {
			tn := node(t)
			c := tn.citizen()
			p, err := c.StartLogon("?level=substantial", "tokencard", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			bad := wrongCode(tn.answer(t, "tokencard", p))
			for i := range 7 {
				if i >= 5 { // wait out each throttle period (1, 2 minutes): this test is about the lockout
					tn.clock.Advance(time.Minute << (i - 5))
				}
				p, err = c.SubmitCode(bad)
				mustOK(t, p, err, "/login/code")
				tn.wantMessage(t, p, "login.error.wrong_code")
			}
			if k := tn.cardKey(t, "demo"); k.Status != store.KeyActive {
				t.Fatalf("after 7 wrong codes the card is %s, want active", k.Status)
			}
			tn.clock.Advance(4 * time.Minute)
			if p, err = c.SubmitCode(bad); err != nil {
				t.Fatal(err)
			}
			tn.wantMessage(t, p, "login.error.key_locked", i18n.Msg("key.tokencard.short"))
			if k := tn.cardKey(t, "demo"); k.Status != store.KeyLocked {
				t.Errorf("after 8 wrong codes the card is %s, want locked", k.Status)
			}
		})

		t.Run("audited without codes", func(t *testing.T) {
			tn := node(t)
			c := tn.citizen()
			p, err := c.StartLogon("", "password", "demo", "demo-password-1") // logon.success
			mustOK(t, p, err, "/")
			if _, err := tn.citizen().StartLogon("?level=substantial", "totp", "token", "token-password-1"); err != nil {
				t.Fatal(err) // logon.failure/key_missing
			}
			c = tn.citizen()
			p, err = c.StartLogon("?level=substantial", "tokencard", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			right := tn.answer(t, "tokencard", p)
			for range 8 { // logon.failure/wrong_code ×5, then refused: one logon.throttled for the three
				if _, err := c.SubmitCode(wrongCode(right)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 6 { // logon.failure/bad_credentials ×5, then refused: one logon.throttled
				if _, err := tn.citizen().StartLogon("", "password", "token", "not it "+strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			evs, err := tn.Store.ListAudit(context.Background(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, e := range evs {
				seen[e.Type+"/"+e.Reason]++
				for k, v := range e.Detail {
					if strings.Contains(v, right) || strings.Contains(k, "code") && len(v) == 6 {
						t.Errorf("audit event %d holds a code: %v", e.ID, e.Detail)
					}
				}
			}
			for want, n := range map[string]int{"logon.success/": 1, "logon.failure/key_missing": 1, "logon.failure/wrong_code": 5,
				"logon.failure/bad_credentials": 5, "logon.throttled/throttle_started": 2} {
				if seen[want] != n {
					t.Errorf("%d audit events %s, want %d (all: %v)", seen[want], want, n, seen)
				}
			}
		})
	})
}

func TestDevMailboxOnlyForDevelopment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*config.Config)
		want   bool
	}{
		// A loopback listener behind a reverse proxy is the usual production layout.
		{"loopback without SMTP", func(c *config.Config) {}, false},
		{"localhost", func(c *config.Config) { c.Listen = "localhost:8080" }, false},
		{"all interfaces", func(c *config.Config) { c.Listen = ":8080" }, false},
		{"demo on all interfaces", func(c *config.Config) { c.Listen = "0.0.0.0:8080"; c.Demo = true }, true},
		{"dev-mailbox", func(c *config.Config) { c.DevMailbox = true }, true},
		{"SMTP configured", func(c *config.Config) { c.SMTPHost = "mail.example.org"; c.Demo = true }, false},
	}
	for _, tt := range tests {
		c := config.Default()
		tt.change(&c)
		if got := devMailbox(c); got != tt.want {
			t.Errorf("%s: devMailbox = %v, want %v", tt.name, got, tt.want)
		}
	}
	for base, want := range map[string]bool{"https://login.example.be": true, "HTTPS://login.example.be": true, "http://127.0.0.1:8080": false} {
		if got := isHTTPS(base); got != want {
			t.Errorf("isHTTPS(%q) = %v", base, got)
		}
	}
	// The route itself answers 404 when off, 200 when on.
	for _, tt := range []struct {
		name   string
		change func(*config.Config)
		want   int
	}{
		{"production-like", func(c *config.Config) { c.BaseURL, c.TrustProxy = "https://login.example.test", true }, 404},
		{"dev-mailbox", func(c *config.Config) { c.DevMailbox = true }, 200},
	} {
		tn := newTestNode(t, "sqlite", tt.change)
		p, err := tn.citizen().Get("/dev/mailbox")
		if err != nil || p.Status != tt.want {
			t.Errorf("%s: /dev/mailbox: %d, %v; want %d", tt.name, p.Status, err, tt.want)
		}
	}
}

// TestDevMailboxSpeaksTheSitesLanguage: the mailbox's pages and errors are the site's — its
// language negotiation (the __Host- cookie on https) and its localised error pages.
func TestDevMailboxSpeaksTheSitesLanguage(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t, "sqlite", func(c *config.Config) { c.Demo, c.BaseURL = true, "https://login.example.test" })
	do := func(method, path string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, tn.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := do("GET", "/dev/mailbox", map[string]string{"Cookie": "__Host-lang=nl"}); code != 200 || !strings.Contains(body, `<html lang="nl">`) {
		t.Errorf("mailbox with the https language cookie: %d\n%s", code, body)
	}
	for _, tt := range []struct {
		method, path, accept string
		want                 int
		text                 string
	}{
		{"GET", "/dev/mailbox/99", "de", 404, "Seite nicht gefunden"},
		{"GET", "/dev/mailbox/1/raw?lang=fr", "", 404, "Page introuvable"},
		{"POST", "/dev/mailbox", "nl", 405, "Aanvraag niet toegestaan"},
	} {
		code, body := do(tt.method, tt.path, map[string]string{"Accept-Language": tt.accept})
		if code != tt.want || !strings.Contains(body, tt.text) || !strings.Contains(body, `class="langs"`) {
			t.Errorf("%s %s: %d, want %d with the site's page saying %q:\n%s", tt.method, tt.path, code, tt.want, tt.text, body)
		}
	}
}
