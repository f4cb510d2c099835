package web

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/i18n"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecurityHeadersOnEveryResponse)
}

func testSecurityHeadersOnEveryResponse(t *testing.T, db *sqlstore.DB) {
	for _, secure := range []bool{false, true} {
		f := newFixture(t, db, func(c *Config, _ *Deps) { c.Secure = secure })
		b := f.browser()
		b.logon()
		requests := []struct {
			method, path string
			form         url.Values
		}{
			{"GET", "/", nil},
			{"GET", "/login", nil},
			{"GET", "/login?level=substantial", nil},
			{"GET", "/help/forgot", nil},
			{"GET", "/healthz", nil},
			{"GET", "/readyz", nil},
			{"GET", "/static/style.css", nil},
			{"GET", "/static/missing.css", nil},
			{"GET", "/no/such/page", nil},
			{"POST", "/logout", url.Values{"csrf": {"wrong"}}},
		}
		for _, r := range requests {
			res := b.do(r.method, r.path, r.form)
			if d := diffCSP(res.header.Get("Content-Security-Policy")); d != "" {
				t.Errorf("secure=%v %s %s: Content-Security-Policy: %s", secure, r.method, r.path, d)
			}
			want := map[string]string{
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "same-origin",
				"X-Frame-Options":        "DENY",
			}
			for k, v := range want {
				if got := res.header.Get(k); got != v {
					t.Errorf("secure=%v %s %s: %s = %q, want %q", secure, r.method, r.path, k, got, v)
				}
			}
			hsts := res.header.Get("Strict-Transport-Security")
			if secure != (hsts != "") {
				t.Errorf("secure=%v %s %s: Strict-Transport-Security = %q", secure, r.method, r.path, hsts)
			}
			for _, c := range res.res.Cookies() {
				if c.Secure != secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
					t.Errorf("secure=%v %s %s: cookie %s: Secure=%v HttpOnly=%v SameSite=%v", secure, r.method, r.path,
						c.Name, c.Secure, c.HttpOnly, c.SameSite)
				}
			}
		}
	}
}

// wantCSP is the Content-Security-Policy every response carries, directive by directive, spelled
// out here rather than read from the code that sends it: everything from our own origin only,
// no inline script or style (no 'unsafe-inline' anywhere), images also as data: URIs (the TOTP
// QR code), forms posting only to us, never framed, no <base> and no plugins.
var wantCSP = map[string]string{
	"default-src":     "'self'",
	"script-src":      "'self'",
	"style-src":       "'self'",
	"img-src":         "'self' data:",
	"form-action":     "'self'",
	"frame-ancestors": "'none'",
	"base-uri":        "'none'",
	"object-src":      "'none'",
}

// diffCSP compares a Content-Security-Policy header with wantCSP and describes the difference,
// or returns "".
func diffCSP(header string) string {
	got := map[string]string{}
	for _, d := range strings.Split(header, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name == "" {
			continue
		}
		if _, dup := got[name]; dup {
			return fmt.Sprintf("directive %s twice in %q", name, header)
		}
		got[name] = strings.Join(strings.Fields(value), " ")
	}
	var problems []string
	for name, want := range wantCSP {
		if got[name] != want {
			problems = append(problems, fmt.Sprintf("%s = %q, want %q", name, got[name], want))
		}
	}
	for name := range got {
		if _, ok := wantCSP[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected directive %s %q", name, got[name]))
		}
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

func TestDiffCSP(t *testing.T) {
	t.Parallel()
	good := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
	if d := diffCSP(good); d != "" {
		t.Errorf("diffCSP(the wanted policy) = %s", d)
	}
	for _, bad := range []string{
		"",
		strings.Replace(good, "script-src 'self'", "script-src 'self' 'unsafe-inline'", 1),
		strings.Replace(good, "; frame-ancestors 'none'", "", 1),
		good + "; frame-ancestors *",
		good + "; connect-src *",
	} {
		if diffCSP(bad) == "" {
			t.Errorf("diffCSP(%q) found nothing wrong", bad)
		}
	}
}

// csrfFieldRE finds the CSRF token a page's forms carry.
var csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// pageToken returns the CSRF token of the page body, failing when it has none.
func pageToken(t *testing.T, what, body string) string {
	t.Helper()
	m := csrfFieldRE.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		t.Fatalf("%s: no CSRF token in the page:\n%s", what, body)
	}
	return m[1]
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		form := func(token string) url.Values {
			v := url.Values{"kind": {"password"}, "level": {"low"}, "return": {"/"}}
			if token != "" {
				v.Set(csrfField, token)
			}
			return v
		}
		// No cookie and no token.
		b := f.browser()
		b.header.Set("Accept-Language", "nl")
		res := b.do("POST", "/login/choose", form(""))
		wantStatus(t, "no token", res, http.StatusForbidden)
		if !strings.Contains(res.body, "Aanvraag geweigerd") || htmlLang(res.body) != "nl" {
			t.Errorf("403 page is not the Dutch one:\n%s", res.body)
		}
		if b.cookies[csrfCookie] == "" {
			t.Error("the 403 answer set no CSRF cookie for the next attempt")
		}

		// Before a logon starts there is no session row: the token is bound to the csrf cookie.
		b = f.browser()
		tok := pageToken(t, "chooser", b.get("/login").body)
		cookie := b.cookies[csrfCookie]
		if cookie == "" || tok == cookie || b.cookies[sessionCookie] != "" {
			t.Fatalf("GET /login: csrf cookie %q, token %q, session %q", cookie, tok, b.cookies[sessionCookie])
		}
		if again := pageToken(t, "chooser again", b.get("/login").body); again != tok {
			t.Errorf("the token changed between two pages of one browser: %q, %q", tok, again)
		}
		wantStatus(t, "cookie, no field", b.do("POST", "/login/choose", form("")), http.StatusForbidden)
		wantStatus(t, "the cookie as the token (double submit)", b.do("POST", "/login/choose", form(cookie)), http.StatusForbidden)
		wantStatus(t, "wrong token", b.do("POST", "/login/choose", form(tok[:len(tok)-1]+"x")), http.StatusForbidden)

		// Field without cookie, or with another browser's cookie.
		nb := f.browser()
		wantStatus(t, "field without cookie", nb.do("POST", "/login/choose", form(tok)), http.StatusForbidden)
		nb.get("/login")
		wantStatus(t, "field with another browser's cookie", nb.do("POST", "/login/choose", form(tok)), http.StatusForbidden)

		// Cross-site signals are refused even with a matching token.
		for _, h := range []struct{ k, v string }{
			{"Sec-Fetch-Site", "cross-site"},
			{"Origin", "https://evil.example"},
			{"Referer", "https://evil.example/page"},
		} {
			b.header = http.Header{}
			b.header.Set(h.k, h.v)
			wantStatus(t, h.k+": "+h.v, b.do("POST", "/login/choose", form(tok)), http.StatusForbidden)
		}
		for _, h := range []struct{ k, v string }{
			{"Sec-Fetch-Site", "same-origin"},
			{"Origin", "http://sleutelbos.test"},
			{"Referer", "http://sleutelbos.test/login"},
			{"", ""},
		} {
			ok := f.browser()
			tok := pageToken(t, "chooser", ok.get("/login").body)
			if h.k != "" {
				ok.header.Set(h.k, h.v)
			}
			wantStatus(t, "same site "+h.k, ok.do("POST", "/login/choose", form(tok)), http.StatusSeeOther)
		}
	})
}

// TestCSRFBoundToSession: once a browser has a session, its forms carry a token bound to that
// session; a token from another browser's session is refused, and one of the same browser's
// from before its session existed or from its old session id is not acted on.
func TestCSRFBoundToSession(t *testing.T) {
	t.Parallel()
	eachStoreFactory(t, testCSRFBoundToSession)
}

func testCSRFBoundToSession(t *testing.T, newDB func(testing.TB) *sqlstore.DB) {
	for _, secure := range []bool{false, true} {
		f := newFixture(t, newDB(t), func(c *Config, _ *Deps) { c.Secure = secure })
		names := f.srv.cookies
		// Two citizens' browsers, each in a logon (A) or logged on (B).
		a, b := f.browser(), f.browser()
		pre := pageToken(t, "chooser A", a.get("/login").body)
		wantStatus(t, "A chooses", a.do("POST", "/login/choose", url.Values{csrfField: {pre}, "kind": {"password"}, "level": {"low"}}), http.StatusSeeOther)
		tokA := pageToken(t, "password page A", a.get("/login/password").body)
		if tokA == pre {
			t.Errorf("secure=%v: the token did not change when the session began", secure)
		}
		b.logon()
		tokB := pageToken(t, "welcome B", b.get("/").body)
		if tokB == tokA {
			t.Fatalf("secure=%v: two sessions share a token", secure)
		}

		login := url.Values{"username": {demoUser}, "password": {demoPassword}}
		login.Set(csrfField, tokB)
		wantStatus(t, "B's token on A's POST", a.do("POST", "/login/password", login), http.StatusForbidden)
		// A's own token from before its session is a stale form of A's (another tab): not acted
		// on, but answered with the chooser and a notice rather than a 403 (TestStaleForms).
		login.Set(csrfField, pre)
		wantFlash(t, "A's token from before its session", f, a.do("POST", "/login/password", login), "/login", flashCompleted)
		if a.loggedOn() {
			t.Fatalf("secure=%v: A's token from before its session logged A on", secure)
		}
		logout := url.Values{csrfField: {tokA}}
		wantStatus(t, "A's token on B's sign-out", b.do("POST", "/logout", logout), http.StatusForbidden)
		if !b.loggedOn() {
			t.Fatalf("secure=%v: B was signed out with A's token", secure)
		}
		// Each session's own token works.
		login.Set(csrfField, tokA)
		wantStatus(t, "A's own token", a.do("POST", "/login/password", login), http.StatusSeeOther)
		// The logon rotated A's session id: its pages carry the new session's token, and the
		// old one is refused.
		tokA2 := pageToken(t, "welcome A", a.get("/").body)
		if tokA2 == tokA {
			t.Errorf("secure=%v: the token did not change with the session id", secure)
		}
		wantFlash(t, "A's token of its old session id", f, a.do("POST", "/logout", url.Values{csrfField: {tokA}}), "/", flashStaleForm)
		if !a.loggedOn() {
			t.Fatalf("secure=%v: A was signed out with its old session's token", secure)
		}
		wantStatus(t, "A signs out", a.do("POST", "/logout", url.Values{csrfField: {tokA2}}), http.StatusSeeOther)
		wantStatus(t, "B signs out", b.do("POST", "/logout", url.Values{csrfField: {tokB}}), http.StatusSeeOther)
		if a.cookies[names.session] != "" || b.cookies[names.session] != "" {
			t.Errorf("secure=%v: a session cookie survived sign-out", secure)
		}
	}
}

// TestHostPrefixedCookies: on https every cookie has the __Host- prefix (Secure, Path=/, no
// Domain), so no other site or subdomain can plant one; on http the plain names.
func TestHostPrefixedCookies(t *testing.T) {
	t.Parallel()
	eachStoreFactory(t, testHostPrefixedCookies)
}

func testHostPrefixedCookies(t *testing.T, newDB func(testing.TB) *sqlstore.DB) {
	for _, secure := range []bool{false, true} {
		f := newFixture(t, newDB(t), func(c *Config, _ *Deps) { c.Secure = secure })
		b := f.browser()
		seen := map[string]*http.Cookie{}
		collect := func(res *response) {
			for _, c := range res.res.Cookies() {
				seen[c.Name] = c
			}
		}
		collect(b.get("/login?lang=de"))
		collect(b.choose("password", "low", "/"))
		collect(b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}}))
		if !b.loggedOn() {
			t.Fatalf("secure=%v: logon failed", secure)
		}
		// My profile sets the language cookie itself, and a flash for the page after.
		collect(b.post("/profile/language", url.Values{"language": {"fr"}}))
		collect(b.post("/logout", nil))
		for _, base := range []string{sessionCookie, csrfCookie, langCookie, flashCookie} {
			name := base
			if secure {
				name = "__Host-" + base
			}
			c, ok := seen[name]
			if !ok {
				t.Errorf("secure=%v: no cookie %s was set (got %v)", secure, name, keysOf(seen))
				continue
			}
			if c.Secure != secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("secure=%v: cookie %s: Secure=%v Path=%q Domain=%q HttpOnly=%v SameSite=%v", secure, name, c.Secure, c.Path, c.Domain, c.HttpOnly, c.SameSite)
			}
		}
		for name := range seen {
			if secure != strings.HasPrefix(name, "__Host-") {
				t.Errorf("secure=%v: cookie %s", secure, name)
			}
		}
		// A cookie under the other scheme's name is not read: the language stays negotiated.
		nb := f.browser()
		nb.cookies["lang"], nb.cookies["__Host-lang"] = "nl", "nl"
		delete(nb.cookies, f.srv.cookies.lang)
		if got := htmlLang(nb.get("/login").body); got != "en" {
			t.Errorf("secure=%v: a cookie of the other name chose the language %q", secure, got)
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	eachStore(t, testBodyLimit)
}

func testBodyLimit(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db, func(c *Config, _ *Deps) { c.MaxBodyBytes = 1024 })
	b := f.browser()
	b.get("/login")
	big := url.Values{"csrf": {b.csrfToken()}, "username": {strings.Repeat("a", 4096)}}
	b.header.Set("Accept-Language", "de")
	res := b.do("POST", "/login/password", big)
	wantStatus(t, "declared length", res, http.StatusRequestEntityTooLarge)
	if !strings.Contains(res.body, "Anfrage zu groß") {
		t.Errorf("413 page is not the German one:\n%s", res.body)
	}

	// Unknown length (chunked): the MaxBytesReader stops it.
	req := httptest.NewRequest("POST", "http://sleutelbos.test/login/password", strings.NewReader(big.Encode()))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res = b.send(req)
	wantStatus(t, "chunked", res, http.StatusRequestEntityTooLarge)
	if htmlLang(res.body) != "en" {
		t.Errorf("413 page lang = %q", htmlLang(res.body))
	}
}

func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	eachStore(t, testInvalidUTF8)
}

func testInvalidUTF8(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	b := f.browser()
	b.get("/login")
	b.header.Set("Accept-Language", "fr")
	req := httptest.NewRequest("POST", "http://sleutelbos.test/login/password",
		strings.NewReader("csrf="+b.csrfToken()+"&username=%FF%FEjan&password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "fr")
	res := b.send(req)
	wantStatus(t, "invalid UTF-8 form value", res, http.StatusBadRequest)
	if !strings.Contains(res.body, "Demande non valide") {
		t.Errorf("400 page is not the French one:\n%s", res.body)
	}
	wantStatus(t, "invalid UTF-8 in the query", b.get("/login?return=%C0%AF"), http.StatusBadRequest)
	wantStatus(t, "malformed query", b.get("/login?return=%zz"), http.StatusBadRequest)
}

func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t))
	h := f.srv.logRequests(f.srv.securityHeaders(f.srv.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))))
	req := httptest.NewRequest("GET", "/x?lang=nl", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if body := rec.Body.String(); !strings.Contains(body, "Er ging iets mis") || strings.Contains(body, "boom") {
		t.Errorf("500 page:\n%s", body)
	}
	if rec.Header().Get("Content-Security-Policy") == "" {
		t.Error("500 page without security headers")
	}
	if logs := f.logs.String(); !strings.Contains(logs, "panic") || !strings.Contains(logs, "status=500") {
		t.Errorf("log lacks the panic or its status:\n%s", logs)
	}
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t))
	b := f.browser()
	page := b.get("/login").body
	css := f.srv.static.url("style.css")
	if !strings.Contains(page, `href="`+strings.ReplaceAll(css, "&", "&amp;")+`"`) {
		t.Errorf("page does not link %s", css)
	}
	res := b.get(css)
	wantStatus(t, css, res, http.StatusOK)
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control %q", cc)
	}
	if _, ok := b.cookies[sessionCookie]; ok {
		t.Error("a session cookie was set")
	}
	for _, p := range []string{"/static/", "/static/nope.js", "/static/templates/layout.html"} {
		if res := b.get(p); res.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.status)
		}
	}
	if res := b.get("/static/../render.go"); res.status == http.StatusOK {
		t.Errorf("GET /static/../render.go: 200")
	}
}

func TestRequestLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	eachStore(t, testRequestLogHoldsNoSecrets)
}

func testRequestLogHoldsNoSecrets(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	b := f.browser()
	b.logon()
	b.post("/login/password", url.Values{"username": {demoUser}, "password": {"secret-password-typed"}})
	logs := f.logs.String()
	for _, secret := range []string{demoPassword, "secret-password-typed", b.cookies[sessionCookie], b.cookies[csrfCookie], b.csrfToken()} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("log contains a secret %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{"method=POST", "path=/login/password", "status=303", "duration=", "bytes="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t))
	deps := f.srv.deps
	// without returns the fixture's dependencies with one of them taken away: only that one is
	// what New refuses.
	without := func(drop func(*Deps)) Deps {
		d := deps
		drop(&d)
		return d
	}
	for name, tt := range map[string]struct {
		cfg  Config
		deps Deps
	}{
		"bad language":         {Config{DefaultLanguage: "es"}, deps},
		"bad base URL":         {Config{BaseURL: "sleutelbos.test"}, deps},
		"negative size":        {Config{MaxBodyBytes: -1}, deps},
		"no store":             {Config{}, without(func(d *Deps) { d.Store = nil })},
		"mailbox without one":  {Config{DevMailbox: true}, deps},
		"negative idle period": {Config{SessionIdle: -1}, deps},
		"no device key":        {Config{}, without(func(d *Deps) { d.DeviceKey = nil })},
		"no logon quota":       {Config{}, without(func(d *Deps) { d.StartQuota = nil })},
	} {
		if _, err := New(tt.cfg, tt.deps); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(Config{}, deps); err != nil {
		t.Errorf("New with defaults: %v", err)
	}
}

func TestSafeReturn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                     "/",
		"/":                    "/",
		"/portal/keys?tab=1":   "/portal/keys?tab=1",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"portal":               "/",
		"/a\r\nSet-Cookie: x":  "/",
		"/\t/evil.example":     "/",
		"/\x7f/evil":           "/",
		"/\x01":                "/",
	} {
		if got := safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

// hrefRE finds every link target of a page.
var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

// TestLanguageLinksStayOnSite: the language switch is built from the request path, which a
// link from elsewhere controls. Whatever the path, every link stays on this site.
func TestLanguageLinksStayOnSite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t))
	base, _ := url.Parse("http://sleutelbos.test/")
	for _, target := range []string{
		"/%2F%2Fevil.example/x", "/%2F%2Fevil.example", "/%5C%5Cevil", "/%5C/evil", "/%09/evil",
		"/%2F%09%2Fevil", "/%0A/evil", "/%0D%0A/evil", "/%7F/evil", "/%2Fevil.example?x=1",
	} {
		res := f.browser().get(target)
		if strings.Contains(res.body, "evil.example?lang") || strings.Contains(res.body, `href="//`) || strings.Contains(res.body, `href="///`) {
			t.Errorf("GET %s: a link leaves the site:\n%s", target, res.body)
		}
		links := 0
		for _, m := range hrefRE.FindAllStringSubmatch(res.body, -1) {
			href := html.UnescapeString(m[1])
			if !strings.Contains(href, "lang=") {
				continue
			}
			links++
			if !strings.HasPrefix(href, "/") || strings.HasPrefix(href, "//") || strings.ContainsAny(href, "\\\t\r\n") {
				t.Errorf("GET %s: language link %q is not a plain local path", target, href)
			}
			u, err := base.Parse(href)
			if err != nil || u.Host != base.Host {
				t.Errorf("GET %s: language link %q resolves to %v (%v)", target, href, u, err)
			}
		}
		if links != len(i18n.Languages()) {
			t.Errorf("GET %s: %d language links, want %d", target, links, len(i18n.Languages()))
		}
	}
	// A harmless path keeps its place, escaped: "?" in a path is not a query.
	if body := f.browser().get("/a%3Fb").body; !strings.Contains(body, `href="/a%3fb?lang=nl"`) && !strings.Contains(body, `href="/a%3Fb?lang=nl"`) {
		t.Errorf("GET /a%%3Fb: language link does not keep the escaped path:\n%s", body)
	}
}
