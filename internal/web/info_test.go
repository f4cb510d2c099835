package web

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// withOperator configures a helpdesk and statement links.
func withOperator(c *Config, _ *Deps) {
	c.Operator = Contact{Email: "helpdesk@example.be", Phone: "+32 (0)2 123 45 67", URL: "https://example.be/contact"}
	c.PrivacyURL, c.AccessibilityURL = "https://example.be/privacy", "/accessibility"
}

// TestHelpdeskAndStatements: the help page, every page's footer and the dead end "no key
// meets this level" show how to reach the helpdesk; every footer links the privacy notice and
// the accessibility statement.
func TestHelpdeskAndStatements(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t), withOperator)
	b := f.browser()
	contact := []string{
		`<a href="mailto:helpdesk@example.be">helpdesk@example.be</a>`,
		`<a href="tel:&#43;3221234567">&#43;32 (0)2 123 45 67</a>`,
		`<a href="https://example.be/contact">Contact page of the helpdesk</a>`,
	}
	footer := []string{
		`<nav aria-label="Help and information">`,
		`<li><a href="/help/forgot">Help with logging on</a></li>`,
		`<li><a href="https://example.be/privacy">Privacy notice</a></li>`,
		`<li><a href="/accessibility">Accessibility statement</a></li>`,
	}
	pages := map[string]string{
		"chooser": b.get("/login").body, "help": b.get("/help/forgot").body, "404": b.get("/nope").body,
		"privacy": b.get("/privacy").body, "accessibility": b.get("/accessibility").body,
		"no key meets the level": b.get("/login?level=high").body,
	}
	for name, page := range pages {
		footerHTML := page[strings.Index(page, `<footer`):]
		wantContains(t, name+" footer", footerHTML, append(footer, contact...)...)
	}
	main := func(page string) string { return page[strings.Index(page, "<main"):strings.Index(page, "</main>")] }
	wantContains(t, "help page", main(pages["help"]), append([]string{"<h2>Contact the helpdesk</h2>"}, contact...)...)
	wantContains(t, "no key meets the level", main(pages["no key meets the level"]), contact...)

	// Without a helpdesk configured nothing shows an empty contact list.
	nf := newFixture(t, sqltest.SQLite(t), func(c *Config, _ *Deps) { c.PrivacyURL = "/privacy" })
	page := nf.browser().get("/help/forgot").body
	if strings.Contains(page, `class="contact"`) || strings.Contains(page, "mailto:") || strings.Contains(page, "Accessibility statement") {
		t.Errorf("help page without a configured helpdesk or statement:\n%s", page)
	}
	wantContains(t, "footer without a helpdesk", page, `<li><a href="/privacy">Privacy notice</a></li>`)
}

// TestSignOutConfirms: signing out says so, once.
func TestSignOutConfirms(t *testing.T) {
	t.Parallel()
	eachStore(t, testSignOutConfirms)
}

func testSignOutConfirms(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	for _, lang := range i18n.Languages() {
		b := f.browser()
		b.cookies[f.srv.cookies.lang] = lang
		b.logon()
		res := b.post("/logout", nil)
		wantStatus(t, "sign out", res, http.StatusSeeOther)
		want := `<p class="notice" role="status">` + escapeHTML(f.bundle.Printer(lang).T("web.logout.done")) + `</p>`
		wantContains(t, lang+" page after sign-out", b.get(res.location()).body, want)
		if page := b.get(res.location()).body; strings.Contains(page, want) {
			t.Errorf("%s: the sign-out confirmation shows again on reload", lang)
		}
		if b.loggedOn() {
			t.Errorf("%s: still logged on", lang)
		}
	}
	// Nobody can make the chooser claim a sign-out that did not happen.
	b := f.browser()
	b.cookies[f.srv.cookies.flash] = "bogus"
	if page := b.get("/login").body; strings.Contains(page, `class="notice`) {
		t.Errorf("an unknown flash shows a notice:\n%s", page)
	}
}

// TestNoDeadLinks follows every link of the pages a citizen sees, before and after a logon:
// none leads to a page that does not exist.
func TestNoDeadLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t), withOperator)
	b := f.browser()
	var pages []string
	collect := func(target string) { pages = append(pages, b.get(target).body) }
	for _, p := range []string{"/login", "/login?level=high", "/help/forgot", "/privacy", "/accessibility"} {
		collect(p)
	}
	b.choose("tokencard", "substantial", "/")
	collect("/login/password")
	b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	collect("/login/code")
	b.choose("password", "low", "/")
	b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
	collect("/")
	seen := map[string]bool{}
	for _, page := range pages {
		for _, m := range hrefRE.FindAllStringSubmatch(page, -1) {
			href := html.UnescapeString(m[1])
			if !strings.HasPrefix(href, "/") || strings.HasPrefix(href, "//") || seen[href] {
				continue
			}
			seen[href] = true
			path := strings.SplitN(href, "#", 2)[0]
			if res := b.get(path); res.status == http.StatusNotFound || res.status >= 500 {
				t.Errorf("link %s: status %d", href, res.status)
			}
		}
	}
	if len(seen) < 8 {
		t.Errorf("only %d local links found: %v", len(seen), seen)
	}
}
