package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/oidcop/acr"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// withOIDC mounts a real OpenID provider over the fixture's store, with the client "tax".
func withOIDC(t *testing.T) option {
	return func(c *Config, d *Deps) {
		kr, err := secrets.NewKeyring(rand.Reader, "k1", map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		h, err := secrets.NewHasher(bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		st := d.Store.(oidcop.Store)
		svc := d.Login
		p, err := oidcop.New(oidcop.Config{Issuer: c.BaseURL, ACR: acr.MustParse(acr.Default), CodeLifetime: time.Minute,
			TokenLifetime: 10 * time.Minute, RequestLifetime: 30 * time.Minute, JWKSMaxAge: 15 * time.Minute, KeyRetention: time.Hour},
			oidcop.Deps{Store: st, Sealer: kr, Hasher: h, Audit: audit.New(d.Now, nil), Now: d.Now, Rand: rand.Reader,
				Reachable: func(l keys.Level) bool { return len(svc.Choices(svc.Start(l, ""))) > 0 }})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = oidcop.AddClient(context.Background(), d.Store.(oidcop.ClientStore), rand.Reader, d.Now(), oidcop.ClientSpec{
			ID: "tax", Name: "Tax on web", RedirectURIs: []string{"https://tax.example/cb"}, PostLogoutRedirectURIs: []string{"https://tax.example/"}})
		if err != nil {
			t.Fatal(err)
		}
		d.OIDC = p
	}
}

var untranslatedOIDC = regexp.MustCompile(`\[(oidc|login)\.[a-z_.]+\]`)

// TestOIDCPagesInEveryLanguage: the pages of the OpenID provider — the errors that keep the
// citizen here, the page that sends them on, the logout confirmation — in every language.
func TestOIDCPagesInEveryLanguage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t), withOIDC(t))
	authorize := func(redirect string) string {
		return oidcop.AuthorizePath + "?" + url.Values{"client_id": {"tax"}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode()
	}
	for _, lang := range i18n.Languages() {
		p := f.bundle.Printer(lang)
		b := f.browser()
		b.cookies[langCookie] = lang
		check := func(what string, res *response, status int, want string) {
			t.Helper()
			if res.status != status {
				t.Errorf("%s %s: status %d, want %d", lang, what, res.status, status)
			}
			checkPage(t, lang+" "+what, lang, res.body)
			if m := untranslatedOIDC.FindString(res.body); m != "" {
				t.Errorf("%s %s: untranslated %s", lang, what, m)
			}
			if !strings.Contains(res.body, escapeHTML(want)) {
				t.Errorf("%s %s: page lacks %q", lang, what, want)
			}
			if loc := res.header.Get("Location"); loc != "" {
				t.Errorf("%s %s: redirects to %s", lang, what, loc)
			}
		}
		check("unknown client", b.get(oidcop.AuthorizePath+"?client_id=nope&redirect_uri=https://tax.example/cb"), 400, p.T("oidc.error.unknown_client"))
		check("unregistered redirect", b.get(authorize("https://evil.example/cb")), 400, p.T("oidc.error.redirect_uri"))
		check("no client", b.get(oidcop.AuthorizePath+"?redirect_uri=https://tax.example/cb"), 400, p.T("oidc.error.no_client"))
		check("unknown request", b.get(oidcop.LoginPath+"?id=nope"), 404, p.T("oidc.error.unknown_request"))
		check("bad logout", b.get(oidcop.EndSessionPath+"?client_id=tax&post_logout_redirect_uri=https://evil.example/"), 400, p.T("oidc.error.logout_redirect"))

		res := b.get(authorize("https://tax.example/cb"))
		wantStatus(t, "authorize", res, http.StatusFound)
		login := res.location()
		res = b.get(login)
		wantStatus(t, "oidc login", res, http.StatusSeeOther)
		ret := "/oidc/continue?id=" + strings.TrimPrefix(login, oidcop.LoginPath+"?id=")
		res = b.choose("password", "low", ret)
		wantStatus(t, "choose", res, http.StatusSeeOther)
		res = b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		if res.status != http.StatusSeeOther || res.location() != ret {
			t.Fatalf("%s: the logon went to %q, want %q", lang, res.location(), ret)
		}
		res = b.get(ret)
		check("continue", res, 200, p.T("oidc.continue.link", "Tax on web"))
		if ref := res.header.Get("Refresh"); !strings.HasPrefix(ref, "0; url=https://tax.example/cb?code=") {
			t.Errorf("%s continue: Refresh %q", lang, ref)
		}
		check("logout confirmation", b.get(oidcop.EndSessionPath+"?client_id=tax"), 200, p.T("oidc.logout.text_client", "Tax on web", "Sleutelbos"))
	}
}

// TestOIDCBoundStepUpInWeb: the logon the bridge starts for a logged-on citizen only accepts
// that citizen, and a completed request's page cannot complete it twice.
func TestOIDCBoundStepUpInWeb(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t), withOIDC(t))
	b := f.browser()
	b.logon()
	q := url.Values{"client_id": {"tax"}, "redirect_uri": {"https://tax.example/cb"}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"acr_values": {"http://eidas.europa.eu/LoA/substantial"}}
	res := b.get(oidcop.AuthorizePath + "?" + q.Encode())
	login := res.location()
	res = b.get(login)
	wantStatus(t, "step-up", res, http.StatusSeeOther)
	sess := f.loadSession(b)
	if sess.data.Login == nil || sess.data.Login.BoundAccountID != f.acct.ID || sess.data.Login.MinLevel != keys.LevelSubstantial {
		t.Fatalf("the step-up's logon = %+v, want bound to %d at substantial", sess.data.Login, f.acct.ID)
	}
	if sess.data.OIDC == nil || sess.data.OIDC.AuthTimeBefore.IsZero() {
		t.Errorf("pending request %+v", sess.data.OIDC)
	}
	// Complete it through the card, then try the continue page again.
	ret := sess.data.Login.Return
	wantStatus(t, "choose", b.choose("tokencard", "substantial", ret), http.StatusSeeOther)
	res = b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	wantStatus(t, "password", res, http.StatusSeeOther)
	pos := regexp.MustCompile(`number (\d+)`).FindStringSubmatch(b.get("/login/code").body)
	if pos == nil {
		t.Fatal("no card position")
	}
	n := 0
	for _, c := range pos[1] {
		n = n*10 + int(c-'0')
	}
	res = b.post("/login/code", url.Values{"code": {f.codes[n-1]}})
	if res.location() != ret {
		t.Fatalf("code: to %q, want %q", res.location(), ret)
	}
	wantStatus(t, "continue", b.get(ret), http.StatusOK)
	if res := b.get(ret); res.status != http.StatusNotFound {
		t.Errorf("the continue page a second time: status %d, want 404 (the request is done)", res.status)
	}
}

// TestOIDCLogonStartsPerAddress: a logon an online service starts creates a pre-logon session
// for a browser without one, like the chooser, so it takes one of the address's logon starts:
// over the quota the citizen gets the 429 page and no session row is written.
func TestOIDCLogonStartsPerAddress(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		const quota = 2
		f := newFixture(t, db, withOIDC(t), func(_ *Config, d *Deps) {
			q, err := attempts.NewQuota(db, quota, 15*time.Minute, d.Now)
			if err != nil {
				t.Fatal(err)
			}
			d.StartQuota = q
		})
		authorize := oidcop.AuthorizePath + "?" + url.Values{"client_id": {"tax"}, "redirect_uri": {"https://tax.example/cb"},
			"response_type": {"code"}, "scope": {"openid"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
			"code_challenge_method": {"S256"}}.Encode()
		for i := range quota + 2 {
			b := f.browser()
			res := b.get(authorize)
			wantStatus(t, "authorize", res, http.StatusFound)
			res = b.get(res.location())
			want := http.StatusSeeOther
			if i >= quota {
				want = http.StatusTooManyRequests
			}
			wantStatus(t, fmt.Sprintf("logon %d for the online service", i), res, want)
		}
		var n int
		if err := db.SQL().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != quota {
			t.Errorf("%d session rows after %d logons started by an online service, want %d", n, quota+2, quota)
		}
	})
}

// loadSession reads the browser's session as the server stored it.
func (f *fixture) loadSession(b *browser) *session {
	f.t.Helper()
	row, err := f.sessionRow(b.cookies[sessionCookie])
	if err != nil {
		f.t.Fatal(err)
	}
	s := &session{row: row}
	if err := json.Unmarshal(row.Data, &s.data); err != nil {
		f.t.Fatal(err)
	}
	return s
}
