package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// wantContains fails for every want that body lacks.
func wantContains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %s", what, w)
		}
	}
	if t.Failed() {
		t.Logf("%s:\n%s", what, body)
	}
}

func TestPasswordLogon(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		res := b.get("/")
		wantStatus(t, "GET / logged off", res, http.StatusSeeOther)
		if res.location() != "/login" {
			t.Errorf("GET / redirects to %q", res.location())
		}

		res = b.get("/login")
		wantStatus(t, "chooser", res, http.StatusOK)
		wantContains(t, "chooser", res.body,
			"<title>Log on to online public services – Sleutelbos</title>",
			`<form method="post" action="/login/choose"`,
			`<button type="submit" name="kind" value="password" id="kind-password" aria-describedby="key-password-desc">Username and password</button>`,
			`name="kind" value="tokencard"`, `name="kind" value="emailcode"`,
			`<input type="hidden" name="return" value="/">`)

		res = b.choose("password", "low", "/")
		wantStatus(t, "choose", res, http.StatusSeeOther)
		if res.location() != "/login/password" {
			t.Fatalf("choose redirects to %q", res.location())
		}
		res = b.get("/login/password")
		wantStatus(t, "password page", res, http.StatusOK)
		wantContains(t, "password page", res.body,
			"<h1>Logging in with username and password</h1>",
			"Enter your username and password", "Click Next",
			`<label for="username">Username</label>`, `name="username"`, `autocomplete="username"`,
			`<label for="password">Password</label>`, `name="password" type="password"`,
			`<a href="/help/forgot">Forgot your username and/or password?</a>`,
			`<button type="submit">Next</button>`,
			`<a href="/login">Log on with another digital key</a>`)
		if n := strings.Count(res.body, `type="submit"`); n != 1 {
			t.Errorf("password page has %d submit buttons, want 1", n)
		}

		res = b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		wantStatus(t, "logon", res, http.StatusSeeOther)
		if res.location() != "/" {
			t.Errorf("logon redirects to %q", res.location())
		}
		res = b.get("/")
		wantStatus(t, "welcome", res, http.StatusOK)
		wantContains(t, "welcome page", res.body,
			"<h1>Welcome, Demo Citizen</h1>",
			"You are logged on with your digital key “Username and password”.",
			"Level of assurance reached: low.",
			`<form method="post" action="/logout" class="signout">`, "Sign out")

		// The chooser still works when logged on, and the logon page after sign-out.
		wantStatus(t, "chooser when logged on", b.get("/login"), http.StatusOK)
		res = b.post("/logout", nil)
		wantStatus(t, "sign out", res, http.StatusSeeOther)
		wantContains(t, "logon page after sign-out", b.get(res.location()).body, "Log on to online public services")
	})
}

// errorLinkRE finds the message of the error summary's first link.
var errorLinkRE = regexp.MustCompile(`<li><a href="#[a-z-]+">([^<]*)</a></li>`)

func TestSameMessageForUnknownUserAndWrongPassword(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		attempt := func(username, password string) (*response, string) {
			t.Helper()
			b := f.browser()
			b.choose("password", "low", "/")
			res := b.post("/login/password", url.Values{"username": {username}, "password": {password}})
			m := errorLinkRE.FindStringSubmatch(res.body)
			if m == nil {
				t.Fatalf("%s/%s: no error message; status %d:\n%s", username, password, res.status, res.body)
			}
			if strings.Contains(res.body, password) {
				t.Errorf("%s: the page repeats the password", username)
			}
			if !strings.Contains(res.body, `value="`+username+`"`) {
				t.Errorf("%s: the username field lost its value", username)
			}
			if _, ok := b.cookies[sessionCookie]; !ok || b.loggedOn() {
				t.Errorf("%s: logged on after a failure", username)
			}
			return res, m[1]
		}
		unknownRes, unknown := attempt("nobody-here", "whatever-password-1")
		wrongRes, wrong := attempt(demoUser, "wrong-password-1")
		if unknown != wrong || unknownRes.status != wrongRes.status {
			t.Errorf("unknown user: %d %q; wrong password: %d %q", unknownRes.status, unknown, wrongRes.status, wrong)
		}
		if want := f.bundle.Printer("en").T("login.error.bad_credentials"); wrong != escapeHTML(want) {
			t.Errorf("message %q, want %q", wrong, want)
		}
	})
}

var cardPositionRE = regexp.MustCompile(`Enter the security code number (\d+) of your card`)

func TestTokenCardLogon(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		chooser := b.get("/login?level=substantial&return=/after").body
		if strings.Contains(chooser, `value="password"`) || !strings.Contains(chooser, `value="tokencard"`) {
			t.Errorf("substantial chooser offers the wrong kinds:\n%s", chooser)
		}
		wantContains(t, "chooser", chooser, `name="level" value="substantial"`, `name="return" value="/after"`)
		b.choose("tokencard", "substantial", "/after")
		res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		wantStatus(t, "password", res, http.StatusSeeOther)
		if res.location() != "/login/code" {
			t.Fatalf("password step redirects to %q", res.location())
		}
		page := b.get("/login/code").body
		wantContains(t, "code page", page,
			"<h1>Logging in with security code via token</h1>",
			"<li><p class=\"step\">Take your personal paper card (token) in hand</p></li>",
			`name="code"`, `autocomplete="one-time-code"`, `inputmode="numeric"`, "Click Next",
			`<button type="submit">Next</button>`, `href="/login?level=substantial&amp;return=%2Fafter"`)
		m := cardPositionRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no card position on the code page")
		}
		pos, _ := strconv.Atoi(m[1])

		res = b.post("/login/code", url.Values{"code": {"000001"}})
		wantStatus(t, "wrong code", res, http.StatusOK)
		wantFormError(t, f, "wrong code page", "en", res.body, "code", f.bundle.Printer("en").T("login.error.wrong_code"))

		res = b.post("/login/code", url.Values{"code": {f.codes[pos-1]}})
		wantStatus(t, "right code", res, http.StatusSeeOther)
		if res.location() != "/after" {
			t.Errorf("logon redirects to %q, want the return path", res.location())
		}
		wantContains(t, "welcome", b.get("/").body, "Level of assurance reached: substantial.", "“Security code via token”")
		row, err := f.sessionRow(b.cookies[sessionCookie])
		if err != nil || row.LoA != "substantial" || !strings.Contains(strings.Join(row.AMR, ","), "mfa") {
			t.Errorf("session %+v, %v", row, err)
		}
	})
}

func TestStepUpRotatesSession(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.logon()
		low := b.cookies[sessionCookie]
		b.choose("tokencard", "substantial", "/")
		if b.cookies[sessionCookie] != low {
			t.Fatal("choosing a key changed the session id")
		}
		b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		m := cardPositionRE.FindStringSubmatch(b.get("/login/code").body)
		if m == nil {
			t.Fatal("no card position")
		}
		pos, _ := strconv.Atoi(m[1])
		wantStatus(t, "code", b.post("/login/code", url.Values{"code": {f.codes[pos-1]}}), http.StatusSeeOther)
		if b.cookies[sessionCookie] == low {
			t.Error("the session id did not change with the level of assurance")
		}
		old := f.browser()
		old.cookies[sessionCookie] = low
		if old.loggedOn() {
			t.Error("the low-level session id still works")
		}
	})
}

func TestNoActiveKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		ks, err := db.ListKeys(ctx, f.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if k.Kind == keys.TokenCard {
				if err := db.SetKeyStatus(ctx, k.ID, store.KeyDeactivated, "migration", f.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
		}
		b := f.browser()
		b.choose("tokencard", "substantial", "/")
		res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		wantStatus(t, "no key", res, http.StatusOK)
		p := f.bundle.Printer("en")
		want := p.T("login.error.no_key", i18n.Msg("key.tokencard.short"))
		wantFormError(t, f, "no key page", "en", res.body, "kind-tokencard", want)
		if b.loggedOn() {
			t.Error("logged on without a key")
		}
	})
}

func TestEmailCodeResend(t *testing.T) {
	t.Parallel()
	eachStore(t, testEmailCodeResend)
}

func testEmailCodeResend(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	b := f.browser()
	b.choose("emailcode", "substantial", "/")
	b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	page := b.get("/login/code").body
	en := f.bundle.Printer("en")
	wantContains(t, "e-mail code page", page, `<form method="post" action="/login/resend" class="resend">`, "Send a new code",
		// Where the code went, masked, and where else to look.
		escapeHTML(en.T("login.emailcode.prompt", "d•••@example.org", "5")), escapeHTML(en.T("login.emailcode.hint")))
	if strings.Contains(page, "demo@example.org") {
		t.Error("the code page shows the whole e-mail address")
	}
	f.clock.Advance(time.Minute)
	res := b.post("/login/resend", nil)
	wantStatus(t, "resend", res, http.StatusSeeOther)
	if res.location() != "/login/code?sent=1" {
		t.Errorf("resend redirects to %q", res.location())
	}
	wantContains(t, "after resend", b.get(res.location()).body, `<p class="notice" role="status">A new code has been sent.</p>`)
	// The limit (3 codes per 15 minutes) shows on the code page, with the wait: codes went at
	// 0, 1 and 2 minutes; at 3 the first leaves the window in 12.
	f.clock.Advance(time.Minute)
	wantStatus(t, "third code", b.post("/login/resend", nil), http.StatusSeeOther)
	f.clock.Advance(time.Minute)
	res = b.post("/login/resend", nil)
	wantStatus(t, "resend over the limit", res, http.StatusOK)
	wantFormError(t, f, "resend over the limit", "en", res.body, "code", en.T("login.error.resend_wait", 12))
	wantContains(t, "resend over the limit", res.body, `name="code"`) // the code sent last still works
}

// TestEmailCodeLimitAfterPassword: when the code limit is reached right after a correct
// password, the citizen stays at the code step — told how long to wait, with "send a new code"
// and another key — instead of retyping the password, and goes on once the wait is over.
func TestEmailCodeLimitAfterPassword(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		en := f.bundle.Printer("en")
		for range 3 { // three logons, one code each, at 0, 1 and 2 minutes
			b := f.browser()
			b.choose("emailcode", "substantial", "/")
			wantStatus(t, "password", b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}}), http.StatusSeeOther)
			f.clock.Advance(time.Minute)
		}
		b := f.browser()
		b.choose("emailcode", "substantial", "/")
		res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		wantStatus(t, "password over the code limit", res, http.StatusOK)
		// The error is about the whole step (there is no code field to link to).
		wantContains(t, "password over the code limit", res.body,
			"<h1>"+escapeHTML(en.T("web.login.with", en.T("key.emailcode.short")))+"</h1>",
			`<li>`+escapeHTML(en.T("login.error.resend_wait", 12))+`</li>`, `id="error-summary"`,
			`<form method="post" action="/login/resend" class="resend">`, escapeHTML(en.T("web.login.other_key")))
		for _, not := range []string{`name="code"`, `name="password"`} {
			if strings.Contains(res.body, not) {
				t.Errorf("the waiting code step has %s", not)
			}
		}
		// Reloaded later, the page says how long is left; then that a code can be requested.
		f.clock.Advance(10 * time.Minute)
		wantContains(t, "waiting, 2 minutes left", b.get("/login/code").body,
			`<p class="notice warning" role="alert">`+escapeHTML(en.T("login.error.resend_wait", 2))+`</p>`)
		f.clock.Advance(2 * time.Minute)
		wantContains(t, "wait over", b.get("/login/code").body, `<p class="notice" role="status">`+escapeHTML(en.T("web.login.code.resend_now")))
		f.clock.Advance(time.Second)
		res = b.post("/login/resend", nil)
		wantStatus(t, "send a new code", res, http.StatusSeeOther)
		wantContains(t, "new code sent", b.get(res.location()).body, `name="code"`, escapeHTML(en.T("web.login.code.resent")))
		msgs, err := db.ListMessages(context.Background(), 1)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("outbox: %v", err)
		}
		code := regexp.MustCompile(`\b\d{6}\b`).FindString(msgs[0].TextBody)
		wantStatus(t, "the new code", b.post("/login/code", url.Values{"code": {code}}), http.StatusSeeOther)
		if !b.loggedOn() {
			t.Error("not logged on with the code sent after the wait")
		}
	})
}

// expiredNoticeRE finds the "logon expired" notice in any styling.
var expiredNoticeRE = regexp.MustCompile(`<p class="([^"]*)" role="([a-z]+)">Your logon took too long`)

func TestLogonTransactionExpires(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, func(c *Config, _ *Deps) { c.SessionIdle = time.Hour })
		b := f.browser()
		b.choose("tokencard", "substantial", "/x")
		f.clock.Advance(16 * time.Minute)
		res := b.get("/login/password")
		wantStatus(t, "expired transaction", res, http.StatusSeeOther)
		if want := "/login?level=substantial&return=%2Fx"; res.location() != want {
			t.Errorf("redirect to %q, want %q", res.location(), want)
		}
		page := b.get(res.location()).body
		m := expiredNoticeRE.FindStringSubmatch(page)
		if m == nil || m[1] != "notice warning" || m[2] != "alert" {
			t.Errorf("chooser after expiry: expired notice %v, want a warning:\n%s", m, page)
		}
		// Shown once: a reload (or Back to it later) does not repeat it.
		if page := b.get(res.location()).body; expiredNoticeRE.MatchString(page) {
			t.Errorf("the expired notice shows again on reload:\n%s", page)
		}
		// A posted step of an expired logon restarts it too.
		b.choose("password", "low", "/")
		f.clock.Advance(16 * time.Minute)
		res = b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		wantStatus(t, "expired post", res, http.StatusSeeOther)
		if res.location() != "/login" {
			t.Errorf("redirect to %q", res.location())
		}
		if !expiredNoticeRE.MatchString(b.get("/login").body) {
			t.Error("no expired notice after an expired POST")
		}
		if b.loggedOn() {
			t.Error("an expired logon logged on")
		}
	})
}

// TestLogonExpiresWithItsSession: with the default timeouts the session's idle timeout ends a
// slow logon's session too; the chooser still says the logon expired, and keeps its level.
func TestLogonExpiresWithItsSession(t *testing.T) {
	t.Parallel()
	eachStore(t, testLogonExpiresWithItsSession)
}

func testLogonExpiresWithItsSession(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	b := f.browser()
	b.choose("tokencard", "substantial", "/x")
	f.clock.Advance(20 * time.Minute)
	res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	wantStatus(t, "step of an expired session", res, http.StatusSeeOther)
	if want := "/login?level=substantial&return=%2Fx"; res.location() != want {
		t.Errorf("redirect to %q, want %q", res.location(), want)
	}
	if !expiredNoticeRE.MatchString(b.get(res.location()).body) {
		t.Error("no expired notice after the session of the logon expired")
	}
}

// TestNoMisleadingNotices: visiting a step with no logon in progress, or pressing Back after a
// logon, never says the logon expired; a logged-on citizen goes to their page.
func TestNoMisleadingNotices(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		steps := []string{"/login/password", "/login/code"}
		check := func(what string, b *browser, want string) {
			t.Helper()
			for _, p := range steps {
				res := b.get(p)
				if res.status != http.StatusSeeOther || res.location() != want {
					t.Errorf("%s: GET %s: %d %q, want 303 %q", what, p, res.status, res.location(), want)
					continue
				}
				page := b.get(res.location()).body
				if expiredNoticeRE.MatchString(page) || strings.Contains(page, `class="notice`) {
					t.Errorf("%s: GET %s leads to a page with a notice:\n%s", what, p, page)
				}
			}
		}
		// No session at all.
		check("no session", f.browser(), "/login")
		// A session whose logon went back to the chooser (no step to show).
		b := f.browser()
		b.choose("password", "low", "/")
		b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		check("logged on", b, "/")
		// Back after a logon with a code: the code page and the password page lead home.
		c := f.browser()
		c.choose("tokencard", "substantial", "/")
		c.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		m := cardPositionRE.FindStringSubmatch(c.get("/login/code").body)
		if m == nil {
			t.Fatal("no card position")
		}
		pos, _ := strconv.Atoi(m[1])
		wantStatus(t, "code", c.post("/login/code", url.Values{"code": {f.codes[pos-1]}}), http.StatusSeeOther)
		check("Back after a token card logon", c, "/")
		// After signing out (and seeing that confirmed), the steps lead to the chooser, without
		// an expired notice.
		c.post("/logout", nil)
		if page := c.get("/login").body; !strings.Contains(page, `<p class="notice" role="status">You have signed out.</p>`) {
			t.Errorf("no sign-out confirmation:\n%s", page)
		}
		check("signed out", c, "/login")
		// A notice parameter in a link shows nothing.
		page := f.browser().get("/login?notice=expired").body
		if expiredNoticeRE.MatchString(page) {
			t.Errorf("?notice=expired shows the expired notice:\n%s", page)
		}
	})
}

func TestChooserParameters(t *testing.T) {
	t.Parallel()
	eachStore(t, testChooserParameters)
}

func testChooserParameters(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	b := f.browser()
	wantStatus(t, "unknown level", b.get("/login?level=medium"), http.StatusBadRequest)
	wantContains(t, "high level", b.get("/login?level=high").body,
		`<p class="notice warning">`+escapeHTML(f.bundle.Printer("en").T("web.login.choose.none"))+`</p>`,
		escapeHTML(f.bundle.Printer("en").T("web.login.choose.none_next")), `<a href="/help/forgot">Help with logging on</a>`)
	wantContains(t, "foreign return", b.get("/login?return=//evil.example/x").body, `name="return" value="/"`)
	res := b.choose("nonsense", "low", "/")
	wantStatus(t, "unknown kind", res, http.StatusOK)
	wantFormError(t, f, "unknown kind", "en", res.body, "kind-password", f.bundle.Printer("en").T("login.error.unknown_kind"))
	// A foreign return path never leaves the site after logon.
	b.choose("password", "low", "https://evil.example/")
	res = b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	if res.location() != "/" {
		t.Errorf("logon with a foreign return path redirects to %q", res.location())
	}
}
