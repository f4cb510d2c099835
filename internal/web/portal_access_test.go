package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// privateExamples gives a request path for every private route pattern.
var privateExamples = map[string]string{
	"GET /{$}":                                   "/",
	"GET /keys":                                  "/keys",
	"GET /keys/{id}/deactivate":                  "/keys/1/deactivate",
	"POST /keys/{id}/deactivate":                 "/keys/1/deactivate",
	"POST /keys/{id}/reactivate":                 "/keys/1/reactivate",
	"GET /keys/{id}/lost":                        "/keys/1/lost",
	"POST /keys/{id}/lost":                       "/keys/1/lost",
	"GET /keys/activate":                         "/keys/activate",
	"POST /keys/activate":                        "/keys/activate",
	"GET /keys/activate/qr":                      "/keys/activate/qr?w=x",
	"GET /profile":                               "/profile",
	"POST /profile/language":                     "/profile/language",
	"POST /profile/email":                        "/profile/email",
	"POST /profile/email/code":                   "/profile/email/code",
	"POST /profile/email/cancel":                 "/profile/email/cancel",
	"GET /info":                                  "/info",
	"GET /info/why":                              "/info/why",
	"GET /operator":                              "/operator",
	"GET /operator/campaigns/{kind}":             "/operator/campaigns/tokencard",
	"GET /operator/campaigns/{kind}/at-risk.csv": "/operator/campaigns/tokencard/at-risk.csv",
	"POST /operator/campaigns/{kind}/remind":     "/operator/campaigns/tokencard/remind",
	"GET /helpdesk":                              "/helpdesk",
	"POST /helpdesk":                             "/helpdesk",
	"GET /helpdesk/citizens/{id}":                "/helpdesk/citizens/1",
	"POST /helpdesk/citizens/{id}/actions":       "/helpdesk/citizens/1/actions",
}

// TestRoutesArePrivateByDefault: with everything mounted (the OpenID provider, the development
// mailbox, the demo online service), every route not in the public allowlist sends a
// logged-off request to the logon — a page coming back to itself afterwards, a form changing
// nothing — and a route added without an entry here fails the test. Every public route is
// registered, and a public one answers without sending the visitor to the logon.
func TestRoutesArePrivateByDefault(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		mounted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("mounted")) })
		f := newFixture(t, db, withOIDC(t), func(c *Config, d *Deps) {
			c.DevMailbox, d.Mailbox, d.DemoService = true, mounted, mounted
		})
		registered := map[string]bool{}
		for _, pattern := range f.srv.patterns {
			registered[pattern] = true
			if publicRoutes[pattern] {
				continue
			}
			path, ok := privateExamples[pattern]
			if !ok {
				t.Errorf("route %q is private but has no example in privateExamples", pattern)
				continue
			}
			b := f.browser()
			method := strings.Fields(pattern)[0]
			var res *response
			if method == http.MethodPost {
				res = b.post(path, url.Values{"action": {"cancel"}, "language": {"de"}, "email": {"x@example.org"}})
			} else {
				res = b.get(path)
			}
			want := "/login"
			if method == http.MethodGet && path != "/" {
				want = "/login?return=" + url.QueryEscape(path)
			} else if method == http.MethodPost {
				want = "/login?return=" + url.QueryEscape(formPage(path))
				if formPage(path) == "/" {
					want = "/login"
				}
			}
			if res.status != http.StatusSeeOther || res.location() != want {
				t.Errorf("%s %s logged off: %d → %q, want 303 → %q", method, path, res.status, res.location(), want)
			}
		}
		for pattern := range publicRoutes {
			if !registered[pattern] {
				t.Errorf("public route %q is not registered", pattern)
			}
		}
		for pattern := range privateExamples {
			if publicRoutes[pattern] {
				t.Errorf("%s is both public and in privateExamples", pattern)
			}
			if !registered[pattern] {
				t.Errorf("privateExamples names %q, which is not registered", pattern)
			}
		}
		// The public pages a visitor reaches before any logon answer without the logon.
		b := f.browser()
		for _, path := range []string{"/healthz", "/login", "/help/forgot", "/privacy", "/accessibility", "/dev/mailbox",
			"/demo-service/", "/.well-known/openid-configuration", "/oidc/jwks", "/oidc/end_session", "/no-such-page"} {
			if res := b.get(path); res.location() == "/login?return="+url.QueryEscape(path) {
				t.Errorf("public GET %s logged off → %q: the guard sent it to the logon", path, res.location())
			}
		}
		if acct, _ := f.db.GetAccount(t.Context(), f.acct.ID); acct.Language != f.acct.Language || acct.Email != f.acct.Email {
			t.Error("a logged-off POST changed the profile")
		}
	})
}

// TestLogonReturnsToThePage: a logged-off citizen asking for a portal page logs on with any
// active key and lands on that page.
func TestLogonReturnsToThePage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		res := b.get("/profile?lang=fr")
		if res.location() != "/login?lang=fr&return=%2Fprofile" {
			t.Fatalf("GET /profile logged off → %q", res.location())
		}
		chooser := b.get(res.location()).body
		wantContains(t, "chooser", chooser, `name="return" value="/profile"`, `value="password"`)
		// The password alone is enough to look.
		res = b.logonAs(f.demoCitizen(), keys.Password, "/profile")
		if res.status != http.StatusSeeOther || res.location() != "/profile" {
			t.Fatalf("logon → %d %q", res.status, res.location())
		}
		page := b.get("/profile")
		wantStatus(t, "profile", page, http.StatusOK)
		wantContains(t, "profile", page.body, "demo@example.org", `<a class="mykeys" href="/keys">`)
	})
}

// TestStaleLogon: key changes need a logon within 15 minutes, at substantial for a citizen who
// has a substantial key; otherwise the citizen logs on again and comes back where they were,
// the wizard waiting.
func TestStaleLogon(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("carla", "en", keys.TokenCard)
		b := f.browser()
		if res := b.logonAs(c, keys.TokenCard, "/keys"); res.location() != "/keys" {
			t.Fatalf("logon → %q", res.location())
		}
		b.next(nil) // step 1 confirmed: the wizard is at step 2
		f.clock.Advance(10 * time.Minute)
		wantStatus(t, "key list after 10 minutes", b.get("/keys"), http.StatusOK) // keeps the session alive
		f.clock.Advance(6 * time.Minute)
		res := b.get("/keys/activate")
		want := "/login?level=substantial&return=%2Fkeys%2Factivate"
		if res.status != http.StatusSeeOther || res.location() != want {
			t.Fatalf("wizard 16 minutes after logon: %d %q, want %q", res.status, res.location(), want)
		}
		// A form posted now changes nothing.
		hidden := url.Values{"wizard": {"x"}, "step": {"select"}}
		if res := b.wizardPost(hidden, "next", url.Values{"kind": {"emailcode"}}); res.location() != want {
			t.Errorf("POST with a stale logon → %q", res.location())
		}
		if f.mails("registration_code", c.email) != 0 {
			t.Error("a stale POST sent a registration code")
		}
		// Viewing stays allowed.
		wantStatus(t, "key list", b.get("/keys"), http.StatusOK)
		// Logging on again (with the card) returns to the wizard, still at step 2.
		if res := b.logonAs(c, keys.TokenCard, "/keys/activate"); res.location() != "/keys/activate" {
			t.Fatalf("second logon → %q", res.location())
		}
		page, hidden := b.wizard()
		if hidden.Get("step") != "select" {
			t.Errorf("after logging on again the wizard is at %q, want select:\n%s", hidden.Get("step"), page.body)
		}
		// A password logon is not enough for a citizen with a card.
		b2 := f.browser()
		b2.logonAs(c, keys.Password, "/")
		if res := b2.get("/keys/activate"); res.location() != want {
			t.Errorf("wizard after a password logon: %q, want %q", res.location(), want)
		}
		if res := b2.post("/keys/"+strconv64(f.keysOf(c)[0].ID)+"/deactivate", nil); !strings.HasPrefix(res.location(), "/login?level=substantial") {
			t.Errorf("deactivate after a password logon: %d %q", res.status, res.location())
		}
		// A citizen with only a password may, after a fresh password logon.
		p := f.newCitizen("pia", "en")
		b3 := f.browser()
		b3.logonAs(p, keys.Password, "/")
		wantStatus(t, "wizard of a password-only citizen", b3.get("/keys/activate"), http.StatusOK)
	})
}

// TestLinksToMyDigitalKeys: the header when logged on, the "you do not have this key" message
// and the chooser's note lead to My digital keys.
func TestLinksToMyDigitalKeys(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("dirk", "en", keys.TokenCard)
		b := f.browser()
		wantContains(t, "chooser", b.get("/login").body, "Would you like to activate another key?",
			`<a href="/keys">Sign in here to create or edit your digital keys.</a>`)
		b.choose(keys.TOTP, "substantial", "/")
		res := b.post("/login/password", url.Values{"username": {c.username}, "password": {c.password}})
		wantContains(t, "no such key", res.body, "You do not have this digital key", `<p><a href="/keys">Go to My digital keys</a></p>`)
		b.logonAs(c, keys.TokenCard, "/")
		wantContains(t, "welcome", b.get("/").body, `<a class="mykeys" href="/keys">My digital keys</a>`, `<a href="/keys">Manage your digital keys`)
	})
}
