package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestPasswordStepEmptyFields: the password step sent with a field empty says which, on that
// field, in the GOV.UK pattern and the citizen's language — both fields when both are empty —
// and what was typed as the username is shown back; the form is answered again and stays at
// the password step, and a right password afterwards logs on.
func TestPasswordStepEmptyFields(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		for _, lang := range i18n.Languages() {
			f.clock.Advance(time.Hour)
			p := f.bundle.Printer(lang)
			b := f.browser()
			b.cookies[f.srv.cookies.lang] = lang
			b.choose("password", "low", "/")

			res := b.post("/login/password", url.Values{"username": {""}, "password": {"something"}})
			wantStatus(t, lang+" empty username", res, http.StatusOK)
			wantFormError(t, f, lang+" empty username", lang, res.body, "username", p.T("login.error.no_username"))

			res = b.post("/login/password", url.Values{"username": {demoUser}, "password": {""}})
			wantStatus(t, lang+" empty password", res, http.StatusOK)
			wantFormError(t, f, lang+" empty password", lang, res.body, "password", p.T("login.error.no_password"))
			wantContains(t, lang+" empty password", res.body, `value="`+demoUser+`"`)

			res = b.post("/login/password", url.Values{"username": {" "}, "password": {""}})
			wantStatus(t, lang+" both empty", res, http.StatusOK)
			summary := summaryRE.FindString(res.body)
			for _, want := range []string{
				`<li><a href="#username">` + escapeHTML(p.T("login.error.no_username")) + `</a></li>`,
				`<li><a href="#password">` + escapeHTML(p.T("login.error.no_password")) + `</a></li>`,
			} {
				if !strings.Contains(summary, want) {
					t.Errorf("%s both empty: the summary lacks %s:\n%s", lang, want, summary)
				}
			}
			if n := strings.Count(res.body, `aria-invalid="true"`); n != 2 {
				t.Errorf("%s both empty: %d invalid fields, want 2", lang, n)
			}
			if strings.Contains(res.body, escapeHTML(p.T("login.error.bad_credentials"))) {
				t.Errorf("%s: an incomplete form was told the credentials are wrong", lang)
			}

			res = b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
			if res.status != http.StatusSeeOther || res.location() != "/" {
				t.Errorf("%s: the right password after the incomplete forms: %d → %q, want 303 → /", lang, res.status, res.location())
			}
		}
	})
}
