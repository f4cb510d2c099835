package web

import (
	"context"
	"encoding/base32"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// citizen is a citizen of a portal test: the demo citizen (every key) or one made with
// newCitizen. All have the token card codes of the fixture (f.codes) and the app secret of
// logintest.
type citizen struct {
	username, password, email string
	acct                      store.Account
}

// demoCitizen is the fixture's citizen, with a token card, an e-mail key and an app key.
func (f *fixture) demoCitizen() citizen {
	return citizen{username: demoUser, password: demoPassword, email: "demo@example.org", acct: f.acct}
}

// newCitizen creates a citizen called username with the given keys besides the password.
func (f *fixture) newCitizen(username, lang string, kinds ...string) citizen {
	f.t.Helper()
	if kinds == nil {
		kinds = []string{}
	}
	c := logintest.Citizen{Username: username, Name: "Citizen " + username, Email: username + "@example.org", Language: lang,
		Password: username + "-password-1"}
	w := logintest.New(f.t, f.db, logintest.Options{Citizen: c, Kinds: kinds})
	return citizen{username: c.Username, password: c.Password, email: c.Email, acct: w.Account}
}

var (
	anyPositionRE = regexp.MustCompile(`(?:number|nummer|numéro|Nummer) (\d{1,2})\b`)
	codeLineRE    = regexp.MustCompile(`(?m)^ {4}(\d{6})$`)
	hiddenRE      = regexp.MustCompile(`name="(wizard|step)" value="([^"]*)"`)
	secretRE      = regexp.MustCompile(`<code id="secret">([A-Z2-7 ]+)</code>`)
)

// mailedCode returns the code in the newest e-mail of template to address.
func (f *fixture) mailedCode(template, to string) string {
	f.t.Helper()
	ms, err := f.db.ListMessages(context.Background(), 500)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Template == template && m.ToAddress == to {
			if sub := codeLineRE.FindStringSubmatch(m.TextBody); sub != nil {
				return sub[1]
			}
		}
	}
	f.t.Fatalf("no %s e-mail with a code to %s", template, to)
	return ""
}

// mails counts the e-mails of template to address.
func (f *fixture) mails(template, to string) int {
	f.t.Helper()
	ms, err := f.db.ListMessages(context.Background(), 500)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.Template == template && m.ToAddress == to {
			n++
		}
	}
	return n
}

// keysOf returns the citizen's key rows.
func (f *fixture) keysOf(c citizen) []store.Key {
	f.t.Helper()
	ks, err := f.db.ListKeys(context.Background(), c.acct.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return ks
}

// countKeys counts the citizen's keys of kind.
func (f *fixture) countKeys(c citizen, kind string) int {
	n := 0
	for _, k := range f.keysOf(c) {
		if k.Kind == kind {
			n++
		}
	}
	return n
}

// events returns the audit events of type typ.
func (f *fixture) events(typ string) []store.AuditEvent {
	f.t.Helper()
	es, err := f.db.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range es {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// logonAs logs c on with kind from the chooser (at substantial unless kind is the password),
// answering the code step as the citizen would, and returns the final redirect.
func (b *browser) logonAs(c citizen, kind, ret string) *response {
	b.f.t.Helper()
	level := "substantial"
	if kind == keys.Password {
		level = "low"
	}
	if res := b.choose(kind, level, ret); res.status != http.StatusSeeOther {
		b.f.t.Fatalf("choose %s: %d", kind, res.status)
	}
	res := b.post("/login/password", url.Values{"username": {c.username}, "password": {c.password}})
	if kind == keys.Password {
		return res
	}
	if res.location() != "/login/code" {
		b.f.t.Fatalf("password of %s for %s: %d %s\n%s", c.username, kind, res.status, res.location(), res.body)
	}
	page := b.get("/login/code").body
	var code string
	switch kind {
	case keys.TokenCard:
		m := anyPositionRE.FindStringSubmatch(page)
		if m == nil {
			b.f.t.Fatalf("no card position:\n%s", page)
		}
		pos, _ := strconv.Atoi(m[1])
		code = b.f.codes[pos-1]
	case keys.EmailCode:
		code = b.f.mailedCode("logon_code", c.email)
	default:
		b.f.t.Fatalf("logonAs: kind %s", kind)
	}
	return b.post("/login/code", url.Values{"code": {code}})
}

// logonApp logs c on with an app key whose secret is secret (base32, spaces allowed).
func (b *browser) logonApp(c citizen, secret, ret string) *response {
	b.f.t.Helper()
	b.choose(keys.TOTP, "substantial", ret)
	if res := b.post("/login/password", url.Values{"username": {c.username}, "password": {c.password}}); res.location() != "/login/code" {
		b.f.t.Fatalf("password for the app logon: %d %s", res.status, res.location())
	}
	return b.post("/login/code", url.Values{"code": {appCode(b.f.t, secret, b.f.clock.Now())}})
}

// appCode is the code an app shows at t for the secret as the page shows it.
func appCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(secret, " ", ""))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	return totp.Code(raw, at)
}

// wizardPage fetches the wizard's current step and returns it with its hidden fields.
func (b *browser) wizard() (*response, url.Values) {
	b.f.t.Helper()
	res := b.get("/keys/activate")
	if res.status != http.StatusOK {
		b.f.t.Fatalf("GET /keys/activate: %d %s", res.status, res.location())
	}
	return res, hiddenOf(res.body)
}

// hiddenOf returns the wizard and step fields of a wizard page.
func hiddenOf(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// wizardPost submits action on the step the hidden fields name, with more fields.
func (b *browser) wizardPost(hidden url.Values, action string, more url.Values) *response {
	b.f.t.Helper()
	form := url.Values{"action": {action}, "wizard": {hidden.Get("wizard")}, "step": {hidden.Get("step")}}
	for k, vs := range more {
		form[k] = vs
	}
	return b.post("/keys/activate", form)
}

// next submits the current step with fields and returns the page that follows (after the
// redirect), failing unless the submission was accepted.
func (b *browser) next(fields url.Values) (*response, url.Values) {
	b.f.t.Helper()
	_, hidden := b.wizard()
	res := b.wizardPost(hidden, "next", fields)
	if res.status != http.StatusSeeOther || res.location() != "/keys/activate" {
		b.f.t.Fatalf("next at %s: %d %s\n%.3000s", hidden.Get("step"), res.status, res.location(), res.body)
	}
	return b.wizard()
}

func strconv64(n int64) string { return strconv.FormatInt(n, 10) }

// wantFlash fails the test unless res redirects (303) to target and sets the one-time flash
// whose notice that page shows.
func wantFlash(t *testing.T, what string, f *fixture, res *response, target, flash string) {
	t.Helper()
	got := ""
	for _, c := range res.res.Cookies() {
		if c.Name == f.srv.cookies.flash && c.MaxAge >= 0 {
			got = c.Value
		}
	}
	if res.status != http.StatusSeeOther || res.location() != target || got != flash {
		t.Errorf("%s: %d → %q with flash %q, want 303 → %q with flash %q", what, res.status, res.location(), got, target, flash)
	}
}
