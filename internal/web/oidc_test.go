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
				Reachable: func(l keys.Level) bool { return len(svc.Choices(svc.Start(l, ""))) > 0 }, Quota: d.StartQuota})
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
	// The request is done: a page that says so and leads back to the online service.
	res = b.get(ret)
	wantStatus(t, "the continue page a second time", res, http.StatusGone)
	wantContains(t, "the continue page a second time", res.body, escapeHTML(f.bundle.Printer("en").T("oidc.error.unknown_request")),
		`<a class="continue" href="https://tax.example/">Back to Tax on web</a>`)
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

// TestSidGivenAtLogon: a session's sid (the online services' name for it) is in the row the
// logon's rotation writes — so no later request can race to give it one, or drop it — and
// stays through a step-up of the same citizen, who keeps the session; another citizen logging
// on in the browser gets another.
func TestSidGivenAtLogon(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.logon()
		sid := f.loadSession(b).data.SID
		if sid == "" {
			t.Fatal("a logged-on session has no sid")
		}
		right := b.codeStep()
		wantStatus(t, "step-up", b.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther)
		s := f.loadSession(b)
		if s.row.LoA != "substantial" || s.data.SID != sid {
			t.Errorf("after the step-up: level %s, sid %q; want substantial and the sid %q", s.row.LoA, s.data.SID, sid)
		}
	})
}

// TestOIDCRequestGone: /oidc/continue and /oidc/login for a request that can no longer be
// used give a page in the citizen's language with a way back to the online service — the
// request's, or the registered client the continue address names — never a bare 404; an
// address naming no registered client links to the start page, never elsewhere.
func TestOIDCRequestGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t), withOIDC(t))
	for _, lang := range i18n.Languages() {
		p := f.bundle.Printer(lang)
		b := f.browser()
		b.cookies[langCookie] = lang
		back := `<a class="continue" href="https://tax.example/">` + escapeHTML(p.T("oidc.gone.back", "Tax on web")) + `</a>`
		home := `<a href="/">` + escapeHTML(p.T("web.error.home")) + `</a>`
		for _, tc := range []struct {
			what, target string
			status       int
			link         string
		}{
			{"continue, request swept, client named", oidcContinuePath + "?id=gone&client=tax", http.StatusGone, back},
			{"continue, no client", oidcContinuePath + "?id=gone", http.StatusNotFound, home},
			{"continue, unregistered client", oidcContinuePath + "?id=gone&client=evil", http.StatusNotFound, home},
			{"login, unknown request", oidcop.LoginPath + "?id=gone", http.StatusNotFound, home},
		} {
			res := b.get(tc.target)
			wantStatus(t, lang+" "+tc.what, res, tc.status)
			checkPage(t, lang+" "+tc.what, lang, res.body)
			wantContains(t, lang+" "+tc.what, res.body, "<h1>"+escapeHTML(p.T("oidc.gone.title"))+"</h1>",
				escapeHTML(p.T("oidc.error.unknown_request")), tc.link)
			if m := untranslatedOIDC.FindString(res.body); m != "" {
				t.Errorf("%s %s: untranslated %s", lang, tc.what, m)
			}
			if tc.link == home && strings.Contains(res.body, "tax.example") {
				t.Errorf("%s %s: links to an online service it does not know", lang, tc.what)
			}
		}
	}
}

// TestOIDCAuthorizeQuota: every authorization request that passes its checks is a stored row,
// so one address may make only the logon starts' quota of them: beyond it the online service
// is told temporarily_unavailable (with the state) and nothing is written. Parameters beyond
// their bounds are refused with invalid_request, also writing nothing, and cost no quota.
func TestOIDCAuthorizeQuota(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		const quota = 2
		f := newFixture(t, db, func(_ *Config, d *Deps) {
			q, err := attempts.NewQuota(db, quota, 15*time.Minute, d.Now)
			if err != nil {
				t.Fatal(err)
			}
			d.StartQuota = q // the provider withOIDC builds takes this one
		}, withOIDC(t))
		good := func() url.Values {
			return url.Values{"client_id": {"tax"}, "redirect_uri": {"https://tax.example/cb"}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"s1"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
				"code_challenge_method": {"S256"}}
		}
		rows := func() int {
			t.Helper()
			var n int
			if err := db.SQL().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM oidc_auth_requests`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		oauthError := func(res *response) (code, state string) {
			u, err := url.Parse(res.location())
			if err != nil || !strings.HasPrefix(res.location(), "https://tax.example/cb?") {
				return "", ""
			}
			return u.Query().Get("error"), u.Query().Get("state")
		}
		b := f.browser()
		// Out of bounds: refused, nothing written, no quota spent.
		for name, q := range map[string]url.Values{
			"11 acr_values":       withParam(good(), "acr_values", []string{strings.TrimSpace(strings.Repeat("http://eidas.europa.eu/LoA/low ", 11))}),
			"a long acr value":    withParam(good(), "acr_values", []string{"http://eidas.europa.eu/LoA/" + strings.Repeat("x", 300)}),
			"a long ui_locales":   withParam(good(), "ui_locales", []string{"nl-" + strings.Repeat("x", 40)}),
			"an oversized state":  withParam(good(), "state", []string{strings.Repeat("s", 1100)}),
			"a long login_hint":   withParam(good(), "login_hint", []string{strings.Repeat("h", 3000)}),
			"an oversized nonce":  withParam(good(), "nonce", []string{strings.Repeat("n", 600)}),
			"a long scope string": withParam(good(), "scope", []string{"openid" + strings.Repeat(" profile", 300)}),
		} {
			res := b.get(oidcop.AuthorizePath + "?" + q.Encode())
			if code, _ := oauthError(res); res.status != http.StatusFound || (code != oidcop.ErrInvalidRequest && code != oidcop.ErrInvalidScope) {
				t.Errorf("%s: %d to %q, want invalid_request", name, res.status, res.location())
			}
		}
		if n := rows(); n != 0 {
			t.Fatalf("%d requests stored for refused requests, want none", n)
		}
		for i := range quota + 3 {
			res := b.get(oidcop.AuthorizePath + "?" + good().Encode())
			code, state := oauthError(res)
			switch {
			case i < quota && (res.status != http.StatusFound || !strings.HasPrefix(res.location(), oidcop.LoginPath+"?id=")):
				t.Errorf("request %d: %d to %q, want the logon", i, res.status, res.location())
			case i >= quota && (res.status != http.StatusFound || code != oidcop.ErrTemporarilyUnavailable || state != "s1"):
				t.Errorf("request %d over the quota: %d to %q, want temporarily_unavailable with the state", i, res.status, res.location())
			}
		}
		if n := rows(); n != quota {
			t.Errorf("%d requests stored, want the quota's %d", n, quota)
		}
		// Another address has its own share.
		other := f.browser()
		other.remote = "198.51.100.7:40000"
		if res := other.get(oidcop.AuthorizePath + "?" + good().Encode()); !strings.HasPrefix(res.location(), oidcop.LoginPath+"?id=") {
			t.Errorf("another address: %d to %q, want the logon", res.status, res.location())
		}
	})
}

// withParam returns v with name set to vs.
func withParam(v url.Values, name string, vs []string) url.Values {
	v[name] = vs
	return v
}
