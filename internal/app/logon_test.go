package app

import (
	"context"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/storetest"
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
		cfg.DatabaseURL = storetest.PostgresURL(t)
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
				storetest.PostgresURL(t) // skips or fails exactly as storetest decides
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

func TestHTTPLogonFailures(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newTestNode(t, backend, func(c *config.Config) { c.LockAfter = 8; c.ThrottleAfter = 5 })

		t.Run("wrong code then right", func(t *testing.T) {
			c := tn.citizen()
			p, err := c.StartLogon("?level=substantial", "tokencard", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			right := tn.answer(t, "tokencard", p)
			p, err = c.SubmitCode(strings.Repeat("9", 6))
			if right == "999999" {
				p, err = c.SubmitCode("888888")
			}
			mustOK(t, p, err, "/login/code")
			if !strings.Contains(p.Alert(), "security code") {
				t.Errorf("wrong code alert %q", p.Alert())
			}
			if got := p.Position(); tn.demo["demo"].CardCodes[got-1] != right {
				t.Errorf("the position changed after a wrong code")
			}
			p, err = c.SubmitCode(right)
			mustOK(t, p, err, "/")
		})

		t.Run("expired e-mail code", func(t *testing.T) {
			c := tn.citizen()
			p, err := c.StartLogon("?level=substantial", "emailcode", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			code := tn.answer(t, "emailcode", p)
			tn.clock.Advance(5*time.Minute + time.Second)
			p, err = c.SubmitCode(code)
			mustOK(t, p, err, "/login/code")
			if !strings.Contains(p.Alert(), "expired") && !strings.Contains(p.Alert(), "no longer valid") {
				t.Errorf("expired code alert %q", p.Alert())
			}
			p, err = c.Post("/login/resend", nil)
			mustOK(t, p, err, "/login/code")
			p, err = c.SubmitCode(tn.answer(t, "emailcode", p))
			mustOK(t, p, err, "/")
		})

		t.Run("replayed totp step", func(t *testing.T) {
			tn.clock.Advance(time.Minute)
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
			if p.Alert() == "" {
				t.Error("a replayed code was accepted or gave no message")
			}
		})

		t.Run("key missing", func(t *testing.T) {
			c := tn.citizen()
			p, err := c.StartLogon("?level=substantial", "totp", "token", "token-password-1")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.Body, "You do not have this digital key") && !strings.Contains(p.Body, "U beschikt niet over deze digitale sleutel") {
				t.Fatalf("no missing-key message; alert %q", p.Alert())
			}
		})

		t.Run("same message for unknown user and wrong password", func(t *testing.T) {
			a, err := tn.citizen().StartLogon("", "password", "demo", "not the password")
			if err != nil {
				t.Fatal(err)
			}
			b, err := tn.citizen().StartLogon("", "password", "nobody-at-all", "not the password")
			if err != nil {
				t.Fatal(err)
			}
			if a.Alert() == "" || a.Alert() != b.Alert() || a.Status != b.Status {
				t.Fatalf("wrong password %d %q, unknown user %d %q", a.Status, a.Alert(), b.Status, b.Alert())
			}
		})

		t.Run("throttled password", func(t *testing.T) {
			c := tn.citizen()
			for i := 0; i < 4; i++ { // one failure already counted above
				if _, err := c.StartLogon("", "password", "demo", "wrong again "+strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			p, err := c.StartLogon("", "password", "demo", "demo-password-1")
			if err != nil {
				t.Fatal(err)
			}
			if p.URL.Path == "/" || !strings.Contains(p.Alert(), "Try again in") {
				t.Fatalf("right password while throttled: at %s, alert %q", p.URL.Path, p.Alert())
			}
			tn.clock.Advance(time.Minute)
			p, err = c.StartLogon("", "password", "demo", "demo-password-1")
			mustOK(t, p, err, "/")
		})

		t.Run("locked after repeated wrong codes", func(t *testing.T) {
			c := tn.citizen()
			p, err := c.StartLogon("?level=substantial", "tokencard", "demo", "demo-password-1")
			mustOK(t, p, err, "/login/code")
			right := tn.answer(t, "tokencard", p)
			bad := "999999"
			if right == bad {
				bad = "888888"
			}
			for i := 0; i < 8; i++ {
				if i >= 5 { // wait out each throttle period (1, 2, 4 minutes): this test is about the lockout
					tn.clock.Advance(time.Minute << (i - 5))
				}
				if p, err = c.SubmitCode(bad); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(p.Alert(), "locked") {
				t.Fatalf("after 8 wrong codes: alert %q at %s", p.Alert(), p.URL.Path)
			}
			u, _ := tn.Store.GetAccountByUsername(context.Background(), "demo")
			ks, _ := tn.Store.ListKeys(context.Background(), u.ID)
			for _, k := range ks {
				if k.Kind == "tokencard" && k.Status != store.KeyLocked {
					t.Errorf("card status %s, want locked", k.Status)
				}
			}
			evs, _ := tn.Store.ListAudit(context.Background(), 0, 1000)
			seen := map[string]bool{}
			for _, e := range evs {
				seen[e.Type+"/"+e.Reason] = true
				for k, v := range e.Detail {
					if strings.Contains(v, right) || strings.Contains(k, "code") && len(v) == 6 {
						t.Errorf("audit event %d holds a code: %v", e.ID, e.Detail)
					}
				}
			}
			for _, want := range []string{"logon.success/", "logon.failure/wrong_code", "logon.failure/bad_credentials", "logon.failure/throttled", "logon.failure/key_missing", "key.locked/lockout"} {
				if !seen[want] {
					t.Errorf("no audit event %s", want)
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
		{"loopback without SMTP", func(c *config.Config) {}, true},
		{"localhost", func(c *config.Config) { c.Listen = "localhost:8080" }, true},
		{"all interfaces", func(c *config.Config) { c.Listen = ":8080" }, false},
		{"public address", func(c *config.Config) { c.Listen = "192.0.2.10:443" }, false},
		{"demo on all interfaces", func(c *config.Config) { c.Listen = "0.0.0.0:8080"; c.Demo = true }, true},
		{"SMTP configured", func(c *config.Config) { c.SMTPHost = "mail.example.org" }, false},
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
	// The route itself answers 404 when off.
	tn := newTestNode(t, "sqlite", func(c *config.Config) { c.Listen = "0.0.0.0:8080" })
	p, err := tn.citizen().Get("/dev/mailbox")
	if err != nil || p.Status != 404 {
		t.Errorf("/dev/mailbox on a non-loopback listener: %d, %v", p.Status, err)
	}
}
