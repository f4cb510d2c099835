package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

const newPassword = "a brand new passphrase 7"

// TestForgotUsername: a known address gets its username by e-mail; an unknown one gets the
// same answer and nothing is sent; a malformed one is a form error that counts nothing; one
// address is limited per hour whether or not it is known.
func TestForgotUsername(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()

		known := b.post("/forgot/username", url.Values{"email": {"  Demo@Example.org "}})
		unknown := b.post("/forgot/username", url.Values{"email": {"nobody@example.org"}})
		for what, res := range map[string]*response{"known": known, "unknown": unknown} {
			if res.status != http.StatusSeeOther || res.location() != "/forgot/username/sent" {
				t.Errorf("%s address: %d %s, want 303 to /forgot/username/sent", what, res.status, res.location())
			}
		}
		sent := b.get("/forgot/username/sent")
		wantStatus(t, "sent page", sent, http.StatusOK)
		wantContains(t, "sent page", sent.body, f.bundle.Printer("en").T("web.forgot.username.sent"))

		ms := f.messagesTo("demo@example.org")
		if len(ms) != 1 || ms[0].Template != "forgot_username" || !strings.Contains(ms[0].TextBody, "    "+demoUser+"\n") {
			t.Fatalf("mail to the known address: %+v, want one forgot_username with the username", ms)
		}
		if n := len(f.messagesTo("nobody@example.org")); n != 0 {
			t.Errorf("%d e-mails to an unknown address, want none", n)
		}

		bad := b.post("/forgot/username", url.Values{"email": {"not an address"}})
		wantStatus(t, "malformed address", bad, http.StatusOK)
		wantContains(t, "malformed address", bad.body, `role="alert"`, `aria-invalid="true"`, `value="not an address"`)

		// The per-address limit (3 an hour) counts known and unknown addresses alike; the
		// malformed one above counted nothing.
		for _, addr := range []string{"demo@example.org", "nobody@example.org"} {
			for range 2 {
				if res := b.post("/forgot/username", url.Values{"email": {addr}}); res.status != http.StatusSeeOther {
					t.Fatalf("%s within the limit: %d", addr, res.status)
				}
			}
			res := b.post("/forgot/username", url.Values{"email": {addr}})
			wantStatus(t, addr+": fourth in the hour", res, http.StatusTooManyRequests)
		}
		if n := f.countMails("forgot_username", "demo@example.org"); n != 3 {
			t.Errorf("%d username e-mails, want 3", n)
		}
		f.clock.Advance(time.Hour)
		if res := b.post("/forgot/username", url.Values{"email": {"demo@example.org"}}); res.status != http.StatusSeeOther {
			t.Errorf("an hour later: %d, want 303", res.status)
		}
	})
}

// TestForgotPasswordAnswersAlike: a known username, a known address, an unknown username and
// an unknown address get the same redirect and the same page; only known ones get a link.
func TestForgotPasswordAnswersAlike(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		var pages []string
		for _, id := range []string{demoUser, "DEMO@example.org", "nobody", "nobody@example.org"} {
			b := f.browser()
			b.askReset(id)
			pages = append(pages, withoutTokens(b.get("/forgot/password/sent").body))
		}
		for i, p := range pages[1:] {
			if p != pages[0] {
				t.Errorf("answer %d differs from the first", i+1)
			}
		}
		if n := f.countMails("password_reset", "demo@example.org"); n != 2 {
			t.Errorf("%d reset e-mails to the citizen, want 2", n)
		}
		if n := len(f.messagesTo("nobody@example.org")); n != 0 {
			t.Errorf("%d e-mails to an unknown address", n)
		}
		b := f.browser()
		for _, bad := range []string{"", "   ", "two@@example.org"} {
			res := b.post("/forgot/password", url.Values{"identifier": {bad}})
			wantStatus(t, "identifier "+strconv.Quote(bad), res, http.StatusOK)
			wantContains(t, "identifier "+strconv.Quote(bad), res.body, `role="alert"`, `aria-invalid="true"`)
		}
	})
}

// TestPasswordReset walks the link of a citizen whose keys the mailbox proves (a password and
// an e-mail code key): the new password is checked by the one policy, saved, every session of
// the citizen ends, the citizen is e-mailed, the change audited; the link works once.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		ann := f.newCitizen("ann", "nl", keys.EmailCode)
		other := f.browser()
		if res := other.logonAs(ann, keys.Password, "/"); res.location() != "/" {
			t.Fatalf("ann's other logon: %d %s", res.status, res.location())
		}

		b := f.browser()
		b.askReset("ann")
		link := f.resetLink(ann.email)
		if link == "" {
			t.Fatal("no reset link e-mailed")
		}
		res := b.get(link)
		if res.status != http.StatusSeeOther || res.location() != "/reset/password" {
			t.Fatalf("the link: %d %s, want 303 to /reset/password", res.status, res.location())
		}
		wantStatus(t, "password page", b.get("/reset/password"), http.StatusOK)

		p := f.bundle.Printer("en")
		for _, c := range []struct{ what, pw, confirm, want string }{
			{"too short", "short", "short", p.T("password.error.too_short", 12)},
			{"common", "password1234", "password1234", p.T("password.error.common")},
			{"the e-mail address", "ANN@example.org", "ANN@example.org", p.T("password.error.personal")},
			{"confirm differs", newPassword, newPassword + "x", p.T("recovery.error.confirm")},
		} {
			res := b.post("/reset/password", url.Values{"password": {c.pw}, "confirm": {c.confirm}})
			wantStatus(t, c.what, res, http.StatusOK)
			wantContains(t, c.what, res.body, `role="alert"`, c.want)
		}
		wantLogon(t, f, "ann", ann.password, true)
		// A guesser throttled ann's username meanwhile: the reset clears it.
		for range 5 {
			wantLogon(t, f, "ann", "a wrong guess", false)
		}

		res = b.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		wantFlash(t, "new password", f, res, "/login", flashPasswordReset)
		wantContains(t, "logon page after the reset", b.get("/login").body, p.T("web.reset.done"))
		wantLogon(t, f, "ann", newPassword, true)
		wantLogon(t, f, "ann", ann.password, false)
		if other.loggedOn() {
			t.Error("ann's other session survived the reset")
		}
		if n := f.countMails("password_changed", ann.email); n != 1 {
			t.Errorf("%d password_changed e-mails, want 1", n)
		}
		ev := lastEvent(t, f, audit.PasswordChanged)
		if ev.AccountID != ann.acct.ID || ev.Detail["via"] != "reset" || ev.Detail["sessions_ended"] == "0" {
			t.Errorf("audit event %+v, want ann's reset that ended sessions", ev)
		}

		replay := f.browser().get(link)
		wantStatus(t, "the link again", replay, http.StatusBadRequest)
		wantContains(t, "the link again", replay.body, p.T("recovery.error.link_invalid"))
	})
}

// TestResetLinkRefusals: an expired link, a link superseded by a newer one, a forged link
// and a reset that outlives its link are refused with the same page, and change nothing.
func TestResetLinkRefusals(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		ann := f.newCitizen("ann", "en", keys.EmailCode)
		p := f.bundle.Printer("en")
		invalid := func(what, link string) {
			t.Helper()
			res := f.browser().get(link)
			wantStatus(t, what, res, http.StatusBadRequest)
			wantContains(t, what, res.body, p.T("recovery.error.link_invalid"))
			if _, secret, _ := strings.Cut(link, "."); len(secret) > 8 && strings.Contains(res.body, secret) {
				t.Errorf("%s: the page repeats the link's secret", what)
			}
		}

		f.browser().askReset("ann")
		first := f.resetLink(ann.email)
		f.clock.Advance(31 * time.Minute)
		invalid("expired link", first)

		f.browser().askReset("ann@example.org")
		older := f.resetLink(ann.email)
		f.browser().askReset("ann")
		newer := f.resetLink(ann.email)
		invalid("superseded link", older)
		id, secret, _ := strings.Cut(strings.TrimPrefix(newer, "/reset?t="), ".")
		invalid("another account's id", "/reset?t="+strconv.FormatInt(f.acct.ID, 10)+"."+secret)
		invalid("a changed secret", "/reset?t="+id+"."+strings.Repeat("A", len(secret)))
		invalid("no token", "/reset")
		invalid("garbage", "/reset?t=%00%01")

		// The reset opened in time but finished too late (the session kept alive meanwhile).
		b := f.browser()
		if res := b.get(newer); res.location() != "/reset/password" {
			t.Fatalf("newer link: %d %s", res.status, res.location())
		}
		for range 2 {
			f.clock.Advance(14 * time.Minute)
			wantStatus(t, "password page", b.get("/reset/password"), http.StatusOK)
		}
		f.clock.Advance(3 * time.Minute)
		res := b.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		wantStatus(t, "reset after its link expired", res, http.StatusBadRequest)
		wantContains(t, "reset after its link expired", res.body, p.T("recovery.error.expired"))
		wantLogon(t, f, "ann", ann.password, true)
		wantLogon(t, f, "ann", newPassword, false)

		// Without a reset in the session, the steps go back to the form.
		for _, path := range []string{"/reset/password", "/reset/key"} {
			if res := f.browser().get(path); res.status != http.StatusSeeOther || res.location() != "/forgot/password" {
				t.Errorf("GET %s without a reset: %d %s", path, res.status, res.location())
			}
		}
		if res := f.browser().post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}}); res.location() != "/forgot/password" {
			t.Errorf("POST /reset/password without a reset: %d %s", res.status, res.location())
		}
	})
}

// TestResetAsksForTheKeyTheMailboxDoesNotProve: the demo citizen has a token card and an app
// key, so the mailbox alone never sets a password: the password step is refused until one of
// them is proven through the logon's own code step (a wrong code is told so, and counted).
func TestResetAsksForTheKeyTheMailboxDoesNotProve(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.askReset(demoUser)
		res := b.get(f.resetLink("demo@example.org"))
		if res.location() != "/reset/key" {
			t.Fatalf("the link: %d %s, want 303 to /reset/key", res.status, res.location())
		}
		// Only the mailbox: every way to the password is closed.
		if res := b.get("/reset/password"); res.location() != "/reset/key" {
			t.Errorf("GET /reset/password before the key: %d %s", res.status, res.location())
		}
		res = b.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		if res.status != http.StatusSeeOther || res.location() != "/reset/key" {
			t.Errorf("POST /reset/password before the key: %d %s", res.status, res.location())
		}
		if res := b.post("/reset/code", url.Values{"code": {"123456"}}); res.location() != "/reset/key" {
			t.Errorf("a code before choosing a key: %d %s", res.status, res.location())
		}
		if res := b.post("/reset/key", url.Values{"kind": {keys.EmailCode}}); res.location() != "/reset/key" {
			t.Errorf("choosing the e-mail key: %d %s, want back to the choice", res.status, res.location())
		}
		wantLogon(t, f, demoUser, newPassword, false)

		page := b.get("/reset/key")
		wantContains(t, "key choice", page.body, `value="tokencard"`, `value="totp"`)
		if strings.Contains(page.body, `value="emailcode"`) {
			t.Error("the key choice offers the e-mail code, which the mailbox proves")
		}

		b.post("/reset/key", url.Values{"kind": {keys.TOTP}})
		page = b.get("/reset/key")
		wantContains(t, "app code step", page.body, `action="/reset/code"`)
		wrong := b.post("/reset/code", url.Values{"code": {"000000"}})
		wantStatus(t, "wrong app code", wrong, http.StatusOK)
		wantContains(t, "wrong app code", wrong.body, `role="alert"`, `aria-invalid="true"`)
		if a := attemptsOf(t, f, keys.TOTP); a.Failures != 1 {
			t.Errorf("the app key's failure counter is %d after a wrong code, want 1 (the logon's own)", a.Failures)
		}
		right := b.post("/reset/code", url.Values{"code": {totp.Code(f.world.TOTPSecret, f.clock.Now())}})
		if right.status != http.StatusSeeOther || right.location() != "/reset/password" {
			t.Fatalf("right app code: %d %s\n%.2000s", right.status, right.location(), right.body)
		}
		res = b.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		wantFlash(t, "new password", f, res, "/login", flashPasswordReset)
		wantLogon(t, f, demoUser, newPassword, true)
		if ev := lastEvent(t, f, audit.PasswordChanged); ev.Detail["factor"] != keys.TOTP {
			t.Errorf("audit event %+v, want the app key named as the factor", ev)
		}
	})
}

// TestResetLockedKeysStillCount: whoever holds only the mailbox cannot lock the citizen's card
// and app with wrong codes on the reset page and then reset without them (review finding):
// locked keys still have to be proved, so the reset goes no further than the code step.
func TestResetLockedKeysStillCount(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		ks, err := db.ListKeys(ctx, f.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if k.Kind == keys.TokenCard || k.Kind == keys.TOTP {
				if _, err := db.TransitionKey(ctx, k.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
		}
		b := f.browser()
		b.askReset(demoUser)
		if res := b.get(f.resetLink("demo@example.org")); res.location() != "/reset/key" {
			t.Fatalf("the link with only locked keys: %d %s, want 303 to /reset/key (a key is still asked)", res.status, res.location())
		}
		res := b.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		if res.status != http.StatusSeeOther || res.location() != "/reset/key" {
			t.Errorf("POST /reset/password with only locked keys: %d %s, want back to the key", res.status, res.location())
		}
		wantLogon(t, f, demoUser, newPassword, false)
	})
}

// TestResetWithTokenCard proves the card: the position asked is the logon's.
func TestResetWithTokenCard(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		b.askReset(demoUser)
		b.get(f.resetLink("demo@example.org"))
		b.post("/reset/key", url.Values{"kind": {keys.TokenCard}})
		m := anyPositionRE.FindStringSubmatch(b.get("/reset/key").body)
		if m == nil {
			t.Fatal("no card position asked")
		}
		pos, _ := strconv.Atoi(m[1])
		if res := b.post("/reset/code", url.Values{"code": {f.codes[pos-1]}}); res.location() != "/reset/password" {
			t.Fatalf("right card code: %d %s", res.status, res.location())
		}
		res := b.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		wantFlash(t, "new password", f, res, "/login", flashPasswordReset)
		wantLogon(t, f, demoUser, newPassword, true)
	})
}

// TestResetGivesAnImportedCitizenAPassword: a citizen imported with `none` (no usable
// password) sets one through the link, as the README says.
func TestResetGivesAnImportedCitizenAPassword(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		now := f.clock.Now()
		acct := store.Account{Username: "imported", Name: "Imported Citizen", Email: "imported@example.org", Language: "fr",
			CreatedAt: now, UpdatedAt: now}
		if err := db.CreateAccount(context.Background(), &acct); err != nil {
			t.Fatal(err)
		}
		b := f.browser()
		b.askReset("imported@example.org")
		if res := b.get(f.resetLink(acct.Email)); res.location() != "/reset/password" {
			t.Fatalf("the link: %d %s", res.status, res.location())
		}
		res := b.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		wantFlash(t, "first password", f, res, "/login", flashPasswordReset)
		wantLogon(t, f, "imported", newPassword, true)
	})
}

// TestRecoveryPagesInEveryLanguage: every page of recovery has the shape of every page (one
// h1, no inline style or script, translated) in every language.
func TestRecoveryPagesInEveryLanguage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		for _, lang := range i18n.Languages() {
			f.clock.Advance(time.Hour)
			b := f.browser()
			b.cookies[langCookie] = lang
			pages := map[string]*response{
				"forgot username":       b.get("/forgot/username"),
				"forgot username error": b.post("/forgot/username", url.Values{"email": {"x"}}),
				"forgot password":       b.get("/forgot/password"),
				"forgot password error": b.post("/forgot/password", url.Values{"identifier": {""}}),
				"username sent":         b.get("/forgot/username/sent"),
				"password sent":         b.get("/forgot/password/sent"),
				"invalid link":          b.get("/reset?t=1.x"),
			}
			b.askReset(demoUser)
			b.get(f.resetLink("demo@example.org"))
			pages["key choice"] = b.get("/reset/key")
			b.post("/reset/key", url.Values{"kind": {keys.TokenCard}})
			pages["card code"] = b.get("/reset/key")
			pages["card code error"] = b.post("/reset/code", url.Values{"code": {"12"}})
			ann := f.newCitizen("ann"+lang, lang, keys.EmailCode)
			b.askReset(ann.username)
			b.get(f.resetLink(ann.email))
			pages["new password"] = b.get("/reset/password")
			pages["new password error"] = b.post("/reset/password", url.Values{"password": {"x"}, "confirm": {"y"}})
			lotte := f.newCitizen("lotte"+lang, lang, keys.TokenCard)
			lb := f.browser()
			lb.cookies[langCookie] = lang
			lb.logonAs(lotte, keys.TokenCard, "/keys")
			pages["lost key"] = lb.get("/keys/" + strconv64(f.keysOf(lotte)[0].ID) + "/lost")
			for name, res := range pages {
				checkPage(t, lang+" "+name, lang, res.body)
			}
		}
	})
}

// attemptsOf returns the failure counter of the demo citizen's key of kind.
func attemptsOf(t *testing.T, f *fixture, kind string) store.Attempt {
	t.Helper()
	ks, err := f.db.ListKeys(context.Background(), f.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Kind == kind {
			a, err := f.db.GetAttempt(context.Background(), "factor:"+strconv.FormatInt(k.ID, 10))
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
	}
	t.Fatalf("no %s key", kind)
	return store.Attempt{}
}

// lastEvent returns the newest audit event of type typ.
func lastEvent(t *testing.T, f *fixture, typ string) store.AuditEvent {
	t.Helper()
	es, err := f.db.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Type == typ {
			return es[i]
		}
	}
	t.Fatalf("no %s event", typ)
	return store.AuditEvent{}
}
