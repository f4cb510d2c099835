package web

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func TestLanguageNegotiation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t), func(c *Config, _ *Deps) { c.DefaultLanguage = "nl" })
	tests := []struct {
		name           string
		target         string
		cookie, accept string
		want           string
		wantCookie     bool
	}{
		{"query", "/login?lang=fr", "de", "nl", "fr", true},
		{"uppercase query", "/login?lang=DE", "", "", "de", true},
		{"cookie", "/login", "de", "fr", "de", false},
		{"accept-language", "/login", "", "fr-BE,fr;q=0.9,en;q=0.5", "fr", false},
		{"unsupported query and accept-language", "/login?lang=es", "", "es,ja;q=0.5", "nl", false},
		{"nothing", "/login", "", "", "nl", false},
		{"error page", "/nope?lang=de", "", "", "de", true},
	}
	for _, tt := range tests {
		b := f.browser()
		if tt.cookie != "" {
			b.cookies[langCookie] = tt.cookie
		}
		if tt.accept != "" {
			b.header.Set("Accept-Language", tt.accept)
		}
		res := b.get(tt.target)
		if got := htmlLang(res.body); got != tt.want {
			t.Errorf("%s: <html lang=%q>, want %q", tt.name, got, tt.want)
		}
		var set *http.Cookie
		for _, c := range res.res.Cookies() {
			if c.Name == langCookie {
				set = c
			}
		}
		if tt.wantCookie != (set != nil) || (set != nil && (set.Value != tt.want || set.MaxAge <= 0)) {
			t.Errorf("%s: lang cookie %+v, want one: %v", tt.name, set, tt.wantCookie)
		}
	}

	// The account's language beats Accept-Language once logged on; a cookie beats the account.
	if err := f.db.UpdateProfile(context.Background(), f.acct.ID, f.acct.Name, f.acct.Email, "de", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.header.Set("Accept-Language", "fr")
	b.logon()
	if got := htmlLang(b.get("/").body); got != "de" {
		t.Errorf("logged on with account language de: lang %q", got)
	}
	b.get("/?lang=en")
	if got := htmlLang(b.get("/").body); got != "en" {
		t.Errorf("after ?lang=en: lang %q", got)
	}
}

func TestLanguageSwitchKeepsPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t))
	body := f.browser().get("/login?level=substantial&lang=de").body
	for _, want := range []string{
		`<a href="/login?lang=nl&amp;level=substantial" lang="nl" hreflang="nl" aria-label="Nederlands">nl</a>`,
		`<a href="/login?lang=de&amp;level=substantial" lang="de" hreflang="de" aria-label="Deutsch" aria-current="true">de</a>`,
		`aria-label="Français">fr</a>`, `aria-label="English">en</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("language switch lacks %s:\n%s", want, body)
		}
	}
	if n := strings.Count(body, "aria-current"); n != 1 {
		t.Errorf("%d links marked aria-current, want 1", n)
	}
}

// missingKeyRE finds a catalogue key the Printer could not translate ("[web.login.title]").
var missingKeyRE = regexp.MustCompile(`\[(web|login|key|error|common|account|mail|security|portal)\.[A-Za-z0-9_.]+\]`)

// checkPage asserts what every page must have: the language, a title, one h1, main, and no
// untranslated key.
func checkPage(t *testing.T, what, lang, body string) {
	t.Helper()
	if got := htmlLang(body); got != lang {
		t.Errorf("%s: <html lang=%q>, want %q", what, got, lang)
	}
	if m := missingKeyRE.FindString(body); m != "" {
		t.Errorf("%s: untranslated %s", what, m)
	}
	if n := strings.Count(body, "<h1"); n != 1 {
		t.Errorf("%s: %d <h1>, want 1", what, n)
	}
	for _, want := range []string{"<title>", "<main id=\"main\">", `class="langs"`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s: no %s", what, want)
		}
	}
	if strings.Contains(body, "style=") || regexp.MustCompile(` on[a-z]+=`).MatchString(body) {
		t.Errorf("%s: inline style or event handler", what)
	}
	// The one script is our own file, empty inside: CSP allows no inline script.
	for _, m := range scriptRE.FindAllStringSubmatch(body, -1) {
		if !strings.HasPrefix(m[1], `src="/static/`) || m[2] != "" {
			t.Errorf("%s: script %q is not an empty tag loading /static/", what, m[0])
		}
	}
}

// scriptRE finds every script element: its attributes and its content.
var scriptRE = regexp.MustCompile(`(?s)<script\s*([^>]*)>(.*?)</script>`)

func TestEveryPageInEveryLanguage(t *testing.T) {
	t.Parallel()
	eachStore(t, testEveryPageInEveryLanguage)
}

func testEveryPageInEveryLanguage(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db, func(c *Config, _ *Deps) { c.MaxBodyBytes = 2048 })
	for _, lang := range i18n.Languages() {
		f.clock.Advance(time.Hour) // e-mail codes are limited per quarter of an hour
		pages := map[string]*response{}
		b := f.browser()
		b.cookies[langCookie] = lang
		pages["chooser"] = b.get("/login")
		pages["chooser substantial"] = b.get("/login?level=substantial&return=/x")
		b.choose("password", "low", "/")
		f.clock.Advance(16 * time.Minute)
		pages["chooser expired"] = b.get(b.get("/login/password").location())
		pages["help"] = b.get("/help/forgot")
		pages["privacy"] = b.get("/privacy")
		pages["accessibility"] = b.get("/accessibility")
		pages["no key meets the level"] = b.get("/login?level=high")
		pages["404"] = b.get("/no/such/page")
		pages["400"] = b.get("/login?level=medium")
		pages["403"] = b.do("POST", "/logout", url.Values{"csrf": {"forged"}})
		pages["413"] = b.post("/login/password", url.Values{"username": {strings.Repeat("x", 4096)}})

		b.choose("password", "low", "/")
		pages["password"] = b.get("/login/password")
		pages["password error"] = b.post("/login/password", url.Values{"username": {"nobody"}, "password": {"x"}})

		b.choose("tokencard", "substantial", "/")
		b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		pages["tokencard code"] = b.get("/login/code")
		pages["tokencard wrong code"] = b.post("/login/code", url.Values{"code": {"000000"}})

		b.choose("emailcode", "substantial", "/")
		b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		pages["emailcode code"] = b.get("/login/code")
		pages["emailcode resent"] = b.get("/login/code?sent=1")

		b.choose("password", "low", "/")
		b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		pages["welcome"] = b.get("/")
		pages["welcome next"] = pages["welcome"]
		pages["404 logged on"] = b.get("/nope")

		for name, res := range pages {
			checkPage(t, lang+" "+name, lang, res.body)
		}
		if !strings.Contains(pages["emailcode code"].body, `action="/login/resend"`) {
			t.Errorf("%s: the e-mail code page has no \"send a new code\" button", lang)
		}
		if strings.Contains(pages["tokencard code"].body, `action="/login/resend"`) {
			t.Errorf("%s: the token card page offers a new code", lang)
		}
		if !strings.Contains(pages["welcome"].body, `form method="post" action="/logout"`) {
			t.Errorf("%s: the welcome page has no sign-out form", lang)
		}
		p := f.bundle.Printer(lang)
		for name, want := range map[string]string{
			"chooser":                p.T("web.header.tagline"),
			"404":                    p.T("web.error.404.title"),
			"400":                    p.T("web.error.400.title"),
			"403":                    p.T("web.error.403.title"),
			"413":                    p.T("web.error.413.title"),
			"help":                   p.T("web.help.forgot.title"),
			"privacy":                p.T("web.privacy.cookies"),
			"accessibility":          p.T("web.accessibility.testing"),
			"no key meets the level": p.T("web.login.choose.none_next"),
			"welcome next":           p.T("web.home.next.service"),
			"password error":         p.T("login.error.bad_credentials"),
			"chooser expired":        p.T("login.error.expired"),
			"welcome":                p.T("web.home.heading", demoName),
		} {
			if !strings.Contains(pages[name].body, escapeHTML(want)) {
				t.Errorf("%s %s: page lacks %q", lang, name, want)
			}
		}
		wantCodes := map[string]int{"404": 404, "400": 400, "403": 403, "413": 413, "chooser": 200, "welcome": 200, "tokencard code": 200}
		for name, code := range wantCodes {
			if pages[name].status != code {
				t.Errorf("%s %s: status %d, want %d", lang, name, pages[name].status, code)
			}
		}
	}
}

// escapeHTML escapes s as html/template writes text.
func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

func TestHeader(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		b := f.browser()
		page := b.get("/login").body
		if strings.Contains(page, "Welcome, ") || strings.Contains(page, `action="/logout"`) {
			t.Errorf("logged-off header shows a welcome or sign-out:\n%s", page)
		}
		for _, want := range []string{">Sleutelbos</a>", "Log on to online public services", `lang="fr"`} {
			if !strings.Contains(page, want) {
				t.Errorf("header lacks %q", want)
			}
		}
		b.logon()
		page = b.get("/").body
		if n := strings.Count(page, `action="/logout"`); n != 1 {
			t.Errorf("welcome page has %d sign-out forms, want 1", n)
		}
		if !strings.Contains(page, `<span class="welcome">Welcome, Demo Citizen</span>`) {
			t.Errorf("header lacks the welcome:\n%s", page)
		}
	})
}

// TestPrivacyNoticeNamesEveryCookie: the privacy notice says what each cookie the site sets is
// for. A cookie added to cookieNames without a phrase here (and in the notice) fails the test.
func TestPrivacyNoticeNamesEveryCookie(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t))
	notice := escapeHTML(f.bundle.Printer("en").T("web.privacy.cookies"))
	phrases := map[string]string{
		"session": "your session",
		"csrf":    "forged forms",
		"lang":    "choice of language",
		"flash":   "one-time message",
		"device":  "recognises that browser",
	}
	names := reflect.TypeOf(cookieNames{})
	for i := range names.NumField() {
		field := names.Field(i).Name
		phrase, ok := phrases[field]
		if !ok {
			t.Errorf("cookie %q: no phrase of the privacy notice is known for it", field)
			continue
		}
		if !strings.Contains(notice, escapeHTML(phrase)) {
			t.Errorf("the privacy notice does not mention the %s cookie (%q)", field, phrase)
		}
	}
	page := f.browser().get("/privacy")
	wantStatus(t, "privacy", page, http.StatusOK)
	wantContains(t, "privacy", page.body, notice)
}
