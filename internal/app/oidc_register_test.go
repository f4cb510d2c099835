package app

import (
	"html"
	"net/url"
	"regexp"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// registerLinkRE finds the chooser's "Create an account" link.
var registerLinkRE = regexp.MustCompile(`<a href="(/register[^"]*)">`)

// registerFrom follows "Create an account" on the chooser p and registers username with email,
// entering the e-mailed code; it returns the page the new citizen lands on.
func (tn *testNode) registerFrom(t *testing.T, c *webtest.Citizen, p webtest.Page, username, email string) webtest.Page {
	t.Helper()
	m := registerLinkRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no link to create an account on %s:\n%s", p.URL, p.Body)
	}
	p, err := c.Get(html.UnescapeString(m[1]))
	mustOK(t, p, err, "/register")
	form := url.Values{"username": {username}, "name": {"Nele Nieuw"}, "email": {email}, "language": {"en"},
		"password": {"een lang en geheim wachtwoord"}, "confirm": {"een lang en geheim wachtwoord"}, "return": {p.Hidden("return")}}
	p, err = c.Post("/register", form)
	mustOK(t, p, err, "/register/code")
	p, err = c.Post("/register/code", url.Values{"code": {tn.lastCode(t, email)}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOIDCRegisterNewcomer: a newcomer an online service sends to log on creates an account
// from the chooser and gets back to the online service: at once when level low is enough;
// after activating a stronger key in the wizard, and logging on with it, when it is not.
func TestOIDCRegisterNewcomer(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})

		t.Run("low", func(t *testing.T) {
			b := tn.browser()
			ar := rp.start(acrValues(eidasLow))
			chooser, err := visit(b, ar.url)
			if err != nil || chooser.URL.Path != "/login" {
				t.Fatalf("authorization request: %v at %v", err, chooser.URL)
			}
			p := tn.registerFrom(t, b, chooser, "nele", "nele@example.org")
			cb := toRP(p)
			if cb == nil {
				t.Fatalf("after the registration: status %d at %s, %q; want back at the online service", p.Status, p.URL, p.Alert())
			}
			res, err := rp.finish(cb, ar)
			if err != nil {
				t.Fatal(err)
			}
			if res.claims.Name != "Nele Nieuw" || res.claims.Email != "nele@example.org" || res.claims.ACR != eidasLow {
				t.Errorf("claims %+v", res.claims)
			}
			if _, err := rp.userinfo(res); err != nil {
				t.Errorf("userinfo: %v", err)
			}
		})

		t.Run("substantial", func(t *testing.T) {
			b := tn.browser()
			ar := rp.start(acrValues(eidasSubs))
			chooser, err := visit(b, ar.url)
			if err != nil || chooser.URL.Path != "/login" {
				t.Fatalf("authorization request: %v at %v", err, chooser.URL)
			}
			p := tn.registerFrom(t, b, chooser, "noor", "noor@example.org")
			mustOK(t, p, nil, "/keys/activate")
			// The wizard: the address, the e-mail code key, its code.
			steps := []url.Values{
				{"action": {"next"}, "email": {"noor@example.org"}},
				{"action": {"next"}, "kind": {"emailcode"}},
				{"action": {"next"}},
			}
			for _, f := range steps {
				if f.Get("kind") == "" && p.Hidden("step") == "activate" {
					break
				}
				f.Set("wizard", p.Hidden("wizard"))
				f.Set("step", p.Hidden("step"))
				if p, err = b.Post("/keys/activate", f); err != nil || p.Alert() != "" {
					t.Fatalf("wizard step %v: %v, %q", f, err, p.Alert())
				}
			}
			if p.Hidden("step") != "activate" {
				t.Fatalf("the wizard stands at %q, want activate:\n%s", p.Hidden("step"), p.Body)
			}
			p, err = b.Post("/keys/activate", url.Values{"action": {"next"}, "wizard": {p.Hidden("wizard")}, "step": {"activate"},
				"code": {tn.lastCode(t, "noor@example.org")}})
			if err != nil || p.Hidden("step") != "done" {
				t.Fatalf("activation: %v, step %q, %q", err, p.Hidden("step"), p.Alert())
			}
			m := regexp.MustCompile(`<a class="button" href="(/oidc/continue[^"]*)">`).FindStringSubmatch(p.Body)
			if m == nil {
				t.Fatalf("the wizard's last step does not lead back to the online service:\n%s", p.Body)
			}
			chooser, err = b.Get(html.UnescapeString(m[1]))
			if err != nil || chooser.URL.Path != "/login" {
				t.Fatalf("back to the online service: %v at %v, want the chooser for the new key", err, chooser.URL)
			}
			p, err = b.LogonFrom(chooser, "emailcode", "noor", "een lang en geheim wachtwoord")
			mustOK(t, p, err, "/login/code")
			if p, err = b.SubmitCode(tn.lastCode(t, "noor@example.org")); err != nil {
				t.Fatal(err)
			}
			cb := toRP(p)
			if cb == nil {
				t.Fatalf("after the logon with the new key: status %d at %s, %q", p.Status, p.URL, p.Alert())
			}
			res, err := rp.finish(cb, ar)
			if err != nil {
				t.Fatal(err)
			}
			if res.claims.Name != "Nele Nieuw" || res.claims.Email != "noor@example.org" || res.claims.ACR != eidasSubs {
				t.Errorf("claims %+v", res.claims)
			}
		})
	})
}
