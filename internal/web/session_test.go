package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// loggedOn reports whether b's session is logged on (GET / shows the welcome page).
func (b *browser) loggedOn() bool {
	b.f.t.Helper()
	res := b.get("/")
	switch res.status {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		if res.location() != "/login" {
			b.f.t.Fatalf("GET / redirected to %q", res.location())
		}
		return false
	}
	b.f.t.Fatalf("GET /: status %d", res.status)
	return false
}

func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.logon()
		sid := b.cookies[sessionCookie]
		f.clock.Advance(14 * time.Minute)
		if !b.loggedOn() {
			t.Fatal("logged off after 14 idle minutes")
		}
		f.clock.Advance(14 * time.Minute)
		if !b.loggedOn() {
			t.Fatal("logged off 14 minutes after the last request")
		}
		f.clock.Advance(15 * time.Minute)
		if b.loggedOn() {
			t.Fatal("still logged on after 15 idle minutes")
		}
		if _, err := f.sessionRow(sid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session row: %v, want ErrNotFound", err)
		}
		if _, ok := b.cookies[sessionCookie]; ok {
			t.Error("the expired session's cookie was not cleared")
		}
	})
}

func TestSessionAbsoluteTimeout(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.logon()
		for elapsed := 10 * time.Minute; elapsed < 8*time.Hour; elapsed += 10 * time.Minute {
			f.clock.Advance(10 * time.Minute)
			if !b.loggedOn() {
				t.Fatalf("logged off after %s of activity", elapsed)
			}
		}
		f.clock.Advance(10 * time.Minute)
		if b.loggedOn() {
			t.Fatal("still logged on after 8 hours")
		}
	})
}

func TestSessionTouchedAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.logon()
		sid := b.cookies[sessionCookie]
		start := f.clock.Now()
		lastSeen := func() time.Time {
			t.Helper()
			row, err := f.sessionRow(sid)
			if err != nil {
				t.Fatal(err)
			}
			return row.LastSeenAt
		}
		f.clock.Advance(30 * time.Second)
		b.get("/")
		if got := lastSeen(); !got.Equal(start) {
			t.Errorf("after 30 s: LastSeenAt %v, want unchanged %v", got, start)
		}
		f.clock.Advance(31 * time.Second)
		b.get("/")
		if got := lastSeen(); !got.Equal(start.Add(61 * time.Second)) {
			t.Errorf("after 61 s: LastSeenAt %v, want %v", got, start.Add(61*time.Second))
		}
	})
}

func TestSessionRotatesAtLogon(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		for _, c := range b.get("/login").res.Cookies() {
			if c.Name == sessionCookie {
				t.Error("GET /login created a session")
			}
		}
		b.choose("password", "low", "/")
		before := b.cookies[sessionCookie]
		if before == "" {
			t.Fatal("choosing a key created no session")
		}
		row, err := f.sessionRow(before)
		if err != nil || row.AccountID != 0 {
			t.Fatalf("anonymous session row: %+v, %v", row, err)
		}
		res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		wantStatus(t, "logon", res, http.StatusSeeOther)
		after := b.cookies[sessionCookie]
		if after == "" || after == before {
			t.Fatalf("session id not rotated: before %q, after %q", before, after)
		}
		if _, err := f.sessionRow(before); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pre-logon session row: %v, want ErrNotFound", err)
		}
		row, err = f.sessionRow(after)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(after))
		if string(row.IDHash) != string(sum[:]) {
			t.Error("the store does not hold SHA-256 of the id")
		}
		if row.AccountID != f.acct.ID || row.LoA != "low" || len(row.AMR) == 0 || !row.AuthTime.Equal(f.clock.Now()) {
			t.Errorf("logged-on session row: %+v", row)
		}

		// The old id is worthless: a fixation attacker holding it is not logged on.
		attacker := f.browser()
		attacker.cookies[sessionCookie] = before
		if attacker.loggedOn() {
			t.Error("the pre-logon session id is logged on")
		}
		if !b.loggedOn() {
			t.Error("the new session id is not logged on")
		}
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.logon()
		sid := b.cookies[sessionCookie]
		wantStatus(t, "logout without token", b.do("POST", "/logout", url.Values{}), http.StatusForbidden)
		if !b.loggedOn() {
			t.Fatal("a logout without CSRF token logged off")
		}
		res := b.post("/logout", nil)
		wantStatus(t, "logout", res, http.StatusSeeOther)
		if res.location() != "/login" {
			t.Errorf("logout redirects to %q", res.location())
		}
		if _, ok := b.cookies[sessionCookie]; ok {
			t.Error("logout did not clear the cookie")
		}
		if _, err := f.sessionRow(sid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session row after logout: %v", err)
		}
		page := b.get("/login")
		if !strings.Contains(page.body, "Log on to online public services") {
			t.Error("the logon page after sign-out lacks its title")
		}
		replay := f.browser()
		replay.cookies[sessionCookie] = sid
		if replay.loggedOn() {
			t.Error("the logged-out session id still works")
		}
	})
}

func TestSweepSessions(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		old, fresh := f.browser(), f.browser()
		old.logon()
		f.clock.Advance(10 * time.Minute)
		fresh.logon()
		f.clock.Advance(6 * time.Minute)
		if err := f.srv.SweepSessions(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.sessionRow(old.cookies[sessionCookie]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("idle session after sweep: %v", err)
		}
		if _, err := f.sessionRow(fresh.cookies[sessionCookie]); err != nil {
			t.Errorf("live session after sweep: %v", err)
		}
	})
}

func TestForgedSessionCookies(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		for _, v := range []string{"x", "not-base64-!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			b := f.browser()
			b.cookies[sessionCookie] = v
			if b.loggedOn() {
				t.Errorf("cookie %q is logged on", v)
			}
		}
	})
}

// TestSessionKeepsNoTypedCredentials: what is typed as the username is sometimes a password, so
// the session row (the logon transaction in it) never holds it — after a failed password step
// nor after a correct one — and never the password. Only the account id of a correct password
// is kept, and after "other key" the form offers that account's username again.
func TestSessionKeepsNoTypedCredentials(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		rowData := func(what string) string {
			t.Helper()
			row, err := f.sessionRow(b.cookies[sessionCookie])
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return strings.ToLower(string(row.Data))
		}
		wantAbsent := func(what, data string, typed ...string) {
			t.Helper()
			for _, s := range typed {
				if strings.Contains(data, strings.ToLower(s)) {
					t.Errorf("%s: the session row holds %q: %s", what, s, data)
				}
			}
		}

		b.choose("tokencard", "substantial", "/")
		typedUser, typedPassword := "Correct-Horse-As-Username-7", "not-the-password-8"
		res := b.post("/login/password", url.Values{"username": {typedUser}, "password": {typedPassword}})
		wantStatus(t, "failed password step", res, http.StatusOK)
		wantContains(t, "failed password step", res.body, `value="`+typedUser+`"`) // shown back, from the form
		wantAbsent("after a failed password step", rowData("failed"), typedUser, typedPassword)

		res = b.post("/login/password", url.Values{"username": {"DEMO"}, "password": {demoPassword}})
		wantStatus(t, "correct password step", res, http.StatusSeeOther)
		wantAbsent("after a correct password step", rowData("correct"), "DEMO", demoPassword, typedUser, typedPassword)

		// "Other key", then a kind again: the form offers the account's own username.
		b.choose("emailcode", "substantial", "/")
		page := b.get("/login/password")
		wantStatus(t, "password step again", page, http.StatusOK)
		wantContains(t, "password step again", page.body, `value="`+demoUser+`"`)
		wantAbsent("after choosing again", rowData("again"), "DEMO", demoPassword)
	})
}

// TestLogonStartsPerAddress: every logon started without a session creates a pre-logon session
// row, so one address may start only so many per window; over that it gets a 429 page saying
// how long to wait, and no row. A browser that has a session reuses it and counts nothing, and
// other addresses are not affected.
func TestLogonStartsPerAddress(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		const quota, extra = 3, 4
		f := newFixture(t, db, func(_ *Config, d *Deps) {
			q, err := attempts.NewQuota(db, quota, 15*time.Minute, d.Now)
			if err != nil {
				t.Fatal(err)
			}
			d.StartQuota = q
		})
		rows := func() int {
			t.Helper()
			var n int
			if err := db.SQL().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// One browser choosing again and again keeps its one session.
		b := f.browser()
		for range quota + extra {
			wantStatus(t, "choose with a session", b.choose("tokencard", "substantial", "/"), http.StatusSeeOther)
		}
		if n := rows(); n != 1 {
			t.Fatalf("one browser choosing %d times made %d session rows, want 1", quota+extra, n)
		}
		// Browsers without cookies from the same address: the quota's rest, then 429.
		f.clock.Advance(2 * time.Minute) // 10:02: the window ends at 10:15
		refused := 0
		for i := range quota + extra {
			res := f.browser().choose("password", "low", "/")
			switch res.status {
			case http.StatusSeeOther:
			case http.StatusTooManyRequests:
				refused++
				want := f.bundle.Printer("en").T("web.login.too_many_starts", 13)
				wantContains(t, "429 page", res.body, `role="alert">`+escapeHTML(want)+`</p>`)
				if res.header.Get("Retry-After") != "780" {
					t.Errorf("Retry-After %q, want 780 seconds", res.header.Get("Retry-After"))
				}
				if _, ok := res.header["Set-Cookie"]; ok && strings.Contains(strings.Join(res.header["Set-Cookie"], ";"), sessionCookie+"=") {
					t.Errorf("request %d: a refused start set a session cookie", i)
				}
			default:
				t.Fatalf("request %d: status %d", i, res.status)
			}
		}
		if n := rows(); n != quota {
			t.Errorf("%d session rows after %d starts from one address, want %d", n, quota+extra, quota)
		}
		if refused != extra+1 {
			t.Errorf("%d starts refused, want %d", refused, extra+1)
		}
		// Another address is not affected.
		other := f.browser()
		other.remote = "198.51.100.20:5555"
		wantStatus(t, "another address", other.choose("password", "low", "/"), http.StatusSeeOther)
		// The next window allows starts again.
		f.clock.Advance(13 * time.Minute)
		wantStatus(t, "next window", f.browser().choose("password", "low", "/"), http.StatusSeeOther)
	})
}
