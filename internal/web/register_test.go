package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestRegister: "Create an account" from the logon page, in two languages: the form, the code
// sent to the address (the account does not exist before it is entered), a wrong code, the
// right one — the account with its password key, the audit events and the welcome e-mail in
// one go, the citizen logged on at level low under a new session id and in the activation
// wizard — then an e-mail key activated, and a later logon with the password.
func TestRegister(t *testing.T) {
	t.Parallel()
	eachStoreFactory(t, func(t *testing.T, newDB func(testing.TB) *sqlstore.DB) {
		for _, tc := range []struct {
			lang, link, heading, sentTo, wizard string
		}{
			{"en", "Create an account", "<h1>Create an account</h1>", "We sent a code to n•••@example.org.", "Confirm e-mail address"},
			{"nl", "Maak een account aan", "<h1>Een account aanmaken</h1>", "We hebben een code gestuurd naar n•••@example.org.", "E-mailadres bevestigen"},
		} {
			t.Run(tc.lang, func(t *testing.T) {
				db := newDB(t)
				f := newRegisterFixture(newFixture(t, db), nil)
				username, email := "newcomer."+tc.lang, "newcomer."+tc.lang+"@example.org"
				g := newRegistration(username, email)
				g.language = tc.lang
				b := f.browser()
				chooser := b.get("/login?lang=" + tc.lang).body
				wantContains(t, "chooser", chooser, `<a href="/register">`+tc.link+`</a>`)
				page := b.get("/register")
				wantStatus(t, "form", page, http.StatusOK)
				wantContains(t, "form", page.body, tc.heading, `id="username"`, `id="name"`, `id="email"`, `id="language"`,
					`id="password"`, `id="confirm"`, `autocomplete="new-password"`, `<option value="`+tc.lang+`" lang="`+tc.lang+`" selected>`)

				before := b.cookies[f.srv.cookies.session]
				b.register(g)
				if _, err := db.GetAccountByUsername(t.Context(), username); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("an account exists before the code was entered: %v", err)
				}
				code := b.get("/register/code")
				wantStatus(t, "code page", code, http.StatusOK)
				wantContains(t, "code page", code.body, tc.sentTo, `autocomplete="one-time-code"`, `action="/register/resend"`,
					`action="/register/cancel"`)
				if strings.Contains(code.body, email) {
					t.Error("the code page shows the whole address")
				}
				// The code e-mail names nobody (the name typed is not proven) and is in the
				// language chosen.
				ms := f.messagesTo(email)
				if len(ms) != 1 || ms[0].Template != "signup_code" || ms[0].Language != tc.lang || ms[0].AccountID != 0 ||
					strings.Contains(ms[0].TextBody, g.name) || ms[0].ToName != "" {
					t.Fatalf("e-mails to %s: %+v", email, ms)
				}
				right := f.mailedCode("signup_code", email)
				wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+1)%10 }, right)
				res := b.post("/register/code", url.Values{"code": {wrong}})
				wantFormError(t, f, "wrong code", tc.lang, res.body, "code", f.bundle.Printer(tc.lang).T("login.error.wrong_code"))

				res = b.post("/register/code", url.Values{"code": {right[:3] + " " + right[3:]}})
				if res.status != http.StatusSeeOther || res.location() != "/keys/activate" {
					t.Fatalf("right code: %d %s\n%.2000s", res.status, res.location(), res.body)
				}
				after := b.cookies[f.srv.cookies.session]
				if after == "" || after == before {
					t.Error("the session id did not change at the registration's logon")
				}
				acct, err := db.GetAccountByUsername(t.Context(), username)
				if err != nil {
					t.Fatal(err)
				}
				if acct.Email != email || acct.Name != g.name || acct.Language != tc.lang {
					t.Errorf("account %+v", acct)
				}
				if ok, _, err := f.world.Passwords.Verify(t.Context(), acct.PasswordHash, g.password); err != nil || !ok ||
					!strings.HasPrefix(acct.PasswordHash, "$argon2id$") {
					t.Errorf("the account's password hash %.20s… does not verify the password (%v)", acct.PasswordHash, err)
				}
				sess, err := f.sessionRow(after)
				if err != nil || sess.AccountID != acct.ID || sess.LoA != "low" || len(sess.AMR) != 1 || sess.AMR[0] != "pwd" {
					t.Errorf("session after registration: %+v, %v", sess, err)
				}
				created := f.events(audit.AccountCreated)
				logons := f.events(audit.LogonSuccess)
				if len(created) != 1 || created[0].AccountID != acct.ID || created[0].Actor != audit.ActorCitizen ||
					created[0].Detail["via"] != "registration" || len(logons) != 1 || logons[0].AccountID != acct.ID ||
					logons[0].KeyKind != keys.Password {
					t.Errorf("audit: created %+v, logons %+v", created, logons)
				}
				if n := f.mails("welcome", email); n != 1 {
					t.Errorf("%d welcome e-mails", n)
				}
				welcome := f.messagesTo(email)
				if w := welcome[len(welcome)-1]; !strings.Contains(w.TextBody, username) || w.AccountID != acct.ID {
					t.Errorf("welcome e-mail: %+v", w)
				}

				// Straight into the wizard, at step 1, at level low.
				wz, _ := b.wizard()
				wantContains(t, "wizard", wz.body, `aria-current="step"><span class="num" aria-hidden="true">1</span> `+tc.wizard)
				// An e-mail key: the wizard's registration code proves the mailbox again.
				b.get("/keys/activate?lang=en")
				b.next(nil)
				b.next(url.Values{"kind": {keys.EmailCode}})
				done, _ := b.next(url.Values{"code": {f.mailedCode("registration_code", email)}})
				wantContains(t, "wizard done", done.body, "You have successfully created a new digital key.")
				// The confirmation shows (and "End session" ends the session) after the logon at
				// level low; a change still needs a logon at substantial now.
				_, hidden := b.wizard()
				if res := b.wizardPost(hidden, "back", nil); !strings.HasPrefix(res.location(), "/login?level=substantial") {
					t.Errorf("a change after the first substantial key at level low: %d %s", res.status, res.location())
				}
				if res := b.get("/keys/activate?new=1"); !strings.HasPrefix(res.location(), "/login?level=substantial") {
					t.Errorf("a new activation after the first substantial key at level low: %d %s", res.status, res.location())
				}
				if res := b.wizardPost(hidden, "end", nil); res.status != http.StatusSeeOther || res.location() != "/login" {
					t.Errorf("End session: %d %s", res.status, res.location())
				}
				ks, err := db.ListKeys(t.Context(), acct.ID)
				if err != nil || len(ks) != 1 || ks[0].Kind != keys.EmailCode || ks[0].Status != store.KeyActive {
					t.Errorf("keys after the wizard: %+v, %v", ks, err)
				}

				// The password logs on, as for any citizen.
				c := citizen{username: username, password: g.password, email: email, acct: acct}
				if res := f.browser().logonAs(c, keys.Password, "/"); res.status != http.StatusSeeOther || res.location() != "/" {
					t.Errorf("password logon of the new citizen: %d %s", res.status, res.location())
				}
			})
		}
	})
}

// TestRegisterInvalid: every field's rule, the one password policy (common passwords, the
// username or address as password) and the confirmation, each with the GOV.UK error pattern;
// the values typed come back but never a password; nothing is written, sent or counted.
func TestRegisterInvalid(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		// One registration per address and hour: a refused form must not use it up.
		f := newRegisterFixture(newFixture(t, db), func(s *signupSetup) { s.perAddress = 1 })
		p := f.bundle.Printer("en")
		for _, tc := range []struct {
			name   string
			change func(*registration)
			field  string
			msg    string
		}{
			{"short username", func(g *registration) { g.username = "ab" }, "username", p.T("account.error.username_length", 3, 64)},
			{"username with a space", func(g *registration) { g.username = "anna peeters" }, "username", p.T("account.error.username_chars")},
			{"no name", func(g *registration) { g.name = "  " }, "name", p.T("account.error.name_length", 200)},
			{"name with a control character", func(g *registration) { g.name = "Anna\x07" }, "name", p.T("account.error.name_chars")},
			{"invalid address", func(g *registration) { g.email = "anna@localhost" }, "email", p.T("mail.error.invalid_address")},
			{"address with a header", func(g *registration) { g.email = "a@example.org\r\nBcc: x@example.org" }, "email", p.T("mail.error.invalid_address")},
			{"unknown language", func(g *registration) { g.language = "es" }, "language", p.T("account.error.language")},
			{"short password", func(g *registration) { g.password, g.confirm = "short", "short" }, "password", p.T("password.error.too_short", 12)},
			{"common password", func(g *registration) { g.password, g.confirm = "Password1234", "Password1234" }, "password", p.T("password.error.common")},
			{"password is the username", func(g *registration) { g.password, g.confirm = "Anna.Peeters.1", "Anna.Peeters.1" }, "password", p.T("password.error.personal")},
			{"password is the address", func(g *registration) { g.password, g.confirm = "anna.p@example.org", "anna.p@example.org" }, "password", p.T("password.error.personal")},
			{"confirmation differs", func(g *registration) { g.confirm = g.password + "!" }, "confirm", p.T("signup.error.confirm")},
		} {
			g := newRegistration("anna.peeters.1", "anna.p@example.org")
			tc.change(&g)
			res := f.browser().post("/register", g.form())
			wantStatus(t, tc.name, res, http.StatusOK)
			wantFormError(t, f, tc.name, "en", res.body, tc.field, tc.msg)
			if tc.field != "username" && !strings.Contains(res.body, `value="`+g.username+`"`) {
				t.Errorf("%s: the username typed is not shown back", tc.name)
			}
			if g.password != "" && strings.Contains(res.body, escapeHTML(g.password)) && tc.field != "password" {
				t.Errorf("%s: the page shows the password", tc.name)
			}
			if regexp.MustCompile(`<input id="(password|confirm)"[^>]* value=`).MatchString(res.body) {
				t.Errorf("%s: a password field is filled in", tc.name)
			}
		}
		// Everything wrong at once: one error per field, in the order of the form.
		res := f.browser().post("/register", url.Values{"username": {"x"}, "email": {"nope"}, "language": {"xx"}, "password": {"a"}, "confirm": {"b"}})
		summary := summaryRE.FindString(res.body)
		last := -1
		for _, field := range []string{"username", "name", "email", "language", "password", "confirm"} {
			i := strings.Index(summary, `href="#`+field+`"`)
			if i <= last {
				t.Errorf("everything wrong: %s is not listed after the fields before it:\n%s", field, summary)
			}
			last = i
		}
		if n := strings.Count(res.body, `aria-invalid="true"`); n != 6 {
			t.Errorf("everything wrong: %d invalid fields, want 6", n)
		}
		// Nothing written, nothing sent, no session, no use of the address's quota.
		if times, err := db.SignupTimesSince(t.Context(), "anna.p@example.org", time.Time{}); err != nil || len(times) != 0 {
			t.Errorf("signups after refused forms: %v, %v", times, err)
		}
		if n := len(f.messagesTo("anna.p@example.org")); n != 0 {
			t.Errorf("%d e-mails after refused forms", n)
		}
		if f.hashes.hashes.Load() != 0 {
			t.Errorf("refused forms hashed %d passwords", f.hashes.hashes.Load())
		}
		b := f.browser()
		b.register(newRegistration("anna.peeters.1", "anna.p@example.org"))
		if b.cookies[f.srv.cookies.session] == "" {
			t.Error("no session after a valid form")
		}
	})
}

// TestRegisterNoEnumeration: an address or a username another account has gets the same
// answers as free ones — the same redirect, the same code page byte for byte (but for the
// CSRF tokens), one password hash each — until the code proves the mailbox. The e-mail to a
// taken address says someone tried, carries no code, and no code is ever right for it; a
// taken username is only named once the right code was entered, and another one is asked
// for.
func TestRegisterNoEnumeration(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRegisterFixture(newFixture(t, db), nil)
		// d•••@example.org for all three: the demo citizen's address, and two free ones.
		free := newRegistration("dora.new", "dora@example.org")
		takenAddress := newRegistration("dirk.new", "dEMO@example.org") // in any letter case
		takenUsername := newRegistration("Demo", "dean@example.org")
		var pages [3]string
		var browsers [3]*browser
		for i, g := range []registration{free, takenAddress, takenUsername} {
			b := f.browser()
			before := f.hashes.hashes.Load()
			res := b.register(g)
			if got := f.hashes.hashes.Load() - before; got != 1 {
				t.Errorf("%s: %d password hashes, want exactly 1", g.email, got)
			}
			if res.body != "" && strings.Contains(res.body, "@") {
				t.Errorf("%s: the redirect names an address", g.email)
			}
			pages[i] = withoutTokens(b.get("/register/code").body)
			browsers[i] = b
		}
		if pages[0] != pages[1] || pages[0] != pages[2] {
			t.Errorf("the code pages differ:\nfree address:\n%s\ntaken address:\n%s\ntaken username:\n%s", pages[0], pages[1], pages[2])
		}

		// The taken address: the account's holder is told, in their language, with no code.
		ms := f.messagesTo("demo@example.org")
		if len(ms) != 1 || ms[0].Template != "signup_in_use" || ms[0].AccountID != f.acct.ID || ms[0].ToName != demoName {
			t.Fatalf("e-mails to the taken address: %+v", ms)
		}
		wantContains(t, "notice e-mail", ms[0].TextBody, "Someone, perhaps you, tried to create a new account",
			"http://127.0.0.1/help/forgot")
		if anyCodeRE.MatchString(ms[0].TextBody) || !ms[0].SecretUntil.IsZero() {
			t.Errorf("the notice carries a code:\n%s", ms[0].TextBody)
		}
		// No code is right for it, and wrong codes are answered as for a free address.
		code := f.mailedCode("signup_code", "dora@example.org")
		for i, b := range browsers[:2] {
			res := b.post("/register/code", url.Values{"code": {"000000"}})
			pages[i] = withoutTokens(res.body)
		}
		if pages[0] != pages[1] {
			t.Errorf("a wrong code is answered differently:\n%s\n---\n%s", pages[0], pages[1])
		}
		for _, guess := range []string{code, "123456", "654321", "111111"} {
			if res := browsers[1].post("/register/code", url.Values{"code": {guess}}); res.status != http.StatusOK {
				t.Errorf("a guess for the taken address: %d %s", res.status, res.location())
			}
		}
		res := browsers[1].post("/register/code", url.Values{"code": {code}})
		wantFormError(t, f, "taken address, tries used up", "en", res.body, "code", f.bundle.Printer("en").T("login.error.code_tries"))
		if _, err := db.GetAccountByUsername(t.Context(), takenAddress.username); !errors.Is(err, store.ErrNotFound) {
			t.Error("a registration of a taken address created an account")
		}

		// The taken username: the code proves the mailbox, then another username is asked for.
		b := browsers[2]
		res = b.post("/register/code", url.Values{"code": {f.mailedCode("signup_code", "dean@example.org")}})
		wantStatus(t, "taken username", res, http.StatusOK)
		wantFormError(t, f, "taken username", "en", res.body, "username", "This username cannot be used. Please choose another username.")
		wantContains(t, "taken username", res.body, "<h1>Choose another username</h1>", "The username Demo cannot be used")
		if got := f.events(audit.AccountCreated); len(got) != 0 {
			t.Fatalf("accounts created: %+v", got)
		}
		// A username of the wrong shape is refused like on the form.
		res = b.post("/register/username", url.Values{"username": {takenUsername.password}})
		wantFormError(t, f, "username = password", "en", res.body, "username", f.bundle.Printer("en").T("account.error.username_chars"))
		res = b.post("/register/username", url.Values{"username": {"dean.new"}})
		if res.status != http.StatusSeeOther || res.location() != "/keys/activate" {
			t.Fatalf("another username: %d %s\n%.2000s", res.status, res.location(), res.body)
		}
		acct, err := db.GetAccountByUsername(t.Context(), "dean.new")
		if err != nil || acct.Email != "dean@example.org" {
			t.Errorf("account with the new username: %+v, %v", acct, err)
		}
		if demo, err := db.GetAccountByUsername(t.Context(), "demo"); err != nil || demo.ID != f.acct.ID || demo.Email != "demo@example.org" {
			t.Errorf("the demo citizen changed: %+v, %v", demo, err)
		}

		// The free address completes as usual.
		if res := browsers[0].post("/register/code", url.Values{"code": {code}}); res.location() != "/keys/activate" {
			t.Errorf("free registration: %d %s", res.status, res.location())
		}
	})
}

// TestRegisterUsernameTries: after the code, usernames are tried a few times (each one says
// whether it exists), then the registration ends; a username that is the password is refused.
func TestRegisterUsernameTries(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRegisterFixture(newFixture(t, db), nil)
		for _, u := range []string{"taken1", "taken2", "taken3", "taken4", "taken5", "taken6"} {
			f.newCitizen(u, "en")
		}
		b := f.browser()
		g := newRegistration("taken1", "tries@example.org")
		g.password, g.confirm = "new-username-as-password", "new-username-as-password"
		b.register(g)
		res := b.post("/register/code", url.Values{"code": {f.mailedCode("signup_code", "tries@example.org")}})
		wantContains(t, "taken", res.body, "<h1>Choose another username</h1>")
		res = b.post("/register/username", url.Values{"username": {"new-username-as-password"}})
		wantFormError(t, f, "username = password", "en", res.body, "username", f.bundle.Printer("en").T("signup.error.username_is_password"))
		for _, u := range []string{"taken2", "TAKEN3", "taken4", "taken5"} {
			res = b.post("/register/username", url.Values{"username": {u}})
			wantFormError(t, f, u, "en", res.body, "username", "This username cannot be used. Please choose another username.")
		}
		res = b.post("/register/username", url.Values{"username": {"free.at.last"}})
		wantStatus(t, "too many usernames", res, http.StatusOK)
		wantContains(t, "too many usernames", res.body, "<h1>Create an account</h1>", "You tried too many usernames.")
		if _, err := db.GetAccountByUsername(t.Context(), "free.at.last"); !errors.Is(err, store.ErrNotFound) {
			t.Error("an account was created after too many usernames")
		}
		if res := b.get("/register/code"); res.location() != "/register" {
			t.Errorf("after too many usernames the registration goes on: %d %s", res.status, res.location())
		}
	})
}

// TestRegisterCodes: the code step's refusals — a format error costs nothing, an expired code
// is refused, a new code replaces the old one, the tries of a code run out, the codes per
// window run out (the page says how long to wait), the registration's lifetime ends it, and a
// right code sent twice (a double click, a replay) creates one account.
func TestRegisterCodes(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRegisterFixture(newFixture(t, db), nil)
		p := f.bundle.Printer("en")
		b := f.browser()
		b.register(newRegistration("codes", "codes@example.org"))
		first := f.mailedCode("signup_code", "codes@example.org")
		res := b.post("/register/code", url.Values{"code": {"12ab"}})
		wantFormError(t, f, "format", "en", res.body, "code", p.T("login.error.code_format", 6))
		// Expired after 5 minutes.
		f.clock.Advance(5*time.Minute + time.Second)
		res = b.post("/register/code", url.Values{"code": {first}})
		wantFormError(t, f, "expired", "en", res.body, "code", p.T("login.error.code_expired"))
		// A new code; the old one no longer works.
		res = b.post("/register/resend", nil)
		wantFlash(t, "resend", f, res, "/register/code", flashSignupResent)
		wantContains(t, "after resend", b.get("/register/code").body, p.T("web.login.code.resent"))
		second := f.mailedCode("signup_code", "codes@example.org")
		if first != second {
			res = b.post("/register/code", url.Values{"code": {first}})
			wantFormError(t, f, "old code", "en", res.body, "code", p.T("login.error.wrong_code"))
		}
		// A third code is the last of the window (3 per 15 minutes): a fourth says how long.
		b.post("/register/resend", nil)
		res = b.post("/register/resend", nil)
		wantStatus(t, "resend limit", res, http.StatusOK)
		wantContains(t, "resend limit", res.body, "You have requested too many codes. You can request a new code in 10 minutes.")
		if n := f.mails("signup_code", "codes@example.org"); n != 3 {
			t.Errorf("%d codes sent, want 3", n)
		}
		third := f.mailedCode("signup_code", "codes@example.org")
		// The tries of a code: 5 wrong answers, then even the right one is refused.
		wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+1)%10 }, third)
		for i := 1; i < 5; i++ {
			b.post("/register/code", url.Values{"code": {wrong}})
		}
		res = b.post("/register/code", url.Values{"code": {wrong}})
		wantFormError(t, f, "fifth wrong code", "en", res.body, "code", p.T("login.error.code_tries"))
		res = b.post("/register/code", url.Values{"code": {third}})
		wantFormError(t, f, "right code after the tries", "en", res.body, "code", p.T("login.error.code_tries"))

		// The registration's lifetime (30 minutes) ends it, however busy the session is.
		for range 4 {
			f.clock.Advance(6 * time.Minute)
			wantStatus(t, "still registering", b.get("/register/code"), http.StatusOK)
		}
		f.clock.Advance(time.Minute)
		res = b.get("/register/code")
		wantFlash(t, "ended", f, res, "/register", flashSignupExpired)
		wantContains(t, "ended", b.get("/register").body, p.T("signup.error.expired"))

		// A right code sent twice at once: one account.
		b2 := f.browser()
		b2.register(newRegistration("twice", "twice@example.org"))
		code := f.mailedCode("signup_code", "twice@example.org")
		var wg sync.WaitGroup
		results := make([]*response, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				twin := &browser{f: f, cookies: map[string]string{}, header: http.Header{}}
				for k, v := range b2.cookies {
					twin.cookies[k] = v
				}
				results[i] = twin.post("/register/code", url.Values{"code": {code}})
			}()
		}
		wg.Wait()
		won := 0
		for _, res := range results {
			if res.location() == "/keys/activate" {
				won++
			}
		}
		created := 0
		for _, e := range f.events(audit.AccountCreated) {
			if a, err := db.GetAccount(t.Context(), e.AccountID); err == nil && a.Username == "twice" {
				created++
			}
		}
		if won != 1 || created != 1 || f.mails("welcome", "twice@example.org") != 1 {
			t.Errorf("the right code sent 4 times at once: %d logged on, %d accounts, %d welcome e-mails; want 1 each",
				won, created, f.mails("welcome", "twice@example.org"))
		}
		// A replay with the old session after the account exists: the chooser says it is done.
		res = b2.post("/register/code", url.Values{"code": {code}})
		wantFlash(t, "replayed code", f, res, "/login", flashCompleted)
	})
}

// TestRegisterLimits: per client address (registrations and new codes per hour: the 429 page
// says how many minutes), per e-mail address (codes per window, and e-mails per day — for a
// taken address too, whose holder would otherwise get a notice per request), each with
// Retry-After; another client or address is not held up.
func TestRegisterLimits(t *testing.T) {
	t.Parallel()
	eachStoreFactory(t, func(t *testing.T, newDB func(testing.TB) *sqlstore.DB) {
		t.Run("per client address", func(t *testing.T) {
			f := newRegisterFixture(newFixture(t, newDB(t)), func(s *signupSetup) { s.perAddress = 2 })
			f.browser().register(newRegistration("one", "one@example.org"))
			f.browser().register(newRegistration("two", "two@example.org"))
			res := f.browser().post("/register", newRegistration("three", "three@example.org").form())
			wantStatus(t, "third registration", res, http.StatusTooManyRequests)
			wantContains(t, "third registration", res.body, "Too many accounts were requested from your network. Try again in 60 minutes.")
			if res.header.Get("Retry-After") != "3600" {
				t.Errorf("Retry-After %q", res.header.Get("Retry-After"))
			}
			if f.signupMails("three@example.org") != 0 {
				t.Error("a refused registration sent an e-mail")
			}
			other := f.browser()
			other.remote = "198.51.100.7:1234"
			other.register(newRegistration("three", "three@example.org"))
			// A new code counts too.
			res = other.post("/register/resend", nil)
			wantFlash(t, "resend from the other address", f, res, "/register/code", flashSignupResent)
			res = other.post("/register/resend", nil)
			wantContains(t, "resend over the quota", res.body, "Too many attempts. Try again in 60 minutes.")
		})
		t.Run("per e-mail address", func(t *testing.T) {
			f := newRegisterFixture(newFixture(t, newDB(t)), func(s *signupSetup) { s.cfg.PerEmail = 4 })
			for _, addr := range []string{"limit@example.org", "demo@example.org"} { // free, and taken
				for i := range 3 {
					b := f.browser()
					b.remote = "203.0.113." + string(rune('1'+i)) + ":4000"
					b.register(newRegistration("limit"+string(rune('a'+i)), strings.ToUpper(addr[:1])+addr[1:]))
				}
				// Three codes per window (email-code-max) to one address, whoever asks.
				res := f.browser().post("/register", newRegistration("limitd", addr).form())
				wantStatus(t, addr+": fourth within the window", res, http.StatusTooManyRequests)
				wantContains(t, addr, res.body, "You can request a new code in 15 minutes.")
				if res.header.Get("Retry-After") != "900" {
					t.Errorf("%s: Retry-After %q", addr, res.header.Get("Retry-After"))
				}
			}
			// After the window, one more e-mail of the day's four; then a day's wait.
			f.clock.Advance(16 * time.Minute)
			for _, addr := range []string{"limit@example.org", "demo@example.org"} {
				f.browser().register(newRegistration("limite", addr))
				res := f.browser().post("/register", newRegistration("limitf", addr).form())
				wantStatus(t, addr+": fifth of the day", res, http.StatusTooManyRequests)
				wantContains(t, addr, res.body, "Too many e-mails to create an account were sent to this e-mail address. Try again in 24 hours.")
				if got := f.signupMails(addr); got != 4 {
					t.Errorf("%s got %d registration e-mails, want 4", addr, got)
				}
			}
			if n := f.mails("signup_in_use", "demo@example.org"); n != 4 {
				t.Errorf("the taken address got %d notices, want 4", n)
			}
			// Another address is not held up.
			f.browser().register(newRegistration("elsewhere", "elsewhere@example.org"))
			// A day later the address may get e-mails again.
			f.clock.Advance(signup.Day)
			f.browser().register(newRegistration("nextday", "limit@example.org"))
		})
	})
}

// TestRegistrationOff: with the operator setting off, /register is a 404 and the logon page has
// no link to it; a logged-on citizen on /register goes home.
func TestRegistrationOff(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		if body := b.get("/login").body; strings.Contains(body, "/register") || strings.Contains(body, "Create an account") {
			t.Error("the logon page links to the registration while it is off")
		}
		for _, tc := range []struct {
			method, path string
		}{{"GET", "/register"}, {"POST", "/register"}, {"GET", "/register/code"}, {"POST", "/register/code"},
			{"POST", "/register/resend"}, {"GET", "/register/username"}, {"POST", "/register/username"}, {"POST", "/register/cancel"}} {
			var res *response
			if tc.method == "GET" {
				res = b.get(tc.path)
			} else {
				res = b.post(tc.path, newRegistration("off", "off@example.org").form())
			}
			wantStatus(t, tc.method+" "+tc.path, res, http.StatusNotFound)
			wantContains(t, tc.path, res.body, "Page not found")
		}
		if f.signupMails("off@example.org") != 0 {
			t.Error("an e-mail was sent with registration off")
		}
		on := newRegisterFixture(newFixture(t, db), nil)
		lb := on.browser()
		lb.logon()
		if res := lb.get("/register"); res.status != http.StatusSeeOther || res.location() != "/" {
			t.Errorf("GET /register logged on: %d %s", res.status, res.location())
		}
		if res := lb.post("/register", newRegistration("again", "again@example.org").form()); res.location() != "/" {
			t.Errorf("POST /register logged on: %d %s", res.status, res.location())
		}
	})
}

// TestRegisterCancel: "Start again" ends the registration: its code no longer creates the
// account, and the form is empty again.
func TestRegisterCancel(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRegisterFixture(newFixture(t, db), nil)
		b := f.browser()
		b.register(newRegistration("cancel", "cancel@example.org"))
		code := f.mailedCode("signup_code", "cancel@example.org")
		if res := b.post("/register/cancel", nil); res.location() != "/register" {
			t.Fatalf("cancel: %d %s", res.status, res.location())
		}
		if res := b.post("/register/code", url.Values{"code": {code}}); res.location() != "/register" {
			t.Errorf("code after cancel: %d %s", res.status, res.location())
		}
		if _, err := db.GetAccountByUsername(context.Background(), "cancel"); !errors.Is(err, store.ErrNotFound) {
			t.Error("a cancelled registration created its account")
		}
		if body := b.get("/register").body; strings.Contains(body, "cancel@example.org") {
			t.Error("the form shows the cancelled registration")
		}
	})
}

// TestRegisterAddressTakenMeanwhile: two registrations of one address; once the first created
// its account, the second's right code is told (its mailbox is proven, so this reveals nothing
// to anyone else) that the address has an account now, and creates nothing.
func TestRegisterAddressTakenMeanwhile(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRegisterFixture(newFixture(t, db), nil)
		first, second := f.browser(), f.browser()
		first.register(newRegistration("twin.one", "twin@example.org"))
		second.register(newRegistration("twin.two", "Twin@example.org"))
		var codes []string
		for _, m := range f.messagesTo("twin@example.org") {
			if c := codeLineRE.FindStringSubmatch(m.TextBody); c != nil && m.Template == "signup_code" {
				codes = append(codes, c[1])
			}
		}
		if len(codes) != 2 {
			t.Fatalf("codes to the address: %v", codes)
		}
		if res := first.post("/register/code", url.Values{"code": {codes[0]}}); res.location() != "/keys/activate" {
			t.Fatalf("first registration: %d %s", res.status, res.location())
		}
		res := second.post("/register/code", url.Values{"code": {codes[1]}})
		wantStatus(t, "second registration", res, http.StatusOK)
		wantContains(t, "second registration", res.body, "<h1>Create an account</h1>",
			"There is already an account with this e-mail address.")
		if _, err := db.GetAccountByUsername(t.Context(), "twin.two"); !errors.Is(err, store.ErrNotFound) {
			t.Error("a second account was created for the address")
		}
		if res := second.get("/register/code"); res.location() != "/register" {
			t.Errorf("the refused registration goes on: %d %s", res.status, res.location())
		}
	})
}

// TestRegisterStepPagesRedirect: each page of the registration serves only its own step — the
// username pages send a registration whose code is not entered yet to the code step, and the
// code pages send one whose code was right (its username taken meanwhile) to the username step,
// changing nothing.
func TestRegisterStepPagesRedirect(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newRegisterFixture(newFixture(t, db), nil)
		f.newCitizen("taken", "en")
		b := f.browser()
		b.register(newRegistration("taken", "steps@example.org"))
		wantStep := func(name string, res *response, want string) {
			t.Helper()
			if res.status != http.StatusSeeOther || res.location() != want {
				t.Errorf("%s: %d %q, want 303 %q", name, res.status, res.location(), want)
			}
		}
		wantStep("GET username before the code", b.get("/register/username"), "/register/code")
		wantStep("POST username before the code", b.post("/register/username", url.Values{"username": {"free"}}), "/register/code")
		if _, err := db.GetAccountByUsername(t.Context(), "free"); !errors.Is(err, store.ErrNotFound) {
			t.Error("a username posted before the code created an account")
		}
		res := b.post("/register/code", url.Values{"code": {f.mailedCode("signup_code", "steps@example.org")}})
		wantContains(t, "taken", res.body, "<h1>Choose another username</h1>")
		sent := len(f.messagesTo("steps@example.org"))
		wantStep("GET code after the code", b.get("/register/code"), "/register/username")
		wantStep("POST code after the code", b.post("/register/code", url.Values{"code": {"000000"}}), "/register/username")
		wantStep("resend after the code", b.post("/register/resend", nil), "/register/username")
		if got := len(f.messagesTo("steps@example.org")); got != sent {
			t.Errorf("resend after the code sent %d more e-mails", got-sent)
		}
		wantContains(t, "the username step still", b.get("/register/username").body, "<h1>Choose another username</h1>")
	})
}
