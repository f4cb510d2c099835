package web

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestLostKey: "I lost this key" deactivates even the citizen's last substantial key at once
// (cause lost), after a page that says what happens next; the citizen is e-mailed and it is
// audited. Another citizen's key, a key already deactivated and a stale logon are refused and
// change nothing.
func TestLostKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("lotte", "en", keys.TokenCard)
		card := f.keysOf(c)[0]
		b := f.browser()
		b.logonAs(c, keys.TokenCard, "/keys")
		lost := "/keys/" + strconv64(card.ID) + "/lost"
		wantContains(t, "key list", b.get("/keys").body, `href="`+lost+`"`, "I lost this key")
		if strings.Contains(b.get("/keys").body, `href="/keys/`+strconv64(card.ID)+`/deactivate"`) {
			t.Error("the last substantial key can be deactivated the ordinary way")
		}
		page := b.get(lost)
		wantStatus(t, "lost page", page, http.StatusOK)
		p := f.bundle.Printer("en")
		wantContains(t, "lost page", page.body, p.T("portal.lost.last"), p.T("portal.lost.next"), p.T("portal.lost.confirm"))

		res := b.post(lost, nil)
		wantFlash(t, "report lost", f, res, "/keys", flashKeyLost)
		wantContains(t, "key list after", b.get("/keys").body, p.T("portal.lost.done"),
			`data-kind="tokencard" data-status="deactivated"`, p.T("portal.cause.lost"))
		k, err := db.GetKey(t.Context(), card.ID)
		if err != nil || k.Status != store.KeyDeactivated || k.DeactivationCause != keys.CauseLost {
			t.Errorf("the lost key: %+v %v, want deactivated with cause lost", k, err)
		}
		if f.mails("key_deactivated", c.email) != 1 {
			t.Error("no deactivation e-mail")
		}
		if es := f.events(audit.KeyDeactivated); len(es) != 1 || es[0].Detail["cause"] != keys.CauseLost || es[0].AccountID != c.acct.ID {
			t.Errorf("audit: %+v, want one key.deactivated with cause lost", es)
		}

		// Again: the key is not active any more.
		res = b.post(lost, nil)
		wantStatus(t, "lost again", res, http.StatusOK)
		wantContains(t, "lost again", res.body, `role="alert"`)
		// Another citizen's key, and nonsense: 404, nothing changed.
		demoKey := f.keysOf(f.demoCitizen())[0]
		for _, path := range []string{"/keys/" + strconv64(demoKey.ID) + "/lost", "/keys/999999/lost", "/keys/x/lost"} {
			if res := b.post(path, nil); res.status != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", path, res.status)
			}
		}
		if k, _ := db.GetKey(t.Context(), demoKey.ID); k.Status != store.KeyActive {
			t.Error("another citizen's key was deactivated")
		}
	})
}

// TestLostKeyNeedsARecentLogonOfAnyLevel: a citizen whose only substantial key is gone can log
// on with the password alone, and that is enough — but only recently.
func TestLostKeyNeedsARecentLogonOfAnyLevel(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("pim", "en", keys.TOTP)
		app := f.keysOf(c)[0]
		b := f.browser()
		b.logonAs(c, keys.Password, "/keys")
		lost := "/keys/" + strconv64(app.ID) + "/lost"
		f.clock.Advance(16 * time.Minute)
		b.get("/keys") // keeps the session alive; the logon is 16 minutes old
		res := b.post(lost, nil)
		if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/login?") {
			t.Errorf("stale logon: %d %s, want 303 to the logon", res.status, res.location())
		}
		if k, _ := db.GetKey(t.Context(), app.ID); k.Status != store.KeyActive {
			t.Fatal("a stale logon deactivated the key")
		}
		b2 := f.browser()
		b2.logonAs(c, keys.Password, "/keys")
		wantFlash(t, "report lost after a password logon", f, b2.post(lost, nil), "/keys", flashKeyLost)
		if k, _ := db.GetKey(t.Context(), app.ID); k.Status != store.KeyDeactivated {
			t.Error("the lost app key is still active")
		}
	})
}

// TestLostKeyFromAPasswordLogonWaits: after "I lost this key" from a logon with only the
// password, the key list says from when (with the zone) a new key can be activated by e-mail
// and that the helpdesk can help sooner; the wizard offers nothing until then, and the
// e-mail key chosen anyway is refused. After the wait the e-mail key is offered again.
func TestLostKeyFromAPasswordLogonWaits(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		c := f.newCitizen("pia", "en", keys.TokenCard)
		card := f.keysOf(c)[0]
		b := f.browser()
		b.logonAs(c, keys.Password, "/keys")
		wantFlash(t, "report lost", f, b.post("/keys/"+strconv64(card.ID)+"/lost", nil), "/keys", flashKeyLost)
		k, err := db.GetKey(t.Context(), card.ID)
		if err != nil || k.Status != store.KeyDeactivated {
			t.Fatalf("the card: %+v %v", k, err)
		}
		loc, err := time.LoadLocation("Europe/Brussels")
		if err != nil {
			t.Skip("no zone data")
		}
		until := helpdesk.FormatInstant(k.DeactivatedAt.Add(72*time.Hour), loc)
		p := f.bundle.Printer("en")
		// html/template writes the zone's "+" as a character reference.
		want := strings.ReplaceAll(html.EscapeString(p.T("portal.lost.wait", until)), "+", "&#43;")
		wantContains(t, "key list after the report", b.get("/keys").body, `id="lost-key-wait"`, want, "UTC&#43;01:00")

		b.wizard()
		page, hidden := b.next(nil)
		wantContains(t, "step 2 during the wait", page.body, `id="lost-key-wait"`, want)
		if strings.Contains(page.body, `value="emailcode"`) {
			t.Error("step 2 offers the e-mail key during the wait")
		}
		res := b.wizardPost(hidden, "next", url.Values{"kind": {"emailcode"}})
		wantContains(t, "e-mail key during the wait", res.body, `role="alert"`)
		if f.mails("registration_code", c.email) != 0 {
			t.Error("a registration code was sent during the wait")
		}

		f.clock.Advance(72 * time.Hour)
		b2 := f.browser()
		b2.logonAs(c, keys.Password, "/keys")
		if strings.Contains(b2.get("/keys").body, `id="lost-key-wait"`) {
			t.Error("the key list still speaks of the wait after it")
		}
		b2.wizard()
		page, _ = b2.next(nil)
		wantContains(t, "step 2 after the wait", page.body, `value="emailcode"`, `id="mailbox-only"`)
	})
}
