package web

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
)

// newRecovery builds the forgotten username and password service over the fixture's world,
// with cfg's rules and perAddress requests per client address and hour.
func (f *fixture) newRecovery(cfg recovery.Config, perAddress int) *recovery.Service {
	f.t.Helper()
	cfg.PerAddress = perAddress
	addrQuota, err := attempts.NewQuota(f.db, cfg.PerAddress, recovery.Window, f.clock.Now)
	if err != nil {
		f.t.Fatal(err)
	}
	idQuota, err := attempts.NewQuota(f.db, cfg.PerIdentifier, recovery.Window, f.clock.Now)
	if err != nil {
		f.t.Fatal(err)
	}
	svc, err := recovery.New(cfg, recovery.Deps{
		Store: f.db, Passwords: f.world.Passwords, Hasher: f.world.Hasher, Mailer: f.world.Mail, Audit: f.world.Audit,
		Factors: f.world.Service, Kinds: f.world.Kinds, AddressQuota: addrQuota, IdentifierQuota: idQuota,
		RecoveryCodes: helpdesk.RecoveryCodes{Hasher: f.world.Hasher}, Now: f.clock.Now, Rand: rand.Reader,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return svc
}

// withRecovery gives the server a recovery service with cfg's rules.
func withRecovery(f *fixture, cfg recovery.Config, perAddress int) option {
	return func(_ *Config, d *Deps) { d.Recovery = f.newRecovery(cfg, perAddress) }
}

var resetLinkRE = regexp.MustCompile(`/reset\?t=([0-9]+\.[A-Za-z0-9_-]+)`)

// resetLink returns the path of the newest reset link e-mailed to address, or "".
func (f *fixture) resetLink(address string) string {
	f.t.Helper()
	ms := f.messagesTo(address)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Template != "password_reset" {
			continue
		}
		if m := resetLinkRE.FindStringSubmatch(ms[i].TextBody); m != nil {
			return "/reset?t=" + m[1]
		}
		f.t.Fatalf("reset e-mail without a link:\n%s", ms[i].TextBody)
	}
	return ""
}

// countMails counts the e-mails of template to address.
func (f *fixture) countMails(template, address string) int {
	n := 0
	for _, m := range f.messagesTo(address) {
		if m.Template == template {
			n++
		}
	}
	return n
}

// askReset asks for a reset link for identifier and checks the one answer.
func (b *browser) askReset(identifier string) *response {
	b.f.t.Helper()
	res := b.post("/forgot/password", url.Values{"identifier": {identifier}})
	if res.status != http.StatusSeeOther || res.location() != "/forgot/password/sent" {
		b.f.t.Fatalf("ask a reset link for %q: %d %s\n%.2000s", identifier, res.status, res.location(), res.body)
	}
	return res
}

// wantLogon checks whether username and password log on with the password key.
func wantLogon(t *testing.T, f *fixture, username, password string, want bool) {
	t.Helper()
	b := f.browser()
	b.choose("password", "low", "/")
	res := b.post("/login/password", url.Values{"username": {username}, "password": {password}})
	if got := res.status == http.StatusSeeOther && res.location() == "/"; got != want {
		t.Errorf("logon of %s with %q: %v (%d %s), want %v", username, password, got, res.status, res.location(), want)
	}
}
