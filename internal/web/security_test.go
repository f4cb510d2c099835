package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

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

		b = f.browser()
		b.get("/login")
		tok := b.cookies[csrfCookie]
		if tok == "" || !strings.Contains(b.get("/login").body, `name="csrf" value="`+tok+`"`) {
			t.Fatal("GET /login set no CSRF cookie, or the form does not carry it")
		}
		wantStatus(t, "cookie, no field", b.do("POST", "/login/choose", form("")), http.StatusForbidden)
		wantStatus(t, "wrong token", b.do("POST", "/login/choose", form(tok[:len(tok)-1]+"x")), http.StatusForbidden)

		// Field without cookie: an attacker who knows a token format cannot forge the pair.
		nb := f.browser()
		wantStatus(t, "field without cookie", nb.do("POST", "/login/choose", form(tok)), http.StatusForbidden)

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
		} {
			b.header = http.Header{}
			b.header.Set(h.k, h.v)
			wantStatus(t, h.k+": "+h.v, b.do("POST", "/login/choose", form(tok)), http.StatusSeeOther)
		}
		b.header = http.Header{}
		res = b.do("POST", "/login/choose", form(tok))
		wantStatus(t, "right token", res, http.StatusSeeOther)
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	eachStore(t, testBodyLimit)
}

func testBodyLimit(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db, func(c *Config, _ *Deps) { c.MaxBodyBytes = 1024 })
	b := f.browser()
	b.get("/login")
	big := url.Values{"csrf": {b.cookies[csrfCookie]}, "username": {strings.Repeat("a", 4096)}}
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
		strings.NewReader("csrf="+b.cookies[csrfCookie]+"&username=%FF%FEjan&password=x"))
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
	for _, secret := range []string{demoPassword, "secret-password-typed", b.cookies[sessionCookie], b.cookies[csrfCookie]} {
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
	for name, tt := range map[string]struct {
		cfg  Config
		deps Deps
	}{
		"bad language":         {Config{DefaultLanguage: "es"}, deps},
		"bad base URL":         {Config{BaseURL: "sleutelbos.test"}, deps},
		"negative size":        {Config{MaxBodyBytes: -1}, deps},
		"no store":             {Config{}, Deps{Bundle: deps.Bundle, Login: deps.Login, Keys: deps.Keys, Now: deps.Now, Rand: deps.Rand, Log: deps.Log}},
		"mailbox without one":  {Config{DevMailbox: true}, deps},
		"negative idle period": {Config{SessionIdle: -1}, deps},
		"no device key":        {Config{}, Deps{Store: deps.Store, Bundle: deps.Bundle, Login: deps.Login, Keys: deps.Keys, Now: deps.Now, Rand: deps.Rand, Log: deps.Log}},
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
	} {
		if got := safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}
