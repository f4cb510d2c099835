package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// downStore is a store whose database does not answer pings.
type downStore struct{ Store }

func (downStore) Ping(context.Context) error { return errors.New("connection refused") }

func TestHealth(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		up := newFixture(t, db).browser()
		res := up.get("/healthz")
		if res.status != http.StatusOK || strings.TrimSpace(res.body) != "ok" {
			t.Errorf("/healthz: %d %q", res.status, res.body)
		}
		wantStatus(t, "/readyz", up.get("/readyz"), http.StatusOK)

		down := newFixture(t, db, func(_ *Config, d *Deps) { d.Store = downStore{d.Store} }).browser()
		wantStatus(t, "/healthz with the database down", down.get("/healthz"), http.StatusOK)
		res = down.get("/readyz")
		wantStatus(t, "/readyz with the database down", res, http.StatusServiceUnavailable)
		if strings.Contains(res.body, "refused") {
			t.Errorf("/readyz shows the error: %q", res.body)
		}
	})
}

func TestDevMailbox(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		mailbox := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("mailbox " + r.URL.Path)) })
		off := newFixture(t, db, func(_ *Config, d *Deps) { d.Mailbox = mailbox }).browser()
		for _, p := range []string{"/dev/mailbox", "/dev/mailbox/", "/dev/mailbox/1"} {
			res := off.get(p)
			wantStatus(t, p+" without DevMailbox", res, http.StatusNotFound)
			if !strings.Contains(res.body, "Page not found") {
				t.Errorf("%s: not the localised 404 page", p)
			}
		}
		on := newFixture(t, db, func(c *Config, d *Deps) { c.DevMailbox, d.Mailbox = true, mailbox }).browser()
		for _, p := range []string{"/dev/mailbox", "/dev/mailbox/", "/dev/mailbox/1"} {
			res := on.get(p)
			if res.status != http.StatusOK || res.body != "mailbox "+p {
				t.Errorf("%s with DevMailbox: %d %q", p, res.status, res.body)
			}
		}
	})
}

func TestHomeRedirectsToLogon(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		b := newFixture(t, db).browser()
		for target, want := range map[string]string{"/": "/login", "/?lang=fr": "/login?lang=fr", "/?lang=xx": "/login"} {
			res := b.get(target)
			if res.status != http.StatusSeeOther || res.location() != want {
				t.Errorf("GET %s: %d %q, want 303 %q", target, res.status, res.location(), want)
			}
		}
	})
}
