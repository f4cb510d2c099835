package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestBusyHashingAnswers503: when every place in the hashing queue is taken, a password step
// and a registration are answered at once with 503, Retry-After and the localised "busy" page,
// counting and recording nothing, for a known and an unknown username alike; once a place is
// free the same request goes through.
func TestBusyHashingAnswers503(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, withRegistration, func(c *Config, _ *Deps) { c.HashingRequests = 2 })
		f.srv.hashing <- struct{}{}
		f.srv.hashing <- struct{}{} // two requests are hashing

		audits := func() int {
			es, err := db.ListAudit(context.Background(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			return len(es)
		}
		before := audits()
		for _, tc := range []struct{ name, lang, path, username string }{
			{"known username", "nl", "/login/password", demoUser},
			{"unknown username", "fr", "/login/password", "nobody-here"},
			{"registration", "de", "/register", "new-citizen"},
		} {
			b := f.browser()
			b.header.Set("Accept-Language", tc.lang)
			form := url.Values{"username": {tc.username}, "password": {demoPassword}}
			if tc.path == "/login/password" {
				if res := b.choose("password", "low", "/"); res.status != http.StatusSeeOther {
					t.Fatalf("choose: %d", res.status)
				}
			} else {
				form.Set("name", "New Citizen")
				form.Set("email", "new@example.org")
				form.Set("language", tc.lang)
			}
			res := b.post(tc.path, form)
			wantStatus(t, tc.name, res, http.StatusServiceUnavailable)
			if got := res.header.Get("Retry-After"); got != "2" {
				t.Errorf("%s: Retry-After %q, want 2", tc.name, got)
			}
			want := f.bundle.Printer(tc.lang).T("web.error.503.text")
			if !strings.Contains(html.UnescapeString(res.body), want) {
				t.Errorf("%s: the page does not say %q in %s:\n%s", tc.name, want, tc.lang, res.body)
			}
		}
		if n := audits(); n != before {
			t.Errorf("busy answers recorded %d audit events; nothing was looked at", n-before)
		}
		if got := f.hashes.hashes.Load(); got != 0 {
			t.Errorf("%d registration hashes while busy", got)
		}

		<-f.srv.hashing // one place frees up
		f.browser().logon()
	})
}
