package oidcop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/oidcop/acr"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testConfig is the provider configuration of these tests.
func testConfig() Config {
	return Config{Issuer: "https://login.example.be", ACR: acr.MustParse(acr.Default), CodeLifetime: time.Minute,
		TokenLifetime: 10 * time.Minute, RequestLifetime: 30 * time.Minute, KeyRotation: 24 * time.Hour,
		JWKSMaxAge: 15 * time.Minute, KeyRetention: 8 * time.Hour}
}

// newTestProvider is a provider over st with a fake clock; every level but high is reachable.
func newTestProvider(t testing.TB, st Store, cfg Config) (*Provider, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	kr, err := secrets.NewKeyring(rand.Reader, "k1", map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := secrets.NewHasher(bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	quota, err := attempts.NewQuota(st.(attempts.Store), 1000, time.Hour, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Deps{Store: st, Sealer: kr, Hasher: h, Audit: audit.New(clk.Now, nil), Quota: quota,
		Reachable: func(l keys.Level) bool { return l < keys.LevelHigh }, Now: clk.Now, Rand: rand.Reader,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p, clk
}

// TestDiscoveryGolden keeps the discovery document stable: `go test ./internal/oidcop -update`
// after a deliberate change, and read the diff.
func TestDiscoveryGolden(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t, sqltest.SQLite(t), testConfig())
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, DiscoveryPath, nil))
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("status %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	var got bytes.Buffer
	if err := json.Indent(&got, rec.Body.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "discovery.golden.json")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("%s differs (-golden +got):\n%s", path, diff)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	c := testConfig()
	c.Issuer, c.CodeLifetime, c.KeyRetention, c.KeyRotation = "https://login.example.be/sub?x", 0, time.Minute, time.Minute
	err := c.Validate()
	for _, want := range []string{"without a path", "code lifetime", "key retention", "key rotation"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

// TestDecide: when a session completes a request, when the citizen must log on, and when
// prompt=none answers login_required.
func TestDecide(t *testing.T) {
	t.Parallel()
	p, clk := newTestProvider(t, sqltest.SQLite(t), testConfig())
	now := clk.Now()
	c := store.Client{ID: "tax"}
	created := now.Add(-time.Minute)
	req := func(mutate func(*Request)) Request {
		r := Request{ID: "r", MinLevel: keys.LevelLow, CreatedAt: created, client: c}
		if mutate != nil {
			mutate(&r)
		}
		return r
	}
	low := Session{AccountID: 7, Level: keys.LevelLow, AuthTime: now.Add(-10 * time.Minute)}
	subs := Session{AccountID: 7, Level: keys.LevelSubstantial, AuthTime: now.Add(-10 * time.Minute)}
	fresh := func(s Session) Session { s.Fresh = true; return s }
	tests := []struct {
		name string
		r    Request
		s    Session
		want Decision
	}{
		{"nobody", req(nil), Session{}, Logon},
		{"nobody, prompt=none", req(func(r *Request) { r.PromptNone = true }), Session{}, LoginRequired},
		{"low meets low", req(nil), low, Complete},
		{"low below substantial: step up", req(func(r *Request) { r.MinLevel = keys.LevelSubstantial }), low, Logon},
		{"low below substantial, prompt=none", req(func(r *Request) { r.MinLevel = keys.LevelSubstantial; r.PromptNone = true }), low, LoginRequired},
		{"substantial meets low", req(nil), subs, Complete},
		{"prompt=login, logon before the request", req(func(r *Request) { r.PromptLogin = true }), low, Logon},
		{"prompt=login, logon for the request", req(func(r *Request) { r.PromptLogin = true }), fresh(low), Complete},
		{"prompt=login, a later logon on another node", req(func(r *Request) { r.PromptLogin = true }),
			Session{AccountID: 7, Level: keys.LevelLow, AuthTime: created.Add(time.Second)}, Complete},
		{"max_age passed", req(func(r *Request) { r.MaxAge, r.HasMaxAge = 5*time.Minute, true }), low, Logon},
		{"max_age passed, logon for the request", req(func(r *Request) { r.MaxAge, r.HasMaxAge = 5*time.Minute, true }), fresh(low), Complete},
		{"max_age not passed", req(func(r *Request) { r.MaxAge, r.HasMaxAge = time.Hour, true }), low, Complete},
		{"prompt=none, the hint's citizen", req(func(r *Request) { r.PromptNone = true; r.hintSubject = p.subject(c, 7) }), low, Complete},
		{"prompt=none, another citizen's hint", req(func(r *Request) { r.PromptNone = true; r.hintSubject = p.subject(c, 8) }), low, LoginRequired},
	}
	for _, tt := range tests {
		if got := p.Decide(tt.r, tt.s); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// pkce is a valid S256 challenge.
const pkce = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

// TestCompleteOnce: a request is completed once, whatever node or tab tries again.
func TestCompleteOnce(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		p, _ := newTestProvider(t, db, testConfig())
		c := store.Client{ID: "tax", Name: "Tax", RedirectURIs: []string{"https://tax.example.be/cb"}, Scopes: DefaultScopes, DefaultLevel: "low"}
		if err := db.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
		params := url.Values{"client_id": {"tax"}, "redirect_uri": {"https://tax.example.be/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "code_challenge": {pkce}, "code_challenge_method": {"S256"}, "state": {"s"}}
		target, err := p.Authorize(ctx, params, 0)
		if err != nil || !strings.HasPrefix(target, LoginPath+"?id=") {
			t.Fatalf("Authorize = %q, %v", target, err)
		}
		id := strings.TrimPrefix(target, LoginPath+"?id=")
		a := Authentication{AccountID: 7, Level: keys.LevelLow, AMR: []string{"pwd"}, AuthTime: p.now(), SessionID: "sid"}
		var wg sync.WaitGroup
		results := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := p.Complete(ctx, id, a)
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		ok, refused := 0, 0
		for err := range results {
			var pe *PageError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &pe):
				refused++
			default:
				t.Errorf("Complete: %v", err)
			}
		}
		if ok != 1 || refused != 3 {
			t.Errorf("%d completions succeeded and %d were refused, want 1 and 3", ok, refused)
		}
		// A logon below the request's level never completes it.
		target, err = p.Authorize(ctx, with(params, "acr_values", "http://eidas.europa.eu/LoA/substantial"), 0)
		if err != nil {
			t.Fatal(err)
		}
		id = strings.TrimPrefix(target, LoginPath+"?id=")
		if _, err := p.Complete(ctx, id, a); err == nil {
			t.Error("a low logon completed a substantial request")
		}
		a.Level = keys.LevelSubstantial
		if _, err := p.Complete(ctx, id, a); err != nil {
			t.Errorf("a substantial logon: %v", err)
		}
	})
}

func with(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for kk, vv := range v {
		out[kk] = vv
	}
	out.Set(k, val)
	return out
}

// TestAutomaticKeyRotation: the sweeper makes a new key when the newest is KeyRotation old,
// on one node only when several sweep at once, and removes a retired key after its retention.
func TestAutomaticKeyRotation(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		cfg := testConfig()
		p, clk := newTestProvider(t, db, cfg)
		if err := p.EnsureSigningKey(ctx); err != nil {
			t.Fatal(err)
		}
		first, err := p.keys.current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if ks, _ := db.ListSigningKeys(ctx); len(ks) != 1 {
			t.Fatalf("%d keys before the rotation is due", len(ks))
		}
		clk.Advance(cfg.KeyRotation)
		// Two nodes sweep at the same moment: one new key.
		other, _ := newTestProvider(t, db, cfg)
		other.now = clk.Now
		var wg sync.WaitGroup
		for _, node := range []*Provider{p, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := node.Sweep(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		ks, err := db.ListSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 || !ks[1].ActiveFrom.Equal(clk.Now().Add(2*cfg.JWKSMaxAge)) {
			t.Fatalf("%d keys after the rotation, want 2, the new one signing from %v", len(ks), clk.Now().Add(2*cfg.JWKSMaxAge))
		}
		if cur, _ := p.keys.current(ctx); cur.ID() != first.ID() {
			t.Error("the new key signs before its publication lead")
		}
		clk.Advance(2*cfg.JWKSMaxAge + cfg.KeyRetention - time.Second)
		if err := p.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if ks, _ := db.ListSigningKeys(ctx); len(ks) != 2 {
			t.Errorf("%d keys a second before the old key's retention ends, want 2", len(ks))
		}
		clk.Advance(time.Second)
		if err := p.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		ks, _ = db.ListSigningKeys(ctx)
		if len(ks) != 1 || ks[0].ID == first.ID() {
			t.Errorf("after the retention: %+v, want only the new key", ks)
		}
		if cur, err := p.keys.current(ctx); err != nil || cur.ID() != ks[0].ID {
			t.Errorf("current key %v, %v; want %s", cur, err, ks[0].ID)
		}
	})
}

// TestFirstKeyMadeElsewhere: a node that found no signing key (and cached that) and then
// finds that another request or node made the first one meanwhile signs with it — it once
// kept its cached "no key" and answered token requests with "no signing key is active".
func TestFirstKeyMadeElsewhere(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		p, _ := newTestProvider(t, db, testConfig())
		if ks, err := p.keys.all(ctx); err != nil || len(ks) != 0 {
			t.Fatalf("keys of a fresh database: %d, %v", len(ks), err)
		}
		other, _ := newTestProvider(t, db, testConfig())
		if err := other.EnsureSigningKey(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := p.keys.current(ctx); err != nil {
			t.Errorf("signing key after another node made the first: %v", err)
		}
	})
}
