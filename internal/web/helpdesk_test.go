package web

import (
	"context"
	"crypto/rand"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// helpdeskFixture is a web fixture (more: options of its server) with the helpdesk console, an agent (a token card; the role
// is granted by the test) and carla, a citizen with a token card and an e-mail code key.
type helpdeskFixture struct {
	*fixture
	agent, carla citizen
}

func newHelpdeskFixture(t *testing.T, db *sqlstore.DB, more ...func(*fixture) option) *helpdeskFixture {
	t.Helper()
	f := newFixture(t, db)
	w := f.world
	svc, err := helpdesk.New(helpdesk.DefaultConfig(), helpdesk.Deps{Store: db, Logons: w.Service, Kinds: w.Kinds,
		PhaseOuts: phaseout.NewPolicies(db, f.clock.Now, 0, nil), Mailer: w.Mail, Audit: w.Audit, Hasher: w.Hasher,
		Now: f.clock.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	opts := []option{func(_ *Config, d *Deps) { d.Helpdesk, d.Roles = svc, db }}
	for _, o := range more {
		opts = append(opts, o(f))
	}
	f.newServer(db, w.Service, w.Kinds, opts)
	return &helpdeskFixture{fixture: f, agent: f.newCitizen("agent", "en", keys.TokenCard),
		carla: f.newCitizen("carla", "en", keys.TokenCard, keys.EmailCode)}
}

// grant gives c the helpdesk role.
func (f *helpdeskFixture) grant(c citizen) {
	f.t.Helper()
	if _, err := f.db.GrantRole(context.Background(), store.RoleGrant{AccountID: c.acct.ID, Role: store.RoleHelpdesk, GrantedBy: "test"}); err != nil {
		f.t.Fatal(err)
	}
}

// console returns a browser of the agent, with the role, logged on at level substantial.
func (f *helpdeskFixture) console() *browser {
	f.t.Helper()
	f.grant(f.agent)
	b := f.browser()
	if res := b.logonAs(f.agent, keys.TokenCard, "/"); res.status != http.StatusSeeOther {
		f.t.Fatalf("agent logon: %d", res.status)
	}
	return b
}

// act posts an action on the citizen's page.
func (b *browser) act(c citizen, action, reason string) *response {
	b.f.t.Helper()
	return b.post(citizenURL(c.acct.ID)+"/actions", url.Values{"action": {action}, "reason": {reason}})
}

// wrongPasswords types n wrong passwords for c in the logon.
func (f *helpdeskFixture) wrongPasswords(c citizen, n int) {
	f.t.Helper()
	b := f.browser()
	for range n {
		b.choose("password", "low", "/")
		b.post("/login/password", url.Values{"username": {c.username}, "password": {"not the password"}})
	}
}

func TestHelpdeskNeedsTheRole(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		b := f.browser()
		b.logonAs(f.agent, keys.TokenCard, "/")
		card := f.keysOf(f.carla)[0]
		for _, res := range []*response{
			b.get("/helpdesk"), b.get(citizenURL(f.carla.acct.ID)), b.post("/helpdesk", url.Values{"q": {"carla"}}),
			b.act(f.carla, "deactivate:"+strconv64(card.ID), "a citizen trying the console"),
		} {
			wantStatus(t, "without the role", res, http.StatusForbidden)
			wantContains(t, "without the role", res.body, html.EscapeString(f.bundle.Printer("en").T("helpdesk.forbidden")))
		}
		if k, _ := db.GetKey(t.Context(), card.ID); k.Status != store.KeyActive {
			t.Error("a citizen without the role deactivated a key")
		}
		// With the role, a password logon (level low) is sent to log on at substantial.
		f.grant(f.agent)
		low := f.browser()
		low.logonAs(f.agent, keys.Password, "/")
		if res := low.get("/helpdesk"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/login?level=substantial") {
			t.Errorf("the console at level low: %d %s", res.status, res.location())
		}
		// A revocation acts at once.
		ok := f.console()
		wantStatus(t, "with the role", ok.get("/helpdesk"), http.StatusOK)
		if _, err := db.RevokeRole(t.Context(), f.agent.acct.ID, store.RoleHelpdesk); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "after the revocation", ok.get("/helpdesk"), http.StatusForbidden)
	})
}

// TestHelpdeskExplainsAndLiftsAThrottle: carla is throttled after wrong passwords; the agent
// finds her, the console explains it in words with the time it ends, and lifting it (with a
// reason, audited with the agent's name, e-mailed) lets her log on — and the explanation says so.
func TestHelpdeskExplainsAndLiftsAThrottle(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		f.wrongPasswords(f.carla, 5)
		wantLogon(t, f.fixture, f.carla.username, f.carla.password, false)
		b := f.console()

		res := b.post("/helpdesk", url.Values{"q": {"CARLA@example.org"}})
		if res.status != http.StatusSeeOther || res.location() != citizenURL(f.carla.acct.ID) {
			t.Fatalf("find by address: %d %s", res.status, res.location())
		}
		notFound := b.post("/helpdesk", url.Values{"q": {"nobody"}})
		wantContains(t, "find nobody", notFound.body, `role="alert"`, f.bundle.Printer("en").T("helpdesk.error.not_found"))

		page := b.get(citizenURL(f.carla.acct.ID) + "?kind=tokencard&level=substantial")
		wantStatus(t, "citizen page", page, http.StatusOK)
		wantContains(t, "explanation", page.body, `data-obstacle="password_throttled"`, "5 wrong passwords in a row", "Lift the password block",
			`value="lift_password"`)

		res = b.act(f.carla, "lift_password", "   ")
		wantStatus(t, "without a reason", res, http.StatusOK)
		wantContains(t, "without a reason", res.body, `role="alert"`, f.bundle.Printer("en").T("helpdesk.error.reason_missing"),
			`aria-invalid="true"`)
		wantLogon(t, f.fixture, f.carla.username, f.carla.password, false)

		res = b.act(f.carla, "lift_password", "carla called, identity checked")
		wantFlash(t, "lift", f.fixture, res, citizenURL(f.carla.acct.ID), flashHelpdeskDone)
		if n := f.mails(mail.TemplateHelpdeskAction, f.carla.email); n != 1 {
			t.Errorf("%d helpdesk e-mails to carla, want 1", n)
		}
		es := f.events(helpdesk.Action)
		if len(es) != 1 || es[0].Detail["agent"] != "agent" || es[0].Reason != "carla called, identity checked" ||
			es[0].Detail["action"] != helpdesk.ActionLiftPassword || es[0].AccountID != f.carla.acct.ID {
			t.Errorf("audit: %+v", es)
		}
		page = b.get(citizenURL(f.carla.acct.ID) + "?kind=tokencard&level=substantial")
		wantContains(t, "explanation after", page.body, "Nothing stops a logon")
		wantLogon(t, f.fixture, f.carla.username, f.carla.password, true)

		// Lifting again: nothing to lift, said so, nothing recorded.
		res = b.act(f.carla, "lift_password", "again")
		wantContains(t, "lift again", res.body, `role="alert"`, f.bundle.Printer("en").T("helpdesk.error.not_throttled"))
		if n := len(f.events(helpdesk.Action)); n != 1 {
			t.Errorf("%d action events, want still 1", n)
		}
	})
}

// TestHelpdeskKeysAndMail: a locked card is explained and unlocked, a key deactivated, a
// bounced code e-mail explained with the server's answer, a failed e-mail resent.
func TestHelpdeskKeysAndMail(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		ctx := context.Background()
		var card, email store.Key
		for _, k := range f.keysOf(f.carla) {
			if k.Kind == keys.TokenCard {
				card = k
			} else {
				email = k
			}
		}
		if _, err := db.TransitionKey(ctx, card.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		b := f.console()
		page := b.get(citizenURL(f.carla.acct.ID) + "?kind=tokencard&level=substantial")
		wantContains(t, "locked card", page.body, `data-obstacle="key_locked"`, `value="unlock:`+strconv64(card.ID)+`"`)
		wantFlash(t, "unlock", f.fixture, b.act(f.carla, "unlock:"+strconv64(card.ID), "card found again"), citizenURL(f.carla.acct.ID), flashHelpdeskDone)
		if k, _ := db.GetKey(ctx, card.ID); k.Status != store.KeyActive {
			t.Errorf("card %s after unlock", k.Status)
		}
		wantFlash(t, "deactivate", f.fixture, b.act(f.carla, "deactivate:"+strconv64(card.ID), "card stolen"), citizenURL(f.carla.acct.ID), flashHelpdeskDone)
		if k, _ := db.GetKey(ctx, card.ID); k.Status != store.KeyDeactivated || k.DeactivationCause != keys.CauseHelpdesk {
			t.Errorf("card %s (%s) after deactivate", k.Status, k.DeactivationCause)
		}
		if f.mails(mail.TemplateKeyDeactivated, f.carla.email) != 1 || f.mails(mail.TemplateKeyActivated, f.carla.email) != 1 {
			t.Error("the unlock and the deactivation were not both e-mailed")
		}

		// A logon code e-mail that bounced.
		lb := f.browser()
		lb.choose(keys.EmailCode, "substantial", "/")
		lb.post("/login/password", url.Values{"username": {f.carla.username}, "password": {f.carla.password}})
		failLatest(t, f.fixture, f.carla, mail.TemplateLogonCode, "550 5.1.1 mailbox unavailable")
		page = b.get(citizenURL(f.carla.acct.ID) + "?kind=emailcode&level=substantial")
		wantContains(t, "bounced", page.body, `data-obstacle="mail_bounced"`, "550 5.1.1 mailbox unavailable")
		_ = email

		// A failed e-mail without a code is resent; one whose code expired cannot be.
		failed := failLatest(t, f.fixture, f.carla, mail.TemplateKeyDeactivated, "451 try later, for good")
		wantFlash(t, "resend", f.fixture, b.act(f.carla, "resend:"+strconv64(failed.ID), "address fixed"), citizenURL(f.carla.acct.ID), flashHelpdeskDone)
		if m, _ := db.GetMessage(ctx, failed.ID); m.State != store.MessagePending {
			t.Errorf("resent message %s, want pending", m.State)
		}
		code := latestMessage(t, f.fixture, f.carla, mail.TemplateLogonCode)
		res := b.act(f.carla, "resend:"+strconv64(code.ID), "try the code again")
		wantContains(t, "resend a code", res.body, `role="alert"`, html.EscapeString(f.bundle.Printer("en").T("helpdesk.error.secret_gone")))
	})
}

// failLatest makes the newest e-mail of template to c fail for good with answer.
func failLatest(t *testing.T, f *fixture, c citizen, template, answer string) store.Message {
	t.Helper()
	ctx := context.Background()
	m := latestMessage(t, f, c, template)
	if err := f.db.RequeueMessage(ctx, m.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ms, err := f.db.ClaimMessages(ctx, "test", f.clock.Now(), f.clock.Now().Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ms {
		if c.ID == m.ID {
			if err := f.db.MarkFailed(ctx, m.ID, "test", answer); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("message %d not claimed", m.ID)
	return m
}

func latestMessage(t *testing.T, f *fixture, c citizen, template string) store.Message {
	t.Helper()
	ms := f.messagesTo(c.email)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Template == template {
			return ms[i]
		}
	}
	t.Fatalf("no %s e-mail to %s", template, c.email)
	return store.Message{}
}

// TestHelpdeskRefusals: a forged citizen id, another citizen's key, the agent's own account,
// an unknown action: refused, localised, nothing changed or recorded.
func TestHelpdeskRefusals(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		b := f.console()
		p := f.bundle.Printer("en")
		agentCard := f.keysOf(f.agent)[0]
		if res := b.get(citizenURL(999999)); res.status != http.StatusNotFound {
			t.Errorf("a forged citizen's page: %d", res.status)
		}
		if res := b.post(citizenURL(999999)+"/actions", url.Values{"action": {"recovery_code"}, "reason": {"x"}}); res.status != http.StatusNotFound {
			t.Errorf("an action on a forged citizen: %d", res.status)
		}
		for _, c := range []struct {
			what, action string
			on           citizen
			want         string
		}{
			{"another citizen's key", "deactivate:" + strconv64(agentCard.ID), f.carla, p.T("helpdesk.error.no_such_key")},
			{"the agent's own account", "deactivate:" + strconv64(agentCard.ID), f.agent, p.T("helpdesk.error.own_account")},
			{"own account, recovery code", "recovery_code", f.agent, p.T("helpdesk.error.own_account")},
			{"an unknown action", "format_disk", f.carla, p.T("helpdesk.error.action")},
			{"a key id that is no number", "unlock:abc", f.carla, p.T("helpdesk.error.no_such_key")},
		} {
			res := b.act(c.on, c.action, "a reason")
			wantStatus(t, c.what, res, http.StatusOK)
			wantContains(t, c.what, res.body, `role="alert"`, html.EscapeString(c.want))
		}
		if k, _ := db.GetKey(t.Context(), agentCard.ID); k.Status != store.KeyActive {
			t.Error("a refused action deactivated a key")
		}
		if n := len(f.events(helpdesk.Action)); n != 0 {
			t.Errorf("%d action events after refusals, want 0", n)
		}
		page := b.get(citizenURL(f.agent.acct.ID))
		wantContains(t, "own page", page.body, html.EscapeString(p.T("helpdesk.citizen.own")))
		if strings.Contains(page.body, `name="reason"`) {
			t.Error("the agent's own page offers actions")
		}
	})
}

var recoveryCodeRE = regexp.MustCompile(`<code id="recovery-code">([A-Z0-9-]+)</code>`)

// issueCode has the agent's console b issue a recovery code for c and returns it as shown.
func (b *browser) issueCode(c citizen) string {
	b.f.t.Helper()
	res := b.act(c, "recovery_code", "lost card; identity checked at the counter")
	m := recoveryCodeRE.FindStringSubmatch(res.body)
	if m == nil {
		b.f.t.Fatalf("no code shown: %d\n%.3000s", res.status, res.body)
	}
	return m[1]
}

// TestRecoveryCode: the agent issues a code, shown once; the citizen — whose lost token card
// is still active, so no logon of theirs reaches level substantial — uses it with their
// username to set a new password (same answer for a wrong code and an unknown username), logs
// on with it and lands in the activation wizard, which lets them activate a key although the
// logon is at level low; the code works once.
func TestRecoveryCode(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		dora := f.newCitizen("dora", "en", keys.TokenCard)
		b := f.console()
		res := b.act(dora, "recovery_code", "lost card; identity checked at the counter")
		wantStatus(t, "issue", res, http.StatusOK)
		if res.header.Get("Cache-Control") != "no-store" {
			t.Error("the recovery code page may be cached")
		}
		m := recoveryCodeRE.FindStringSubmatch(res.body)
		if m == nil {
			t.Fatalf("no code shown:\n%.3000s", res.body)
		}
		code := m[1]
		if f.mails(mail.TemplateHelpdeskAction, dora.email) != 1 {
			t.Error("the citizen was not told a code was issued")
		}
		for _, msg := range f.messagesTo(dora.email) {
			if strings.Contains(msg.TextBody, code) || strings.Contains(msg.TextBody, strings.ReplaceAll(code, "-", "")) {
				t.Error("an e-mail carries the recovery code")
			}
		}

		c := f.browser()
		p := f.bundle.Printer("en")
		// The console says what the code is for before it is issued.
		wantContains(t, "the action's hint", b.get(citizenURL(dora.acct.ID)).body, html.EscapeString(p.T("helpdesk.action.recovery_code.hint")))
		wrongCode := "ABCD-EFGH-JKLM-NPQR"
		for _, try := range []struct{ user, code string }{{"dora", wrongCode}, {"nobody", code}} {
			res := c.post("/recover", url.Values{"username": {try.user}, "code": {try.code}})
			wantStatus(t, "wrong "+try.user, res, http.StatusOK)
			wantContains(t, "wrong "+try.user, res.body, html.EscapeString(p.T("recovery.error.recovery_code")))
		}
		shape := c.post("/recover", url.Values{"username": {""}, "code": {"12"}})
		wantContains(t, "shape", shape.body, html.EscapeString(p.T("recovery.error.username_empty")), html.EscapeString(p.T("recovery.error.code_shape")))

		res = c.post("/recover", url.Values{"username": {"Dora"}, "code": {strings.ToLower(strings.ReplaceAll(code, "-", " "))}})
		if res.status != http.StatusSeeOther || res.location() != "/reset/password" {
			t.Fatalf("the right code: %d %s\n%.2000s", res.status, res.location(), res.body)
		}
		res = c.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		wantFlash(t, "new password", f.fixture, res, "/login?return=%2Fkeys%2Factivate", flashPasswordReset)
		wantLogon(t, f.fixture, "dora", newPassword, true)
		if ev := lastEvent(t, f.fixture, "password.changed"); ev.Detail["via"] != "recovery_code" {
			t.Errorf("audit %+v, want via recovery_code", ev)
		}
		again := f.browser().post("/recover", url.Values{"username": {"dora"}, "code": {code}})
		wantContains(t, "the code again", again.body, html.EscapeString(p.T("recovery.error.recovery_code")))

		// The logon with the new password (level low) goes on into the wizard.
		c.choose(keys.Password, "low", "/keys/activate")
		res = c.post("/login/password", url.Values{"username": {"dora"}, "password": {newPassword}})
		if res.status != http.StatusSeeOther || res.location() != "/keys/activate" {
			t.Fatalf("logon after the recovery: %d %s", res.status, res.location())
		}
		page, _ := c.wizard()
		wantContains(t, "wizard step 1", page.body, `value="dora@example.org"`)
		page, _ = c.next(nil)
		wantContains(t, "wizard step 2", page.body, `value="totp"`, `value="emailcode"`)
		c.next(url.Values{"kind": {"totp"}})
		page, hidden := c.next(nil)
		sm := secretRE.FindStringSubmatch(page.body)
		if sm == nil {
			t.Fatalf("no secret:\n%.3000s", page.body)
		}
		if res := c.wizardPost(hidden, "next", url.Values{"code": {appCode(t, sm[1], f.clock.Now())}}); res.location() != "/keys/activate" {
			t.Fatalf("app code: %d %s\n%.2000s", res.status, res.location(), res.body)
		}
		if n := f.countKeys(dora, keys.TOTP); n != 1 {
			t.Fatalf("%d app keys after the recovery", n)
		}
		if es := f.events(audit.KeyActivated); len(es) == 0 || es[len(es)-1].Detail["via"] != "recovery_code" {
			t.Errorf("activation events %+v, want the last via recovery_code", es)
		}
		done, _ := c.wizard()
		wantContains(t, "confirmation", done.body, "You have successfully created a new digital key.")
	})
}

// TestRecoveryRightIsNarrow: the right a recovery code leaves counts in the wizard only, for
// one key, in the browser that redeemed it: deactivating a key still asks for a logon at level
// substantial, a second activation does too, and so does the wizard in another browser.
func TestRecoveryRightIsNarrow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		dora := f.newCitizen("dora", "en", keys.TokenCard)
		code := f.console().issueCode(dora)
		card := f.keysOf(dora)[0]

		c := f.browser()
		if res := c.post("/recover", url.Values{"username": {"dora"}, "code": {code}}); res.location() != "/reset/password" {
			t.Fatalf("redeem: %d %s", res.status, res.location())
		}
		c.post("/reset/password", url.Values{"password": {newPassword}, "confirm": {newPassword}})
		c.choose(keys.Password, "low", "/keys/activate")
		c.post("/login/password", url.Values{"username": {"dora"}, "password": {newPassword}})

		toSubstantial := func(what string, res *response) {
			t.Helper()
			if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/login?level=substantial") {
				t.Errorf("%s: %d %s, want a logon at substantial", what, res.status, res.location())
			}
		}
		cardURL := "/keys/" + strconv64(card.ID) + "/deactivate"
		toSubstantial("deactivation page", c.get(cardURL))
		toSubstantial("deactivation", c.post(cardURL, nil))
		if k, _ := db.GetKey(t.Context(), card.ID); k.Status != store.KeyActive {
			t.Fatalf("the recovery right deactivated the card: %s", k.Status)
		}
		// Another browser, the same password: no right there.
		other := f.browser()
		other.choose(keys.Password, "low", "/")
		other.post("/login/password", url.Values{"username": {"dora"}, "password": {newPassword}})
		toSubstantial("the wizard in another browser", other.get("/keys/activate"))

		// One key (the e-mail key this time), then the right is spent.
		c.next(nil)
		c.next(url.Values{"kind": {"emailcode"}})
		_, hidden := c.wizard()
		if res := c.wizardPost(hidden, "next", url.Values{"code": {f.mailedCode("registration_code", dora.email)}}); res.location() != "/keys/activate" {
			t.Fatalf("registration code: %d %s\n%.2000s", res.status, res.location(), res.body)
		}
		if n := f.countKeys(dora, keys.EmailCode); n != 1 {
			t.Fatalf("%d e-mail keys", n)
		}
		wantStatus(t, "the confirmation", c.get("/keys/activate"), http.StatusOK)
		toSubstantial("a second activation", c.get("/keys/activate?new=1"))
		toSubstantial("deactivation after the activation", c.get(cardURL))
	})
}

// TestRecoveryCodeHasItsOwnLimits: a stranger who fills the forgotten-password and
// forgotten-username limits for the citizen's username and address (and for the client
// address they share) does not keep the citizen from redeeming the helpdesk's code; wrong
// codes are still bounded by the code's own count.
func TestRecoveryCodeHasItsOwnLimits(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db, func(f *fixture) option { return withRecovery(f, recovery.DefaultConfig(), 10) })
		dora := f.newCitizen("dora", "en", keys.TokenCard)
		console := f.console()
		code := console.issueCode(dora)
		p := f.bundle.Printer("en")

		s := f.browser()
		for i := range 11 {
			id := []string{"dora", "Dora", dora.email}[i%3]
			res := s.post("/forgot/password", url.Values{"identifier": {id}})
			if i >= 9 && res.status != http.StatusTooManyRequests {
				t.Errorf("forgotten password %d: %d, want 429", i+1, res.status)
			}
			res = s.post("/forgot/username", url.Values{"email": {dora.email}})
			if i >= 3 && res.status != http.StatusTooManyRequests {
				t.Errorf("forgotten username %d: %d, want 429", i+1, res.status)
			}
		}
		res := s.post("/recover", url.Values{"username": {"dora"}, "code": {code}})
		if res.status != http.StatusSeeOther || res.location() != "/reset/password" {
			t.Fatalf("the code after the mail pages' limits: %d %s\n%.2000s", res.status, res.location(), res.body)
		}

		// Wrong codes: RecoveryTries of them, then even the right one is refused.
		code = console.issueCode(dora)
		g := f.browser()
		for range recovery.RecoveryTries {
			res := g.post("/recover", url.Values{"username": {"dora"}, "code": {"ABCD-EFGH-JKLM-NPQR"}})
			wantContains(t, "wrong code", res.body, html.EscapeString(p.T("recovery.error.recovery_code")))
		}
		res = g.post("/recover", url.Values{"username": {"dora"}, "code": {code}})
		wantStatus(t, "the right code after the wrong ones", res, http.StatusOK)
		wantContains(t, "the right code after the wrong ones", res.body, html.EscapeString(p.T("recovery.error.recovery_code")))
	})
}

// TestHelpdeskPagesInEveryLanguage: the console's pages have the shape of every page in every
// language.
func TestHelpdeskPagesInEveryLanguage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		f.wrongPasswords(f.carla, 5)
		b := f.console()
		for _, lang := range i18n.Languages() {
			b.cookies[langCookie] = lang
			pages := map[string]*response{
				"find":          b.get("/helpdesk"),
				"find error":    b.post("/helpdesk", url.Values{"q": {""}}),
				"citizen":       b.get(citizenURL(f.carla.acct.ID) + "?kind=totp&level=high"),
				"explained":     b.get(citizenURL(f.carla.acct.ID) + "?kind=tokencard&level=substantial"),
				"action error":  b.act(f.carla, "lift_password", ""),
				"recovery code": b.act(f.carla, "recovery_code", "identity checked"),
				"recover":       b.get("/recover"),
			}
			for name, res := range pages {
				checkPage(t, lang+" "+name, lang, res.body)
			}
		}
	})
}

// TestHelpdeskBelowLevelNamesWhatReachesIt: the fix of "this kind does not reach the level"
// names the kinds the logon's chooser offers at that level — all three code kinds at
// substantial, none at high (no kind here reaches it), where it says so instead.
func TestHelpdeskBelowLevelNamesWhatReachesIt(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		b := f.console()
		substantial := b.get(citizenURL(f.carla.acct.ID) + "?kind=password&level=substantial").body
		wantContains(t, "substantial", substantial, html.EscapeString(
			"Log on with a digital key of level substantial (security code via token, security code by e-mail or security code via mobile app), or activate one in My digital keys."))
		high := b.get(citizenURL(f.carla.acct.ID) + "?kind=totp&level=high").body
		wantContains(t, "high", high, html.EscapeString(f.bundle.Printer("en").T("helpdesk.fix.below_level_none", i18n.Msg("helpdesk.level.high"))))
		if strings.Contains(high, "Log on with a digital key of level") {
			t.Error("at level high the fix names kinds that do not reach it")
		}
		nl := f.bundle.Printer("nl").T("helpdesk.fix.below_level", i18n.Msg("helpdesk.level.substantial"),
			i18n.Alternatives{"key.tokencard.short", "key.emailcode.short", "key.totp.short"})
		if want := "Meld u aan met een digitale sleutel van niveau substantieel (beveiligingscode via token, beveiligingscode per e-mail of beveiligingscode via mobiele app), of activeer er een in Mijn digitale sleutels."; nl != want {
			t.Errorf("Dutch:\n%s\nwant\n%s", nl, want)
		}
	})
}

var (
	clockTimeRE = regexp.MustCompile(`(?:^|[^-+\d:])\d{2}:\d{2}\b`) // not a zone's offset
	instantRE   = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC(?:[+-]\d{2}:\d{2})?`)
)

// TestHelpdeskTimesShowTheZone: every time of day the console shows — the tables, the throttle,
// the explanation — carries its zone, in one form (helpdesk.FormatInstant in the server's zone).
func TestHelpdeskTimesShowTheZone(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		f.wrongPasswords(f.carla, 5)
		b := f.console()
		page := b.get(citizenURL(f.carla.acct.ID) + "?kind=tokencard&level=substantial").body
		_, main, _ := strings.Cut(page, `<main`)
		main, _, _ = strings.Cut(main, `</main>`)
		main = html.UnescapeString(main)
		if n := len(instantRE.FindAllString(main, -1)); n < 6 {
			t.Errorf("%d instants with their zone on the citizen's page, want the logons, e-mails, audit trail and throttle:\n%s", n, main)
		}
		if got, want := len(clockTimeRE.FindAllString(main, -1)), len(instantRE.FindAllString(main, -1)); got != want {
			t.Errorf("%d times of day, %d of them with their zone:\n%s", got, want, main)
		}
		// The fixture's clock stands in November: Brussels is at UTC+01:00.
		wantContains(t, "the zone", main, " UTC+01:00")
	})
}

// TestHelpdeskRefusesPrivilegedAccounts: a peer holding the helpdesk and operator roles is
// shown, but every action on them is refused (a recovery code would hand the agent their
// consoles), localised, nothing changed or recorded; their page offers no action.
func TestHelpdeskRefusesPrivilegedAccounts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		ctx := context.Background()
		pete := f.newCitizen("pete", "en", keys.TokenCard, keys.EmailCode)
		f.grant(pete)
		if _, err := db.GrantRole(ctx, store.RoleGrant{AccountID: pete.acct.ID, Role: store.RoleOperator, GrantedBy: "test"}); err != nil {
			t.Fatal(err)
		}
		var card, email store.Key
		for _, k := range f.keysOf(pete) {
			if k.Kind == keys.TokenCard {
				card = k
			} else {
				email = k
			}
		}
		if _, err := db.TransitionKey(ctx, card.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		lb := f.browser()
		lb.choose(keys.EmailCode, "substantial", "/")
		lb.post("/login/password", url.Values{"username": {pete.username}, "password": {pete.password}})
		msg := failLatest(t, f.fixture, pete, mail.TemplateLogonCode, "550 5.1.1 mailbox unavailable")
		f.wrongPasswords(pete, 5)
		b := f.console()
		p := f.bundle.Printer("en")
		for _, action := range []string{"recovery_code", "deactivate:" + strconv64(email.ID), "unlock:" + strconv64(card.ID),
			"lift_password", "lift_code:" + strconv64(card.ID), "resend:" + strconv64(msg.ID)} {
			res := b.act(pete, action, "pete says he lost his card")
			wantStatus(t, action, res, http.StatusOK)
			wantContains(t, action, res.body, `role="alert"`, html.EscapeString(p.T("helpdesk.error.privileged")))
			if recoveryCodeRE.MatchString(res.body) {
				t.Errorf("%s: a recovery code was shown for a privileged account", action)
			}
		}
		if k, _ := db.GetKey(ctx, card.ID); k.Status != store.KeyLocked {
			t.Errorf("card %s after refusals, want locked", k.Status)
		}
		if k, _ := db.GetKey(ctx, email.ID); k.Status != store.KeyActive {
			t.Errorf("e-mail key %s after refusals, want active", k.Status)
		}
		wantLogon(t, f.fixture, pete.username, pete.password, false)
		if n := len(f.events(helpdesk.Action)); n != 0 {
			t.Errorf("%d action events after refusals, want 0", n)
		}
		if n := f.mails(mail.TemplateHelpdeskAction, pete.email); n != 0 {
			t.Errorf("%d helpdesk e-mails to pete, want 0", n)
		}
		page := b.get(citizenURL(pete.acct.ID))
		wantStatus(t, "privileged page", page, http.StatusOK)
		wantContains(t, "privileged page", page.body, `id="privileged"`, html.EscapeString(p.T("helpdesk.citizen.privileged")))
		if strings.Contains(page.body, `name="reason"`) {
			t.Error("a privileged account's page offers actions")
		}
		// An ordinary citizen's page still does.
		if page := b.get(citizenURL(f.carla.acct.ID)); !strings.Contains(page.body, `name="reason"`) || strings.Contains(page.body, `id="privileged"`) {
			t.Error("an ordinary citizen's page offers no actions")
		}
	})
}

var auditRowRE = regexp.MustCompile(`<tr data-type="([^"]*)"><th scope="row">[^<]*</th><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>`)

// TestHelpdeskWordsEventsAndReasons: the console's audit table names every event type and
// reason in the page's language (Dutch here), never the raw code; an agent's reason is shown
// as typed.
func TestHelpdeskWordsEventsAndReasons(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		f.wrongPasswords(f.carla, 5) // logon.failure (bad_credentials), logon.throttled
		b := f.console()
		card := f.keysOf(f.carla)[0]
		wantFlash(t, "deactivate", f.fixture, b.act(f.carla, "deactivate:"+strconv64(card.ID), "kaart.gestolen"), citizenURL(f.carla.acct.ID), flashHelpdeskDone)
		b.post("/helpdesk", url.Values{"q": {"carla"}}) // helpdesk.viewed
		for _, e := range []store.AuditEvent{
			{Type: audit.LogonThrottled, Reason: audit.ReasonThrottleStarted},
			{Type: audit.KeyLocked, Reason: keys.CauseLockout, KeyKind: keys.EmailCode},
			{Type: audit.KeyDeactivated, Reason: keys.CauseLost, KeyKind: keys.EmailCode},
			{Type: audit.EnrolmentFailure, Reason: audit.ReasonCodeExpired},
			{Type: recovery.ResetFailure, Reason: recovery.ReasonLinkInvalid},
		} {
			e.AccountID = f.carla.acct.ID
			if err := f.world.Audit.Record(t.Context(), db, e); err != nil {
				t.Fatal(err)
			}
		}
		page := b.get(citizenURL(f.carla.acct.ID) + "?lang=nl")
		wantStatus(t, "Dutch page", page, http.StatusOK)
		rows := auditRowRE.FindAllStringSubmatch(page.body, -1)
		if len(rows) < 4 {
			t.Fatalf("%d audit rows, want at least 4:\n%.4000s", len(rows), page.body)
		}
		raw := regexp.MustCompile(`^[a-z]+\.[a-z_]+$`)
		code := regexp.MustCompile(`^[a-z_-]+$`)
		seen := map[string]bool{}
		for _, r := range rows {
			typ, name, reason := r[1], html.UnescapeString(r[2]), html.UnescapeString(r[3])
			seen[typ] = true
			if raw.MatchString(name) || name == typ {
				t.Errorf("event %s shown as %q", typ, name)
			}
			if typ == helpdesk.Action {
				if reason != "kaart.gestolen" {
					t.Errorf("the agent's reason shown as %q", reason)
				}
				continue
			}
			if raw.MatchString(reason) || (reason != "" && code.MatchString(reason)) {
				t.Errorf("event %s: reason shown as %q", typ, reason)
			}
		}
		for _, typ := range []string{audit.LogonFailure, audit.LogonThrottled, audit.KeyDeactivated, audit.KeyLocked, audit.EnrolmentFailure,
			recovery.ResetFailure, helpdesk.Action, helpdesk.Viewed} {
			if !seen[typ] {
				t.Errorf("no %s row", typ)
			}
		}
		wantContains(t, "Dutch page", page.body, "foute gebruikersnaam of wachtwoord", "gemeld als verloren of gestolen", "handeling van de helpdesk",
			"ongeldige link", "blokkering begonnen")
	})
}
