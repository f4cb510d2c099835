package app

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/signup"
)

// TestHTTPRegister: self-registration through the node as serve wires it (on by default): the
// logon page's link, the form, the code from the outbox, the account logged on in the
// activation wizard; the sweeper drops the registration's row after a day. With
// --registration=false the link is gone and /register is a 404.
func TestHTTPRegister(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newTestNode(t, backend, nil)
		c := tn.citizen()
		p, err := c.Get("/login")
		mustOK(t, p, err, "/login")
		if !strings.Contains(p.Body, `<a href="/register">Create an account</a>`) {
			t.Fatal("the logon page has no link to create an account")
		}
		p, err = c.Get("/register")
		mustOK(t, p, err, "/register")
		form := url.Values{"username": {"nieuweling"}, "name": {"Nele Nieuw"}, "email": {"nele@example.org"}, "language": {"nl"},
			"password": {"een lang en geheim wachtwoord"}, "confirm": {"een lang en geheim wachtwoord"}}
		p, err = c.Post("/register", form)
		mustOK(t, p, err, "/register/code")
		tn.wantMessage(t, p, "web.register.code.sent_to", "n•••@example.org")
		p, err = c.Post("/register/code", url.Values{"code": {tn.lastCode(t, "nele@example.org")}})
		mustOK(t, p, err, "/keys/activate")
		tn.wantMessage(t, p, "portal.wizard.step.1")
		acct, err := tn.Store.GetAccountByUsername(context.Background(), "nieuweling")
		if err != nil || acct.Language != "nl" || !strings.HasPrefix(acct.PasswordHash, "$argon2id$v=19$m=8192,t=1,p=1$") {
			t.Fatalf("account %+v, %v", acct, err)
		}

		// A day later the sweeper has removed the registration's row.
		times, err := tn.Store.SignupTimesSince(context.Background(), "nele@example.org", time.Time{})
		if err != nil || len(times) != 1 {
			t.Fatalf("signups before the sweep: %v, %v", times, err)
		}
		tn.clock.Advance(signup.Day + time.Minute)
		_, sweeper, err := tn.webHandler()
		if err != nil {
			t.Fatal(err)
		}
		tn.sweep(context.Background(), sweeper)
		if times, err := tn.Store.SignupTimesSince(context.Background(), "nele@example.org", time.Time{}); err != nil || len(times) != 0 {
			t.Errorf("signups after the sweep: %v, %v", times, err)
		}

		off := newTestNode(t, backend, func(c *config.Config) { c.Registration = false })
		if off.Signup != nil {
			t.Error("--registration=false wired a registration service")
		}
		oc := off.citizen()
		p, err = oc.Get("/login")
		mustOK(t, p, err, "/login")
		if strings.Contains(p.Body, "/register") {
			t.Error("the logon page links to the registration while it is off")
		}
		if p, err := oc.Get("/register"); err != nil || p.Status != 404 {
			t.Errorf("GET /register with registration off: %d, %v", p.Status, err)
		}
	})
}
