package web

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestWizardEmailKey walks the wizard to an e-mail key, with the errors on the way.
func TestWizardEmailKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("emma", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		list := b.get("/keys").body
		wantContains(t, "key list", list, "<h1>My digital keys</h1>", `<a class="button" href="/keys/activate?new=1">Activate a new digital key</a>`,
			"Username and password", "Security code via token", `data-kind="tokencard" data-status="active"`)

		page, hidden := b.wizard()
		wantContains(t, "step 1", page.body, "Please check your e-mail address. You can change it here if it&#39;s not correct.",
			`value="emma@example.org"`, `<li class="current" aria-current="step"><span class="num" aria-hidden="true">1</span> Confirm e-mail address</li>`,
			`name="action" value="change"`, `name="action" value="cancel"`, ">Previous<")
		page, hidden = b.next(nil)
		wantContains(t, "step 2", page.body, "Select the digital key you wish to activate",
			"We recommend you to activate “Security code by e-mail” or “Security code via mobile app”.",
			`<a href="/info/why">Why?</a>`, `value="emailcode"`, `value="totp"`)
		if strings.Contains(page.body, `value="tokencard"`) || strings.Contains(page.body, `name="kind" value="password"`) {
			t.Error("step 2 offers a token card or the password")
		}
		// Nothing chosen: a form error, nothing recorded.
		res := b.wizardPost(hidden, "next", nil)
		wantStatus(t, "no choice", res, http.StatusOK)
		wantContains(t, "no choice", res.body, `<li><a href="#kind">Select the digital key you wish to activate.</a></li>`, `aria-invalid="true"`)
		// A forged kind: refused, recorded.
		res = b.wizardPost(hidden, "next", url.Values{"kind": {"tokencard"}})
		wantContains(t, "forged kind", res.body, "This digital key cannot be activated.")
		if es := f.events(audit.PortalForged); len(es) != 1 || es[0].Detail["value"] != "tokencard" {
			t.Errorf("forged events %+v", es)
		}

		page, hidden = b.next(url.Values{"kind": {"emailcode"}})
		wantContains(t, "step 3 (e-mail)", page.body, "Fill in the registration code that was sent to you by e-mail.",
			"We sent the registration code to e•••@example.org.", "check your junk e-mail folder",
			"Note! The code is only valid for 5 minutes.", `<label for="code">Registration code *</label>`,
			`name="action" value="resend"`, `<li class="done"><span class="num" aria-hidden="true">2</span>`)
		if strings.Contains(page.body, "emma@example.org") {
			t.Error("step 3 shows the whole address")
		}
		code := f.mailedCode("registration_code", c.email)
		scope := string(attempts.EnrolmentScope(c.acct.ID))
		// The messages of the logon's code step (keys.NormalizeCode), naming the registration code.
		for bad, msg := range map[string]string{"": "Enter the registration code.", "12ab56": "The registration code must be 6 digits.",
			"12345": "The registration code must be 6 digits."} {
			res := b.wizardPost(hidden, "next", url.Values{"code": {bad}})
			wantFormError(t, f, "code "+bad, "en", res.body, "code", msg)
		}
		if a, _ := db.GetAttempt(t.Context(), scope); a.Failures != 0 {
			t.Errorf("format errors counted %d attempts", a.Failures)
		}
		wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+1)%10 }, code)
		res = b.wizardPost(hidden, "next", url.Values{"code": {wrong}})
		wantFormError(t, f, "wrong code", "en", res.body, "code", "The registration code is not correct. Please try again.")
		if strings.Contains(res.body, wrong) {
			t.Error("the page echoes the code")
		}
		res = b.wizardPost(hidden, "next", url.Values{"code": {code}})
		if res.status != http.StatusSeeOther || res.location() != "/keys/activate" {
			t.Fatalf("right code: %d %s", res.status, res.location())
		}
		done, _ := b.wizard()
		wantContains(t, "confirmation", done.body, "You have successfully created a new digital key.",
			`name="action" value="end"`, "End session", `aria-current="step"><span class="num" aria-hidden="true">4</span>`)
		if n := f.countKeys(c, keys.EmailCode); n != 1 {
			t.Fatalf("%d e-mail keys", n)
		}
		// Back after the confirmation, the replayed code, the old form: all show the
		// confirmation, nothing more is created.
		for _, res := range []*response{
			b.wizardPost(hidden, "next", url.Values{"code": {code}}),
			b.wizardPost(hidden, "back", nil),
			b.wizardPost(url.Values{"wizard": {hidden.Get("wizard")}, "step": {"done"}}, "back", nil),
		} {
			wantFlash(t, "after the confirmation", f, res, "/keys/activate", flashOutOfOrder)
		}
		again := b.get("/keys/activate")
		wantContains(t, "confirmation again", again.body, "You have successfully created a new digital key.",
			`<p class="notice warning" role="alert">This step is no longer available. Please continue from the step shown.</p>`)
		if strings.Contains(b.get("/keys/activate").body, "This step is no longer available") {
			t.Error("the notice is shown twice")
		}
		if n := f.countKeys(c, keys.EmailCode); n != 1 || f.mails("key_activated", c.email) != 1 {
			t.Errorf("%d e-mail keys, %d activation e-mails after the replays", n, f.mails("key_activated", c.email))
		}
		list = b.get("/keys").body
		wantContains(t, "key list", list, `data-kind="emailcode" data-status="active"`, "Security code by e-mail")
		// End session: back to the logon page, logged off.
		_, hidden = b.wizard()
		res = b.wizardPost(hidden, "end", nil)
		if res.location() != "/login" || b.loggedOn() {
			t.Errorf("end session → %q, still logged on: %v", res.location(), b.loggedOn())
		}
		// The new key logs on.
		if res := b.logonAs(c, keys.EmailCode, "/keys"); res.location() != "/keys" {
			t.Errorf("logon with the new key → %d %q", res.status, res.location())
		}
	})
}

// TestWizardAppKey walks the wizard to an app key: the install step, the QR code (a PNG bound
// to this wizard and session, never cached), the manual code, the 60-second window.
func TestWizardAppKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("finn", "nl", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		b.next(nil)
		page, _ := b.next(url.Values{"kind": {"totp"}})
		wantContains(t, "install step", page.body, "Installeer de mobiele authenticator-app van uw keuze op uw persoonlijke smartphone.",
			"Beveiligingscode via mobiele app", ">Vorige<", ">Annuleren<")
		page, hidden := b.next(nil)
		wantContains(t, "QR step", page.body, "Scan de QR-code met uw mobiele app.", `<img class="qr" src="/keys/activate/qr?w=`+hidden.Get("wizard")+`"`,
			"Let op: deze code is slechts 60 seconden geldig.", "Let op: deel de code nooit met andere personen.")
		m := secretRE.FindStringSubmatch(page.body)
		if m == nil || len(strings.Fields(m[1])) != 8 {
			t.Fatalf("no grouped secret on the page:\n%s", page.body)
		}
		secret := m[1]
		qr := b.get("/keys/activate/qr?w=" + hidden.Get("wizard"))
		if qr.status != http.StatusOK || qr.header.Get("Content-Type") != "image/png" || qr.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("QR: %d %q %q", qr.status, qr.header.Get("Content-Type"), qr.header.Get("Cache-Control"))
		}
		if _, err := png.Decode(bytes.NewReader([]byte(qr.body))); err != nil {
			t.Errorf("QR is not a PNG: %v", err)
		}
		if res := b.get("/keys/activate/qr?w=another"); res.status != http.StatusNotFound {
			t.Errorf("QR of another wizard id: %d", res.status)
		}
		other := f.browser()
		other.logonAs(c, keys.TokenCard, "/")
		if res := other.get("/keys/activate/qr?w=" + hidden.Get("wizard")); res.status != http.StatusNotFound {
			t.Errorf("QR from another session: %d", res.status)
		}
		// Outside the window, then the right code.
		f.clock.Advance(15 * time.Second)
		res := b.wizardPost(hidden, "next", url.Values{"code": {appCode(t, secret, f.clock.Now().Add(-2*time.Minute))}})
		wantFormError(t, f, "old app code", "nl", res.body, "code", f.bundle.Printer("nl").T("portal.error.registration.wrong"))
		right := appCode(t, secret, f.clock.Now())
		if res := b.wizardPost(hidden, "next", url.Values{"code": {right[:3] + " " + right[3:]}}); res.location() != "/keys/activate" {
			t.Fatalf("right app code: %d %s\n%s", res.status, res.location(), res.body)
		}
		if n := f.countKeys(c, keys.TOTP); n != 1 {
			t.Fatalf("%d app keys", n)
		}
		if res := b.get("/keys/activate/qr?w=" + hidden.Get("wizard")); res.status != http.StatusNotFound {
			t.Errorf("QR after the confirmation: %d", res.status)
		}
		// Replayed: nothing more.
		b.wizardPost(hidden, "next", url.Values{"code": {right}})
		if n := f.countKeys(c, keys.TOTP); n != 1 {
			t.Errorf("%d app keys after the replay", n)
		}
		// Log off, log on with the new key (a later code: the registration code's step is spent).
		b.post("/logout", nil)
		f.clock.Advance(30 * time.Second)
		if res := b.logonApp(c, secret, "/keys"); res.location() != "/keys" {
			t.Errorf("logon with the new app key → %d %q", res.status, res.location())
		}
	})
}

// TestWizardDoubleSubmit: parallel POSTs of the right code with one session create one key.
func TestWizardDoubleSubmit(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("gert", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		b.next(nil)
		b.next(url.Values{"kind": {"totp"}})
		page, hidden := b.next(nil)
		secret := secretRE.FindStringSubmatch(page.body)[1]
		form := url.Values{"action": {"next"}, "wizard": {hidden.Get("wizard")}, "step": {hidden.Get("step")},
			"code": {appCode(t, secret, f.clock.Now())}, csrfField: {b.csrfToken()}}
		const n = 6
		var wg sync.WaitGroup
		statuses := make([]int, n)
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
		if got := f.countKeys(c, keys.TOTP); got != 1 {
			t.Fatalf("%d app keys after %d parallel submissions (statuses %v), want exactly 1", got, n, statuses)
		}
		if f.mails("key_activated", c.email) != 1 || len(f.events(audit.KeyActivated)) != 1 {
			t.Error("more than one activation e-mail or event")
		}
		page, _ = b.wizard()
		wantContains(t, "after the double submit", page.body, "You have successfully created a new digital key.")
	})
}

// TestWizardEmailChange: step 1's Change, with an invalid address, another account's address
// (answered like any other) and the code.
func TestWizardEmailChange(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("hanne", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		_, hidden := b.wizard()
		res := b.wizardPost(hidden, "change", url.Values{"email": {"not an address"}})
		wantFormError(t, f, "invalid address", "en", res.body, "email", "Please enter a valid e-mail address, for example name@example.be.")
		wantContains(t, "invalid address", res.body, `value="not an address"`)
		res = b.wizardPost(hidden, "change", url.Values{"email": {c.email}})
		wantFormError(t, f, "same address", "en", res.body, "email", "This is already your e-mail address.")
		// Another account's address and a free one: the same answer.
		for _, addr := range []string{"demo@example.org", "free@example.org"} {
			b2 := f.browser()
			b2.logonAs(c, keys.TokenCard, "/")
			_, h2 := b2.wizard()
			res := b2.wizardPost(h2, "change", url.Values{"email": {addr}})
			if res.status != http.StatusSeeOther || res.location() != "/keys/activate" {
				t.Errorf("change to %s: %d %s", addr, res.status, res.location())
			}
			page, _ := b2.wizard()
			wantContains(t, "code page for "+addr, page.body, "We sent a code to "+addr+".")
		}
		res = b.wizardPost(hidden, "next", url.Values{"email": {"hanne.new@example.org"}}) // a typed address with Next is a change too
		if res.location() != "/keys/activate" {
			t.Fatalf("next with a new address: %d %s", res.status, res.location())
		}
		page, hidden := b.wizard()
		wantContains(t, "code page", page.body, "Confirm your new e-mail address", "We sent a code to hanne.new@example.org.")
		res = b.wizardPost(hidden, "next", url.Values{"code": {"000000"}})
		wantFormError(t, f, "wrong code", "en", res.body, "code", "The security code is not correct. Please try again.")
		page, _ = b.next(url.Values{"code": {f.mailedCode("email_change", "hanne.new@example.org")}})
		wantContains(t, "back at step 1", page.body, "Your e-mail address has been changed.", `value="hanne.new@example.org"`)
		if f.mails("email_changed", c.email) != 1 {
			t.Error("the old address was not told")
		}
	})
}

// TestWizardCancelAndPrevious: Previous goes one step back, Cancel ends the wizard.
func TestWizardCancelAndPrevious(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("ilse", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		b.next(nil)
		_, hidden := b.next(url.Values{"kind": {"totp"}})
		if hidden.Get("step") != "prepare" {
			t.Fatalf("at %q", hidden.Get("step"))
		}
		b.wizardPost(hidden, "back", nil)
		if _, h := b.wizard(); h.Get("step") != "select" {
			t.Errorf("Previous from the install step: at %q", h.Get("step"))
		}
		_, hidden = b.wizard()
		if res := b.wizardPost(hidden, "cancel", nil); res.location() != "/keys" {
			t.Errorf("cancel → %q", res.location())
		}
		if _, h := b.wizard(); h.Get("step") != "email" || h.Get("wizard") == hidden.Get("wizard") {
			t.Errorf("after cancel: a new wizard at step 1 expected, got %v", h)
		}
		// A form of the cancelled wizard changes nothing.
		b.wizardPost(url.Values{"wizard": {hidden.Get("wizard")}, "step": {"select"}}, "next", url.Values{"kind": {"emailcode"}})
		if f.mails("registration_code", c.email) != 0 {
			t.Error("a cancelled wizard's form sent a code")
		}
		// Reordered steps: step 3's form while the wizard is at step 2 changes nothing either.
		_, cur := b.wizard()
		b.wizardPost(cur, "next", nil)
		res := b.wizardPost(url.Values{"wizard": {cur.Get("wizard")}, "step": {"activate"}}, "next", url.Values{"code": {"123456"}})
		wantFlash(t, "a reordered step", f, res, "/keys/activate", flashOutOfOrder)
		res = b.wizardPost(url.Values{"wizard": {cur.Get("wizard")}, "step": {"select"}}, "resend", nil)
		wantFlash(t, "resend at select", f, res, "/keys/activate", flashOutOfOrder)
		if _, h := b.wizard(); h.Get("step") != "select" || f.countKeys(c, keys.EmailCode) != 0 {
			t.Errorf("after reordered steps: at %q", h.Get("step"))
		}
	})
}

// TestWizardExpiry: a wizard older than its lifetime starts again at step 1 with a notice.
func TestWizardExpiry(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("jef", "en")
		b := f.browser()
		b.logonAs(c, keys.Password, "/")
		_, hidden := b.next(nil)
		for range 6 { // 30 minutes, keeping the session alive and the logon fresh
			f.clock.Advance(5 * time.Minute)
			b.logonAs(c, keys.Password, "/")
		}
		res := b.wizardPost(hidden, "next", url.Values{"kind": {"emailcode"}})
		wantFlash(t, "expired wizard", f, res, "/keys/activate", flashWizardExpired)
		page := b.get(res.location())
		wantContains(t, "new wizard", page.body, "Activating your digital key took too long", "Confirm e-mail address")
		if f.mails("registration_code", c.email) != 0 {
			t.Error("an expired wizard sent a code")
		}
	})
}

// TestDeactivateOverHTTP: the confirmation step, the refusal for the last substantial key, a
// forged key id.
func TestDeactivateOverHTTP(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("karel", "en", keys.TokenCard, keys.EmailCode)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		var card, email store.Key
		for _, k := range f.keysOf(c) {
			switch k.Kind {
			case keys.TokenCard:
				card = k
			case keys.EmailCode:
				email = k
			}
		}
		list := b.get("/keys").body
		wantContains(t, "list", list, `href="/keys/`+strconv64(card.ID)+`/deactivate"`, `href="/keys/`+strconv64(email.ID)+`/deactivate"`)
		confirm := b.get("/keys/" + strconv64(card.ID) + "/deactivate")
		wantStatus(t, "confirmation step", confirm, http.StatusOK)
		wantContains(t, "confirmation step", confirm.body, "Do you want to deactivate your digital key “Security code via token”?",
			"Yes, deactivate this digital key")
		res := b.post("/keys/"+strconv64(card.ID)+"/deactivate", nil)
		wantFlash(t, "deactivate", f, res, "/keys", flashKeyDeactivated)
		list = b.get("/keys").body
		wantContains(t, "list after", list, "Your digital key has been deactivated.", `data-kind="tokencard" data-status="deactivated"`,
			"Reason: deactivated by you", "Your last key for most online services")
		if f.mails("key_deactivated", c.email) != 1 {
			t.Error("no deactivation e-mail")
		}
		// The last substantial key: no link, the confirmation explains, a POST is refused.
		if strings.Contains(list, `href="/keys/`+strconv64(email.ID)+`/deactivate"`) {
			t.Error("the last substantial key has a Deactivate link")
		}
		wantContains(t, "refused", b.get("/keys/"+strconv64(email.ID)+"/deactivate").body, "it is your last active key")
		res = b.post("/keys/"+strconv64(email.ID)+"/deactivate", nil)
		wantStatus(t, "last key", res, http.StatusOK)
		wantContains(t, "last key", res.body, `<div class="error-summary"`, "First activate another digital key")
		if ks := f.keysOf(c); ks[1].Status != store.KeyActive {
			t.Error("the last substantial key was deactivated")
		}
		// Another citizen's key, and nonsense.
		demoKey := f.keysOf(f.demoCitizen())[0]
		for _, path := range []string{"/keys/" + strconv64(demoKey.ID) + "/deactivate", "/keys/999999/deactivate", "/keys/abc/deactivate", "/keys/-1/deactivate"} {
			if res := b.post(path, nil); res.status != http.StatusNotFound {
				t.Errorf("POST %s: %d", path, res.status)
			}
		}
		if k, _ := db.GetKey(t.Context(), demoKey.ID); k.Status != store.KeyActive {
			t.Error("another citizen's key was deactivated")
		}
		if n := len(f.events(audit.PortalForged)); n != 2 {
			t.Errorf("%d forged events, want 2 (the numeric ids)", n)
		}
	})
}

// TestReactivateOverHTTP: a locked key is activated again after logging on with another key.
func TestReactivateOverHTTP(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("lien", "en", keys.TokenCard, keys.EmailCode)
		card := f.keysOf(c)[0]
		if _, err := db.TransitionKey(t.Context(), card.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		b := f.browser()
		b.logonAs(c, keys.EmailCode, "/keys")
		list := b.get("/keys").body
		wantContains(t, "list", list, `data-kind="tokencard" data-status="locked"`, "Reason: too many wrong security codes",
			`action="/keys/`+strconv64(card.ID)+`/reactivate"`)
		wantFlash(t, "reactivate", f, b.post("/keys/"+strconv64(card.ID)+"/reactivate", nil), "/keys", flashKeyReactivated)
		if k, _ := db.GetKey(t.Context(), card.ID); k.Status != store.KeyActive {
			t.Errorf("card %+v", k)
		}
		if len(f.events(audit.KeyReactivated)) != 1 {
			t.Error("no audit event")
		}
		// Again: the key is not locked any more; My digital keys says so, and nothing changes.
		again := b.post("/keys/"+strconv64(card.ID)+"/reactivate", nil)
		wantStatus(t, "reactivate again", again, http.StatusOK)
		wantContains(t, "reactivate again", again.body, `<div class="error-summary"`,
			f.bundle.Printer("en").Error(portal.ErrNotLocked), `data-kind="tokencard" data-status="active"`)
		// Another citizen's key, and nonsense: 404, nothing changed.
		demoKey := f.keysOf(f.demoCitizen())[0]
		for _, path := range []string{"/keys/" + strconv64(demoKey.ID) + "/reactivate", "/keys/999999/reactivate", "/keys/x/reactivate"} {
			if res := b.post(path, nil); res.status != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", path, res.status)
			}
		}
		if len(f.events(audit.KeyReactivated)) != 1 {
			t.Error("a refused reactivation was recorded")
		}
	})
}

// TestWizardNewAfterConfirmation: the confirmation stays where the browser's Back finds it;
// "Activate a new digital key" starts a new wizard after it, and continues one in progress.
func TestWizardNewAfterConfirmation(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("nora", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		b.next(nil)
		_, first := b.next(url.Values{"kind": {"emailcode"}})
		// In progress: ?new=1 continues it.
		if again := b.get("/keys/activate?new=1"); hiddenOf(again.body).Get("wizard") != first.Get("wizard") || hiddenOf(again.body).Get("step") != "activate" {
			t.Errorf("?new=1 during an activation: %v", hiddenOf(again.body))
		}
		b.next(url.Values{"code": {f.mailedCode("registration_code", c.email)}})
		if _, h := b.wizard(); h.Get("step") != "done" {
			t.Fatalf("at %q", h.Get("step"))
		}
		if _, h := b.wizard(); h.Get("step") != "done" { // Back: still the confirmation
			t.Errorf("GET after the confirmation: %q", h.Get("step"))
		}
		res := b.get("/keys/activate?new=1")
		if h := hiddenOf(res.body); h.Get("step") != "email" || h.Get("wizard") == first.Get("wizard") {
			t.Errorf("?new=1 after the confirmation: %v, want a new wizard at step 1", h)
		}
	})
}

// TestWizardExpiredCode: a registration code past its 5 minutes is refused (and not counted);
// "Request a new code" sends one that works.
func TestWizardExpiredCode(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("olga", "de", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		b.next(nil)
		_, hidden := b.next(url.Values{"kind": {"emailcode"}})
		old := f.mailedCode("registration_code", c.email)
		f.clock.Advance(5 * time.Minute)
		res := b.wizardPost(hidden, "next", url.Values{"code": {old}})
		wantFormError(t, f, "expired code", "de", res.body, "code", "Dieser Registrierungscode ist nicht mehr gültig. Bitte fordern Sie einen neuen Code an.")
		if a, _ := db.GetAttempt(t.Context(), string(attempts.EnrolmentScope(c.acct.ID))); a.Failures != 0 {
			t.Errorf("an expired code counted %d attempts", a.Failures)
		}
		res = b.wizardPost(hidden, "resend", nil)
		wantFlash(t, "resend", f, res, "/keys/activate", flashCodeResent)
		wantContains(t, "resent", b.get(res.location()).body, "Ein neuer Registrierungscode wurde gesendet.")
		fresh := f.mailedCode("registration_code", c.email)
		if fresh != old {
			res = b.wizardPost(hidden, "next", url.Values{"code": {old}})
			wantContains(t, "superseded code", res.body, `class="error-summary"`)
		}
		if res := b.wizardPost(hidden, "next", url.Values{"code": {fresh}}); res.location() != "/keys/activate" {
			t.Errorf("new code → %d %q", res.status, res.location())
		}
		if f.countKeys(c, keys.EmailCode) != 1 {
			t.Error("no key after the new code")
		}
	})
}
