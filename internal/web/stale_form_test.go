package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

var formTokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken returns the CSRF token the forms of the page at target carry, as a tab showing
// that page keeps it.
func (b *browser) formToken(target string) string {
	b.f.t.Helper()
	res := b.get(target)
	m := formTokenRE.FindStringSubmatch(res.body)
	if m == nil {
		b.f.t.Fatalf("no form on %s (status %d, Location %q)", target, res.status, res.location())
	}
	return html.UnescapeString(m[1])
}

// postWith sends form with the CSRF token tok, as a tab submits an old page's form.
func (b *browser) postWith(target, tok string, form url.Values) *response {
	b.f.t.Helper()
	form.Set(csrfField, tok)
	return b.do(http.MethodPost, target, form)
}

// TestStaleForms: a form of one of our pages whose session is gone — expired and cleared
// by another tab, ended — or is no longer the browser's — a logon completed in another tab —
// is answered with where the citizen stands and a notice in their language, never a 403, and
// is not acted on. A logged-on citizen goes to their page: after a logon form with a neutral
// notice, after another form with a warning that nothing was done.
func TestStaleForms(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		p := f.bundle.Printer("en")
		creds := func() url.Values { return url.Values{"username": {demoUser}, "password": {demoPassword}} }
		completed := `<p class="notice warning" role="alert">` + escapeHTML(p.T("login.error.completed_elsewhere")) + `</p>`

		t.Run("session expired and cleared by another tab", func(t *testing.T) {
			b := f.browser()
			b.choose("password", "low", "/")
			tok := b.formToken("/login/password")
			f.clock.Advance(16 * time.Minute)
			b.get("/login/password") // another tab: the expired session is deleted, its cookie cleared
			if _, ok := b.cookies[sessionCookie]; ok {
				t.Fatal("the expired session's cookie was not cleared")
			}
			res := b.postWith("/login/password", tok, creds())
			wantFlash(t, "stale password form", f, res, "/login", flashCompleted)
			wantContains(t, "chooser after the stale form", b.get(res.location()).body, completed)
			if _, ok := b.cookies[sessionCookie]; ok {
				t.Error("the stale form logged on")
			}
		})

		t.Run("session swept, cookie still sent", func(t *testing.T) {
			b := f.browser()
			b.choose("password", "low", "/")
			tok := b.formToken("/login/password")
			f.clock.Advance(16 * time.Minute)
			if err := f.srv.SweepSessions(context.Background()); err != nil {
				t.Fatal(err)
			}
			res := b.postWith("/login/password", tok, creds())
			wantFlash(t, "stale password form", f, res, "/login", flashCompleted)
		})

		t.Run("password form after the logon completed in another tab", func(t *testing.T) {
			b := f.browser()
			b.choose("password", "low", "/")
			tok := b.formToken("/login/password")
			b.logon() // the other tab
			res := b.postWith("/login/password", tok, creds())
			wantFlash(t, "stale password form", f, res, "/", flashCompletedHere)
			home := b.get("/")
			wantStatus(t, "home", home, http.StatusOK)
			wantContains(t, "home after the stale form", home.body,
				`<p class="notice" role="status">`+escapeHTML(p.T("login.notice.completed_here"))+`</p>`)
			if again := b.get("/"); strings.Contains(again.body, escapeHTML(p.T("login.notice.completed_here"))) {
				t.Error("the notice is shown again on reload")
			}
		})

		t.Run("code form after the logon completed in another tab", func(t *testing.T) {
			b := f.browser()
			right := b.codeStep()
			tok := b.formToken("/login/code")
			wantStatus(t, "right code in the other tab", b.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther)
			before := countEvents(t, db, audit.LogonSuccess)
			res := b.postWith("/login/code", tok, url.Values{"code": {right}})
			wantFlash(t, "stale code form", f, res, "/", flashCompletedHere)
			if after := countEvents(t, db, audit.LogonSuccess); after != before {
				t.Errorf("the stale code form recorded %d more logons", after-before)
			}
		})

		t.Run("a portal form from before a step-up", func(t *testing.T) {
			b := f.browser()
			b.logon()
			tok := b.formToken("/profile")
			right := b.codeStep() // a step-up in another tab rotates the session
			wantStatus(t, "step-up", b.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther)
			res := b.postWith("/profile/language", tok, url.Values{"language": {"fr"}})
			wantFlash(t, "stale profile form", f, res, "/", flashStaleForm)
			wantContains(t, "home after the stale form", b.get("/").body,
				`<p class="notice warning" role="alert">`+escapeHTML(p.T("login.notice.stale_form"))+`</p>`)
			if a, err := db.GetAccount(context.Background(), f.acct.ID); err != nil || a.Language != "en" {
				t.Errorf("the stale form changed the language: %q, %v", a.Language, err)
			}
		})

		t.Run("forgeries are still refused", func(t *testing.T) {
			victim, attacker := f.browser(), f.browser()
			victim.choose("password", "low", "/")
			attacker.choose("password", "low", "/")
			attackerTok := attacker.formToken("/login/password")
			attackerSession, _, _ := strings.Cut(attackerTok, ".")
			for name, tok := range map[string]string{
				"no token":                      "",
				"another browser's whole token": attackerTok,
				"a made-up browser part":        attackerSession + "." + strings.Repeat("A", 43),
				"garbage":                       "x.y",
			} {
				res := victim.postWith("/login/password", tok, creds())
				wantStatus(t, name, res, http.StatusForbidden)
			}
		})
	})
}

// countEvents counts the audit events of type typ.
func countEvents(t *testing.T, db *sqlstore.DB, typ string) int {
	t.Helper()
	evs, err := db.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}
