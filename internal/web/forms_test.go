package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// wantFormError checks the GOV.UK error pattern of DESIGN.md on a page answering an invalid
// form: the error summary at the top (role="alert", focusable, its heading, a link to the
// field), the message next to the field with a hidden "Error:", the field marked invalid and
// described by the message (a button — a key of the chooser — is only described), and the
// title prefixed with "Error: ", all in lang.
func wantFormError(t *testing.T, f *fixture, what, lang, body, field, msg string) {
	t.Helper()
	p := f.bundle.Printer(lang)
	msg = escapeHTML(msg)
	summary := summaryRE.FindString(body)
	if summary == "" {
		t.Fatalf("%s: no error summary:\n%s", what, body)
	}
	if strings.Index(body, summary) > strings.Index(body, "<h1") {
		t.Errorf("%s: the error summary is not at the top, before the heading", what)
	}
	for _, want := range []string{
		`role="alert"`, `tabindex="-1"`, "autofocus", `id="error-summary"`,
		`<h2 id="error-summary-title">` + escapeHTML(p.T("web.form.error_summary")) + `</h2>`,
		`<li><a href="#` + field + `">` + msg + `</a></li>`,
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("%s: the error summary lacks %s:\n%s", what, want, summary)
		}
	}
	id := field + "-error"
	wantContains(t, what, body,
		`<span class="field-error" id="`+id+`"><span class="visually-hidden">`+escapeHTML(p.T("web.form.error_label"))+` </span>`+msg+`</span>`,
		"<title>"+escapeHTML(p.T("web.form.error_title", ""))) // the title starts with "Error: "
	control := regexp.MustCompile(`<(input|button|select)[^>]*\sid="` + regexp.QuoteMeta(field) + `"[^>]*>`).FindString(body)
	if control == "" {
		t.Fatalf("%s: no control with id %q for the summary to link to", what, field)
	}
	describedBy := regexp.MustCompile(`aria-describedby="([^"]*)"`).FindStringSubmatch(control)
	if describedBy == nil || !strings.Contains(" "+describedBy[1]+" ", " "+id+" ") {
		t.Errorf("%s: %s is not described by %s", what, control, id)
	}
	if strings.HasPrefix(control, "<button") == strings.Contains(control, `aria-invalid="true"`) {
		t.Errorf("%s: aria-invalid on %s", what, control)
	}
	if n := strings.Count(body, `aria-invalid="true"`); n > 1 {
		t.Errorf("%s: %d invalid fields, want 1", what, n)
	}
}

var summaryRE = regexp.MustCompile(`(?s)<div class="error-summary"[^>]*>.*?</div>`)

// TestFormErrors: every form page — the password step, the code step and the chooser — shows
// its errors with the error summary pattern, in every language; pages without an error have
// neither summary nor "Error:" title.
func TestFormErrors(t *testing.T) {
	t.Parallel()
	eachStore(t, testFormErrors)
}

func testFormErrors(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	for _, lang := range i18n.Languages() {
		f.clock.Advance(time.Hour)
		p := f.bundle.Printer(lang)
		b := f.browser()
		b.cookies[f.srv.cookies.lang] = lang

		clean := b.get("/login").body
		b.choose("password", "low", "/")
		for name, page := range map[string]string{"chooser": clean, "password": b.get("/login/password").body} {
			if strings.Contains(page, "error-summary") || strings.Contains(page, "aria-invalid") || strings.Contains(page, "<title>"+p.T("web.form.error_title", "")) {
				t.Errorf("%s %s without an error shows one:\n%s", lang, name, page)
			}
		}

		res := b.post("/login/password", url.Values{"username": {"nobody"}, "password": {"wrong-password"}})
		wantStatus(t, "wrong password", res, http.StatusOK)
		wantFormError(t, f, lang+" password step", lang, res.body, "username", p.T("login.error.bad_credentials"))

		b.choose("tokencard", "substantial", "/")
		b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		res = b.post("/login/code", url.Values{"code": {"12"}})
		wantStatus(t, "malformed code", res, http.StatusOK)
		wantFormError(t, f, lang+" code step", lang, res.body, "code", p.T("login.error.code_format", 6))
		if !strings.Contains(res.body, `aria-describedby="code-prompt code-error"`) {
			t.Errorf("%s: the code field lost its prompt as description", lang)
		}

		res = b.choose("nonsense", "substantial", "/")
		wantStatus(t, "unknown kind", res, http.StatusOK)
		wantFormError(t, f, lang+" chooser", lang, res.body, "kind-tokencard", p.T("login.error.unknown_kind"))
		if n := strings.Count(res.body, `aria-describedby="kind-tokencard-error key-`); n != strings.Count(res.body, `name="kind"`) || n == 0 {
			t.Errorf("%s chooser: %d of the keys are described by the error", lang, n)
		}
	}
}

// TestErrorSummaryScript: the script that moves the focus to the summary is served from
// /static (the CSP allows no inline script) and every page loads it.
func TestErrorSummaryScript(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sqltest.SQLite(t))
	b := f.browser()
	page := b.get("/login").body
	m := regexp.MustCompile(`<script src="(/static/focus\.js\?v=[0-9a-f]+)" defer></script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page does not load /static/focus.js:\n%s", page)
	}
	res := b.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	wantStatus(t, "focus.js", res, http.StatusOK)
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("focus.js Content-Type %q", ct)
	}
	if !strings.Contains(res.body, "getElementById('error-summary')") || !strings.Contains(res.body, ".focus()") {
		t.Errorf("focus.js does not focus the summary:\n%s", res.body)
	}
}
