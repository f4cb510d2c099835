package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// vanishingStore is the real store, except that once armed, the next session it hands out is
// deleted right after it was read: what a request sees when another request, sent at the same
// time with the same cookie, rotates or ends the session while it runs.
type vanishingStore struct {
	*sqlstore.DB
	armed atomic.Bool
}

func (v *vanishingStore) GetSession(ctx context.Context, idHash []byte) (store.Session, error) {
	row, err := v.DB.GetSession(ctx, idHash)
	if err == nil && v.armed.CompareAndSwap(true, false) {
		if err := v.DB.DeleteSession(ctx, idHash); err != nil {
			return store.Session{}, err
		}
	}
	return row, err
}

// codeStep starts a token card logon and returns the right code for the position asked.
func (b *browser) codeStep() string {
	b.f.t.Helper()
	b.choose("tokencard", "substantial", "/after")
	res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	wantStatus(b.f.t, "password", res, http.StatusSeeOther)
	m := cardPositionRE.FindStringSubmatch(b.get("/login/code").body)
	if m == nil {
		b.f.t.Fatal("no card position on the code page")
	}
	pos, _ := strconv.Atoi(m[1])
	return b.f.codes[pos-1]
}

// TestSessionGoneMidRequest: a step whose session row vanishes while it runs (another request
// completed the logon or logged off) answers with the chooser and a notice — never a 500 — and
// a right code then completes nothing: no session, no logon.success.
func TestSessionGoneMidRequest(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		v := &vanishingStore{DB: db}
		f := newFixture(t, db, func(_ *Config, d *Deps) { d.Store = v })
		p := f.bundle.Printer("en")
		want := "/login?level=substantial&return=%2Fafter"

		for _, tc := range []struct {
			name string
			code func(right string) string
		}{
			{"wrong code (the session is saved)", wrongCardCode},
			{"right code (the session is rotated)", func(right string) string { return right }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := f.browser()
				right := b.codeStep()
				sid := b.cookies[sessionCookie]
				v.armed.Store(true)
				res := b.post("/login/code", url.Values{"code": {tc.code(right)}})
				wantFlash(t, "code on a vanished session", f, res, want, flashCompleted)
				if b.cookies[sessionCookie] != sid {
					t.Error("the answer to a request on a vanished session changed the session cookie")
				}
				page := b.get(res.location())
				wantStatus(t, "chooser", page, http.StatusOK)
				wantContains(t, "chooser", page.body, `<p class="notice warning" role="alert">`+escapeHTML(p.T("login.error.completed_elsewhere"))+`</p>`)
				// A one-time flash: shown once.
				if again := b.get(res.location()); strings.Contains(again.body, escapeHTML(p.T("login.error.completed_elsewhere"))) {
					t.Error("the completed notice is shown again on reload")
				}
			})
		}
		var n int
		if err := db.SQL().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM sessions WHERE account_id = $1`, f.acct.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d logged-on sessions after rotating vanished sessions, want 0", n)
		}
		evs, err := db.ListAudit(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == audit.LogonSuccess {
				t.Errorf("logon.success recorded for a rotation that failed: %+v", e)
			}
		}
	})
}

// TestCompletedNoticeForTheWinner: the chooser a losing request redirects to sends a browser
// that holds the completed logon on to where the logon was for.
func TestCompletedNoticeForTheWinner(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		right := b.codeStep()
		// A second request with the pre-logon cookie (a double click) that arrives after
		// the first one completed the logon.
		late := f.browser()
		for k, v := range b.cookies {
			late.cookies[k] = v
		}
		wantStatus(t, "right code", b.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther)
		res := late.post("/login/code", url.Values{"code": {right}})
		wantFlash(t, "right code again", f, res, "/login", flashCompleted)
		for _, c := range res.res.Cookies() {
			if c.Name == sessionCookie {
				t.Errorf("the late request's answer sets the session cookie (%+v): the browser would lose the logon", c)
			}
		}
		// It is one browser: the flash the late answer set arrives with the winner's session.
		b.cookies[f.srv.cookies.flash] = late.cookies[f.srv.cookies.flash]
		res = b.get("/login?level=substantial&return=%2Fafter")
		wantStatus(t, "chooser with the notice", res, http.StatusSeeOther)
		if res.location() != "/after" {
			t.Errorf("redirect to %q, want the return path", res.location())
		}
		// A higher level than the session holds still shows the chooser, with the notice.
		b.cookies[f.srv.cookies.flash] = flashCompleted
		res = b.get("/login?level=high")
		wantStatus(t, "chooser for a higher level", res, http.StatusOK)
		wantContains(t, "chooser for a higher level", res.body, escapeHTML(f.bundle.Printer("en").T("login.error.completed_elsewhere")))
		// Without the flash (a link, a bookmark), the chooser never redirects.
		res = b.get("/login?level=substantial&return=%2Fafter")
		wantStatus(t, "chooser without the flash", res, http.StatusOK)
	})
}

func wrongCardCode(right string) string {
	if right == "999999" {
		return "888888"
	}
	return "999999"
}
