package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/portal/portaltest"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestPortalPagesInEveryLanguage renders every page of My digital keys — each wizard step,
// with and without an error — in every language: translated, one h1, the navigation, no
// inline style or script.
func TestPortalPagesInEveryLanguage(t *testing.T) {
	t.Parallel()
	eachStore(t, testPortalPagesInEveryLanguage)
}

func testPortalPagesInEveryLanguage(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	for _, lang := range i18n.Languages() {
		c := f.newCitizen("lang-"+lang, lang, keys.TokenCard)
		pages := map[string]*response{}
		b := f.browser()
		b.cookies[langCookie] = lang
		b.logonAs(c, keys.TokenCard, "/keys")
		card := f.keysOf(c)[0]
		pages["keys"] = b.get("/keys")
		pages["deactivate refused"] = b.get("/keys/" + strconv64(card.ID) + "/deactivate")
		pages["profile"] = b.get("/profile")
		pages["info"] = b.get("/info")
		pages["why"] = b.get("/info/why")
		pages["wizard email"], _ = b.wizard()
		_, hidden := b.wizard()
		pages["wizard email error"] = b.wizardPost(hidden, "change", url.Values{"email": {"nope"}})
		pages["wizard select"], hidden = b.next(nil)
		pages["wizard select error"] = b.wizardPost(hidden, "next", nil)
		pages["wizard prepare"], _ = b.next(url.Values{"kind": {"totp"}})
		pages["wizard app"], hidden = b.next(nil)
		pages["wizard app error"] = b.wizardPost(hidden, "next", url.Values{"code": {"x"}})
		b.wizardPost(hidden, "back", nil)
		pages["wizard activate email"], hidden = b.next(url.Values{"kind": {"emailcode"}})
		pages["wizard activate email error"] = b.wizardPost(hidden, "next", url.Values{"code": {"000000"}})
		pages["wizard done"], _ = b.next(url.Values{"code": {f.mailedCode("registration_code", c.email)}})
		pages["keys two"] = b.get("/keys")
		pages["deactivate"] = b.get("/keys/" + strconv64(card.ID) + "/deactivate")
		b.post("/keys/"+strconv64(card.ID)+"/deactivate", nil)
		pages["keys after deactivation"] = b.get("/keys")
		b.post("/profile/email", url.Values{"email": {"new-" + c.email}})
		pages["profile code"] = b.get("/profile")
		pages["profile code error"] = b.post("/profile/email/code", url.Values{"code": {"12"}})
		pages["no such key"] = b.get("/keys/999999/deactivate")
		for name, res := range pages {
			if res.status != http.StatusOK && !(name == "no such key" && res.status == http.StatusNotFound) {
				t.Errorf("%s %s: status %d", lang, name, res.status)
			}
			checkPage(t, lang+" "+name, lang, res.body)
			if name != "no such key" && !strings.Contains(res.body, `class="portal-nav"`) {
				t.Errorf("%s %s: no portal navigation", lang, name)
			}
			if strings.HasSuffix(name, "error") && !strings.Contains(res.body, `class="error-summary"`) {
				t.Errorf("%s %s: no error summary", lang, name)
			}
		}
	}
}

func TestProfile(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("maud", "en", keys.TokenCard)
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/profile")
		// Notices come from a one-time flash set by the change, never from the URL: a link
		// cannot make the page claim something happened.
		for _, forged := range []string{"/profile?notice=language", "/keys?notice=deactivated", "/keys/activate?notice=resent"} {
			if body := b.get(forged).body; strings.Contains(body, `class="notice`) {
				t.Errorf("GET %s shows a notice", forged)
			}
		}
		page := b.get("/profile").body
		wantContains(t, "profile", page, "<dd>Citizen maud</dd>", "<dd>maud</dd>", "<dd>maud@example.org</dd>",
			`<option value="en" lang="en" selected>English</option>`, `<a href="/profile" aria-current="page">My profile</a>`)
		// The language: bad value refused, a good one saved and used by pages and e-mails.
		res := b.post("/profile/language", url.Values{"language": {"xx"}})
		wantContains(t, "bad language", res.body, `<div class="error-summary"`, `<a href="#language">`)
		res = b.post("/profile/language", url.Values{"language": {"fr"}})
		wantFlash(t, "language", f, res, "/profile", flashLanguage)
		page = b.get("/profile").body
		if htmlLang(page) != "fr" || !strings.Contains(page, "Votre langue préférée a été enregistrée.") {
			t.Errorf("after choosing French: lang %q", htmlLang(page))
		}
		// The e-mail address: a code to the new one, then changed.
		res = b.post("/profile/email", url.Values{"email": {"maud@"}})
		wantContains(t, "bad address", res.body, `<a href="#email">`, `value="maud@"`)
		if res := b.post("/profile/email", url.Values{"email": {"maud2@example.org"}}); res.status != http.StatusSeeOther {
			t.Fatalf("change: %d", res.status)
		}
		page = b.get("/profile").body
		wantContains(t, "code form", page, "maud2@example.org", `action="/profile/email/code"`)
		res = b.post("/profile/email/code", url.Values{"code": {"abc"}})
		wantContains(t, "letters", res.body, `<a href="#code">`)
		wantFlash(t, "code", f, b.post("/profile/email/code", url.Values{"code": {f.mailedCode("email_change", "maud2@example.org")}}),
			"/profile", flashEmail)
		if acct, _ := db.GetAccount(t.Context(), c.acct.ID); acct.Email != "maud2@example.org" || acct.Language != "fr" {
			t.Errorf("account %+v", acct)
		}
		if f.mails("email_changed", "maud@example.org") != 1 {
			t.Error("the old address was not told")
		}
		// A stale logon: the citizen logs on again and comes back to the profile, nothing sent.
		f.clock.Advance(14 * time.Minute)
		b.get("/profile")
		f.clock.Advance(2 * time.Minute)
		res = b.post("/profile/email", url.Values{"email": {"maud3@example.org"}})
		if res.location() != "/login?level=substantial&return=%2Fprofile" {
			t.Errorf("stale e-mail change → %q", res.location())
		}
		if f.mails("email_change", "maud3@example.org") != 0 {
			t.Error("a stale logon sent a code")
		}
	})
}

// phaseOutPolicy phases the token card out with the seed's dates.
type phaseOutPolicy struct{ portal.AllOpen }

func (phaseOutPolicy) ActivationOpen(kind string, _ time.Time) bool { return kind != keys.TokenCard }

func (phaseOutPolicy) PhaseOut(kind string) (portal.PhaseOut, bool) {
	if kind != keys.TokenCard {
		return portal.PhaseOut{}, false
	}
	brussels := func(d int) time.Time { return time.Date(2024, 1, d, 23, 0, 0, 0, time.UTC) } // midnight in Brussels
	return portal.PhaseOut{ActivationClosedFrom: brussels(0), MigrationPromptFrom: brussels(14), DisabledFrom: brussels(30)}, true
}

func TestInfoShowsPhaseOut(t *testing.T) {
	t.Parallel()
	eachStore(t, testInfoShowsPhaseOut)
}

func testInfoShowsPhaseOut(t *testing.T, db *sqlstore.DB) {
	f := newFixture(t, db)
	f.clock.Set(time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)) // in the prompt period
	f.portal = portaltest.NewWithPolicy(t, f.world, nil, phaseOutPolicy{})
	f.newServer(f.db, f.world.Service, f.world.Kinds, nil)
	b := f.browser()
	b.logon()
	page := b.get("/info").body
	wantContains(t, "info", page, "<h2>Security code via token</h2>",
		"This digital key is being phased out: new keys cannot be activated from 1 January 2024, and from 31 January 2024 it can no longer be used to log on.",
		"Level of assurance: substantial.", "Level of assurance: low.", "<dt>substantial</dt>")
	nl := f.browser()
	nl.cookies[langCookie] = "nl"
	nl.logon()
	wantContains(t, "info nl", nl.get("/info").body, "vanaf 1 januari 2024", "vanaf 31 januari 2024")
	// From disabled_from the page says since when.
	f.clock.Set(time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC))
	b = f.browser()
	b.logon()
	wantContains(t, "info after the switch-off", b.get("/info").body, "This digital key has been phased out since 31 January 2024: it can no longer be used to log on.")
}
