package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// withHelpdesk configures the helpdesk's contact.
func withHelpdesk(c *Config, _ *Deps) {
	c.Operator = Contact{Email: "helpdesk@example.org", Phone: "+32 2 123 45 67"}
}

// TestWizardAfterPasswordLogonWithoutActiveKey: an attacker who knows the password locks the
// citizen's app key with wrong codes, logs on with the password alone and tries to activate an
// app key of their own. Only the e-mail key is offered (the page says why and names the
// helpdesk), its code goes to the registered address, and the address cannot be changed.
func TestWizardAfterPasswordLogonWithoutActiveKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, withHelpdesk)
		c := f.newCitizen("lena", "en", keys.TOTP)
		app := f.keysOf(c)[0]
		if ok, err := db.TransitionKey(t.Context(), app.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.clock.Now()); err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		b := f.browser()
		if res := b.logonAs(c, keys.Password, "/keys"); res.location() != "/keys" {
			t.Fatalf("password logon → %d %q", res.status, res.location())
		}
		page, hidden := b.wizard()
		wantContains(t, "step 1", page.body, "You cannot change your e-mail address after logging on with only your username and password",
			"lena@example.org", `href="mailto:helpdesk@example.org"`)
		if strings.Contains(page.body, `name="action" value="change"`) || strings.Contains(page.body, `name="email"`) {
			t.Error("step 1 offers to change the address")
		}
		// A forged Change is refused with the same explanation; no code goes anywhere.
		res := b.wizardPost(hidden, "change", url.Values{"email": {"attacker@example.net"}})
		wantContains(t, "forged change", res.body, "You cannot change your e-mail address after logging on")
		if f.mails("email_change", "attacker@example.net") != 0 {
			t.Error("a code went to the attacker's address")
		}
		// Nor on the profile page.
		res = b.post("/profile/email", url.Values{"email": {"attacker@example.net"}})
		wantContains(t, "profile change", res.body, "You cannot change your e-mail address after logging on")
		if f.mails("email_change", "attacker@example.net") != 0 {
			t.Error("the profile sent a code to the attacker's address")
		}

		page, hidden = b.next(nil)
		wantContains(t, "step 2", page.body, `value="emailcode"`,
			"For your security you can therefore only activate “Security code by e-mail” now", "contact the helpdesk",
			`href="mailto:helpdesk@example.org"`)
		if strings.Contains(page.body, `value="totp"`) {
			t.Error("step 2 offers an app key after a password logon")
		}
		res = b.wizardPost(hidden, "next", url.Values{"kind": {"totp"}})
		wantContains(t, "forged app key", res.body, "This digital key cannot be activated.")
		if es := f.events(audit.PortalForged); len(es) != 1 || es[0].Detail["value"] != "totp" {
			t.Errorf("forged events %+v", es)
		}
		if n := f.countKeys(c, keys.TOTP); n != 1 {
			t.Errorf("%d app keys, want the locked one alone", n)
		}
		b.next(url.Values{"kind": {"emailcode"}})
		b.next(url.Values{"code": {f.mailedCode("registration_code", c.email)}})
		if n := f.countKeys(c, keys.EmailCode); n != 1 {
			t.Errorf("%d e-mail keys after the registration code to the registered address", n)
		}
	})
}

// TestWizardOffersReplacement: step 2 says which kind replaces an active key; activating it
// leaves one active key of the kind, and the logon uses the new one.
func TestWizardOffersReplacement(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("ruth", "en", keys.TokenCard, keys.TOTP)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		page, _ := b.next(nil)
		wantContains(t, "step 2", page.body,
			"This replaces your current digital key “Security code via mobile app”: it will be deactivated as soon as the new one is active.")
		if strings.Count(page.body, "This replaces your current digital key") != 1 {
			t.Error("the note is shown for a kind the citizen does not have")
		}
		b.next(url.Values{"kind": {"totp"}})
		page, _ = b.next(nil)
		secret := secretRE.FindStringSubmatch(page.body)[1]
		b.next(url.Values{"code": {appCode(t, secret, f.clock.Now())}})
		active := 0
		for _, k := range f.keysOf(c) {
			if k.Kind == keys.TOTP && k.Status == store.KeyActive {
				active++
			}
		}
		if active != 1 || f.mails("key_activated", c.email) != 1 || f.mails("key_deactivated", c.email) != 0 {
			t.Errorf("%d active app keys, %d activation and %d deactivation e-mails; want 1, 1, 0", active,
				f.mails("key_activated", c.email), f.mails("key_deactivated", c.email))
		}
		// The new key logs on (a step later: the old step was just used).
		_, hidden := b.wizard()
		b.wizardPost(hidden, "end", nil)
		f.clock.Advance(30e9)
		if res := b.logonApp(c, secret, "/keys"); res.location() != "/keys" {
			t.Errorf("logon with the new app key → %d %q\n%s", res.status, res.location(), res.body)
		}
	})
}

// TestWizardDoubleClickSendsOneCode: several parallel submissions of step 2, and of step 1's
// Change, send one code each and leave the wizard at the next step, whose code works.
func TestWizardDoubleClickSendsOneCode(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("anke", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		const n = 4
		clicks := func(extra url.Values) []int {
			_, hidden := b.wizard()
			form := url.Values{"wizard": {hidden.Get("wizard")}, "step": {hidden.Get("step")}, csrfField: {b.csrfToken()}}
			for k, v := range extra {
				form[k] = v
			}
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				req := httptest.NewRequest(http.MethodPost, "http://sleutelbos.test/keys/activate", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.RemoteAddr = "192.0.2.10:40000"
				for name, v := range b.cookies {
					req.AddCookie(&http.Cookie{Name: name, Value: v})
				}
				wg.Go(func() {
					rec := httptest.NewRecorder()
					f.h.ServeHTTP(rec, req)
					statuses[i] = rec.Code
				})
			}
			wg.Wait()
			return statuses
		}
		st := clicks(url.Values{"action": {"change"}, "email": {"anke.new@example.org"}})
		if got := f.mails("email_change", "anke.new@example.org"); got != 1 {
			t.Errorf("%d e-mail change codes after %d clicks (statuses %v), want 1", got, n, st)
		}
		page, _ := b.wizard()
		wantContains(t, "after the Change clicks", page.body, `name="step" value="email-code"`)
		b.next(url.Values{"code": {f.mailedCode("email_change", "anke.new@example.org")}})
		b.next(nil)

		st = clicks(url.Values{"action": {"next"}, "kind": {"emailcode"}})
		if got := f.mails("registration_code", "anke.new@example.org"); got != 1 {
			t.Errorf("%d registration codes after %d clicks (statuses %v), want 1", got, n, st)
		}
		page, _ = b.wizard()
		wantContains(t, "after the clicks", page.body, `name="step" value="activate"`)
		b.next(url.Values{"code": {f.mailedCode("registration_code", "anke.new@example.org")}})
		if got := f.countKeys(c, keys.EmailCode); got != 1 {
			t.Errorf("%d e-mail keys, want 1", got)
		}
	})
}

// TestStaleLogonSaysWhy: sent to log on again for a key change, the citizen reads why on the
// chooser, which does not offer to create an account to someone who has one.
func TestStaleLogonSaysWhy(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, withRegistration)
		c := f.newCitizen("stef", "en", keys.TokenCard)
		b := f.browser()
		wantContains(t, "chooser before logging on", b.get("/login").body, `href="/register"`)
		b.logonAs(c, keys.TokenCard, "/keys")
		f.clock.Advance(10 * time.Minute)
		b.get("/keys")
		f.clock.Advance(6 * time.Minute)
		res := b.get("/keys/activate")
		if res.status != http.StatusSeeOther {
			t.Fatalf("stale wizard: %d", res.status)
		}
		page := b.get(res.location())
		wantContains(t, "chooser after a stale logon", page.body,
			`<p class="notice warning" role="alert">For your security, please log on again before you change your digital keys.</p>`)
		if strings.Contains(page.body, `href="/register"`) {
			t.Error("the chooser offers a logged-on citizen to create an account")
		}
		if strings.Contains(b.get(res.location()).body, "please log on again") {
			t.Error("the notice is shown twice")
		}
		// Not logged on at all: no such notice.
		b2 := f.browser()
		res = b2.get("/keys/activate")
		if page := b2.get(res.location()); strings.Contains(page.body, "please log on again") {
			t.Error("a visitor who never logged on is told to log on again")
		}
	})
}

// TestLockedKeyWithoutWayBack: a locked key that no other active key can reactivate shows why,
// and no "Activate again".
func TestLockedKeyWithoutWayBack(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("olaf", "en", keys.TOTP)
		app := f.keysOf(c)[0]
		if _, err := db.TransitionKey(t.Context(), app.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		b := f.browser()
		b.logonAs(c, keys.Password, "/keys")
		page := b.get("/keys")
		wantContains(t, "key list", page.body, `data-kind="totp" data-status="locked"`, "at every logon",
			"To activate this key again you have to log on with another active digital key of the same level, and you have none.")
		if strings.Contains(page.body, "/reactivate") {
			t.Error("the key list offers to activate the locked key again")
		}
	})
}

// TestWizardEmailCodeResend: the new address's code step offers "Request a new code"; the new
// code supersedes the first.
func TestWizardEmailCodeResend(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("nina", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		_, hidden := b.wizard()
		if res := b.wizardPost(hidden, "change", url.Values{"email": {"nina.new@example.org"}}); res.status != http.StatusSeeOther {
			t.Fatalf("change: %d\n%s", res.status, res.body)
		}
		page, hidden := b.wizard()
		wantContains(t, "e-mail code step", page.body, `name="action" value="resend"`, "Request a new code")
		first := f.mailedCode("email_change", "nina.new@example.org")
		res := b.wizardPost(hidden, "resend", nil)
		wantFlash(t, "resend", f, res, "/keys/activate", flashEmailCodeResent)
		wantContains(t, "after resend", b.get("/keys/activate").body, "A new code has been sent to your new e-mail address.")
		if n := f.mails("email_change", "nina.new@example.org"); n != 2 {
			t.Fatalf("%d codes to the new address, want 2", n)
		}
		fresh := f.mailedCode("email_change", "nina.new@example.org")
		if fresh != first {
			res = b.wizardPost(hidden, "next", url.Values{"code": {first}})
			wantContains(t, "the first code", res.body, `class="error-summary"`)
		}
		b.next(url.Values{"code": {fresh}})
		if got, _ := db.GetAccount(t.Context(), c.acct.ID); got.Email != "nina.new@example.org" {
			t.Errorf("address %q after the new code", got.Email)
		}
	})
}
