package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// This file: a step-up is answered only with the logon of the citizen it was started for,
// however the pages are driven (a second tab, a forged form, a sign-out in between).

// cardLogon continues a logon that reached the code step of a token card with user's code, and
// returns the page that follows; p is returned as it is when it is not the code step.
func (tn *testNode) cardLogon(t *testing.T, c *webtest.Citizen, p webtest.Page, user string) webtest.Page {
	t.Helper()
	if p.URL.Path != "/login/code" {
		return p
	}
	pos := p.Position()
	if pos < 1 || pos > 24 {
		t.Fatalf("no card position on the code page:\n%s", p.Body)
	}
	p, err := c.SubmitCode(tn.demo[user].CardCodes[pos-1])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantNotAnswered fails when p sent the browser to the online service with a code that gives
// tokens for anyone but sub.
func (rp *rpClient) wantNotAnswered(t *testing.T, p webtest.Page, ar authRequest, sub string) {
	t.Helper()
	cb := toRP(p)
	if cb == nil {
		return
	}
	res, err := rp.finish(cb, ar)
	if err == nil && res.claims.Sub != sub {
		t.Fatalf("the step-up was answered with another citizen: %s at %s (want %s)", res.claims.Name, res.claims.ACR, sub)
	}
}

// otherAccountEvents counts logon.failure events with reason other_account.
func (tn *testNode) otherAccountEvents(t *testing.T) []map[string]string {
	t.Helper()
	events, err := tn.Store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range events {
		if e.Type == audit.LogonFailure && e.Reason == audit.ReasonOtherAccount {
			out = append(out, e.Detail)
		}
	}
	return out
}

// TestOIDCStepUpSecondTab (review t25): Anna is logged on at low; tab 1 shows the chooser of a
// step-up, tab 2 starts a second step-up in the same browser. Tab 1's unmodified form, given
// another citizen's card, is refused: the new logon is bound to Anna; Anna herself completes it.
func TestOIDCStepUpSecondTab(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		b := tn.browser()
		low := rp.mustLogon(b, "password", "anna", "anna-password-1", acrValues(eidasLow))

		arX := rp.start(acrValues(eidasSubs))
		tab1, err := visit(b, arX.url)
		if err != nil || tab1.URL.Path != "/login" {
			t.Fatalf("step-up X: %v at %v", err, tab1.URL)
		}
		arY := rp.start(acrValues(eidasSubs))
		if tab2, err := visit(b, arY.url); err != nil || tab2.URL.Path != "/login" {
			t.Fatalf("step-up Y: %v at %v", err, tab2.URL)
		}

		p, err := b.LogonFrom(tab1, "tokencard", "token", "token-password-1")
		if err != nil {
			t.Fatal(err)
		}
		if p.URL.Path != "/login/password" {
			t.Errorf("another citizen's password in tab 1 went on to %s", p.URL.Path)
		}
		tn.wantMessage(t, p, "login.error.other_account")
		rp.wantNotAnswered(t, tn.cardLogon(t, b, p, "token"), arX, low.claims.Sub)

		// Anna completes X from the same page.
		p, err = b.LogonFrom(tab1, "tokencard", "anna", "anna-password-1")
		if err != nil {
			t.Fatal(err)
		}
		p = tn.cardLogon(t, b, p, "anna")
		cb := toRP(p)
		if cb == nil {
			t.Fatalf("Anna's step-up ended at %s: %q", p.URL, p.Alert())
		}
		res, err := rp.finish(cb, arX)
		if err != nil {
			t.Fatal(err)
		}
		if res.claims.Sub != low.claims.Sub || res.claims.ACR != eidasSubs {
			t.Errorf("step-up X: sub %s acr %s, want %s at %s", res.claims.Sub, res.claims.ACR, low.claims.Sub, eidasSubs)
		}
		if n := len(tn.otherAccountEvents(t)); n != 1 {
			t.Errorf("%d other_account events, want 1", n)
		}
	})
}

// TestOIDCStepUpForgedReturn (review t2): on the chooser of a step-up, a form whose return path
// differs from the transaction's (here one harmless extra parameter) no longer starts an
// unbound logon: another citizen's password is refused.
func TestOIDCStepUpForgedReturn(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		b := tn.browser()
		low := rp.mustLogon(b, "password", "demo", "demo-password-1", acrValues(eidasLow))

		ar := rp.start(acrValues(eidasSubs))
		chooser, err := visit(b, ar.url)
		if err != nil || chooser.URL.Path != "/login" || chooser.Hidden("return") == "" {
			t.Fatalf("step-up: %v at %v", err, chooser.URL)
		}
		for _, ret := range []string{chooser.Hidden("return") + "&x=1", "/"} {
			p, err := b.Post("/login/choose", url.Values{"level": {"substantial"}, "return": {ret}, "kind": {"tokencard"}})
			if err != nil || p.URL.Path != "/login/password" {
				t.Fatalf("choose with return %q: %v at %v", ret, err, p.URL)
			}
			p, err = b.Post("/login/password", url.Values{"username": {"anna"}, "password": {"anna-password-1"}})
			if err != nil {
				t.Fatal(err)
			}
			if p.URL.Path != "/login/password" {
				t.Errorf("return %q: another citizen's password went on to %s", ret, p.URL.Path)
			}
			tn.wantMessage(t, p, "login.error.other_account")
			rp.wantNotAnswered(t, tn.cardLogon(t, b, p, "anna"), ar, low.claims.Sub)
		}
	})
}

// TestOIDCStepUpOtherCitizenAfterSignOut: a step-up is bound to the citizen logged on when it
// arrived. When the logon for it finishes as someone else anyway (Anna signed out in another
// tab, Tessa logged on from the step-up's page), /oidc/continue refuses with a page and an
// audit event, and the request stays pending for Anna.
func TestOIDCStepUpOtherCitizenAfterSignOut(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		b := tn.browser()
		low := rp.mustLogon(b, "password", "anna", "anna-password-1", acrValues(eidasLow))

		ar := rp.start(acrValues(eidasSubs))
		tab1, err := visit(b, ar.url)
		if err != nil || tab1.URL.Path != "/login" {
			t.Fatalf("step-up: %v at %v", err, tab1.URL)
		}
		if p, err := b.Post("/logout", nil); err != nil || p.URL.Path != "/login" {
			t.Fatalf("sign out: %v at %v", err, p.URL)
		}
		p, err := b.LogonFrom(tab1, "tokencard", "token", "token-password-1")
		if err != nil {
			t.Fatal(err)
		}
		p = tn.cardLogon(t, b, p, "token")
		rp.wantNotAnswered(t, p, ar, low.claims.Sub)
		if p.Status != http.StatusForbidden || p.URL.Path != "/oidc/continue" {
			t.Fatalf("Tessa's logon for Anna's step-up: status %d at %s, want 403 at /oidc/continue", p.Status, p.URL.Path)
		}
		tn.wantMessage(t, p, "oidc.error.other_account")
		events := tn.otherAccountEvents(t)
		if len(events) != 1 || events[0]["client"] != "tax" {
			t.Errorf("other_account events %v, want one for client tax", events)
		}

		// Tessa signs out; Anna logs on from the same page and the request is answered.
		if p, err := b.Post("/logout", nil); err != nil || p.URL.Path != "/login" {
			t.Fatalf("sign out: %v at %v", err, p.URL)
		}
		p, err = b.LogonFrom(tab1, "tokencard", "anna", "anna-password-1")
		if err != nil {
			t.Fatal(err)
		}
		p = tn.cardLogon(t, b, p, "anna")
		cb := toRP(p)
		if cb == nil {
			t.Fatalf("Anna's step-up ended at %s (%d): %q", p.URL, p.Status, p.Alert())
		}
		res, err := rp.finish(cb, ar)
		if err != nil || res.claims.Sub != low.claims.Sub || !strings.HasSuffix(res.claims.ACR, "substantial") {
			t.Fatalf("Anna's step-up: %v, %+v", err, res)
		}
	})
}
