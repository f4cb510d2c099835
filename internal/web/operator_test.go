package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/campaign"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// operatorFixture is a web fixture with the operator pages, the demo citizen as the operator
// candidate (every key: never at risk), two citizens at risk with a token card only and a
// token card phase-out whose pop-up is being shown.
type operatorFixture struct {
	*fixture
	op, risk1, risk2 citizen
}

func newOperatorFixture(t *testing.T, db *sqlstore.DB) *operatorFixture {
	t.Helper()
	f := newFixture(t, db)
	// The server again, with the operator pages: a campaign service over the fixture's store
	// and the stored phase-out policies (read afresh on every question).
	w := f.world
	svc, err := campaign.New(campaign.Deps{Store: db, Kinds: w.Kinds, Policies: phaseout.NewPolicies(db, f.clock.Now, 0, nil),
		Mailer: w.Mail, Audit: w.Audit, Now: f.clock.Now, ActivateURL: "http://sleutelbos.test/keys/activate"})
	if err != nil {
		t.Fatal(err)
	}
	f.newServer(db, w.Service, w.Kinds, []option{func(_ *Config, d *Deps) { d.Campaigns, d.Roles = svc, db }})
	of := &operatorFixture{fixture: f, op: f.demoCitizen()}
	of.risk1 = f.newCitizen("risk1", "nl", keys.TokenCard)
	of.risk2 = f.newCitizen("risk2", "de", keys.TokenCard)
	ctx := context.Background()
	now := f.clock.Now()
	if err := db.PutPhaseoutPolicy(ctx, store.PhaseoutPolicy{Kind: keys.TokenCard, ActivationClosedFrom: now.Add(-60 * 24 * time.Hour),
		MigrationPromptFrom: now.Add(-30 * 24 * time.Hour), DisabledFrom: now.Add(30 * 24 * time.Hour), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return of
}

// grant gives the citizen the operator role.
func (f *operatorFixture) grant(c citizen) {
	f.t.Helper()
	if _, err := f.db.GrantRole(context.Background(), store.RoleGrant{AccountID: c.acct.ID, Role: store.RoleOperator, GrantedBy: "test"}); err != nil {
		f.t.Fatal(err)
	}
}

// substantial returns a browser logged on as c at level substantial with the token card.
func (f *operatorFixture) substantial(c citizen) *browser {
	f.t.Helper()
	b := f.browser()
	if res := b.logonAs(c, keys.TokenCard, "/"); res.status != http.StatusSeeOther {
		f.t.Fatalf("logon of %s: %d", c.username, res.status)
	}
	return b
}

func TestOperatorPagesNeedTheRole(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newOperatorFixture(t, db)
		b := f.substantial(f.op)
		for _, path := range []string{"/operator", "/operator/campaigns/tokencard", "/operator/campaigns/tokencard/at-risk.csv"} {
			res := b.get(path)
			if res.status != http.StatusForbidden || !strings.Contains(res.body, "your account does not have the operator role") {
				t.Errorf("GET %s without the role: %d\n%s", path, res.status, res.body)
			}
		}
		if res := b.get("/operator?lang=fr"); res.status != http.StatusForbidden || !strings.Contains(res.body, "votre compte n&#39;a pas le rôle d&#39;opérateur") {
			t.Errorf("GET /operator?lang=fr without the role: %d\n%s", res.status, res.body)
		}
		if res := b.post("/operator/campaigns/tokencard/remind", url.Values{}); res.status != http.StatusForbidden {
			t.Errorf("POST remind without the role: %d", res.status)
		}
		if n := f.mails(mail.TemplatePhaseoutReminder, f.risk1.email); n != 0 {
			t.Errorf("a refused POST sent %d reminders", n)
		}

		// With the role but a logon at level low: log on again at substantial, then come back.
		f.grant(f.op)
		low := f.browser()
		low.logonAs(f.op, keys.Password, "/")
		if res := low.get("/operator/campaigns/tokencard"); res.status != http.StatusSeeOther ||
			res.location() != "/login?level=substantial&return=%2Foperator%2Fcampaigns%2Ftokencard" {
			t.Errorf("operator at level low: %d → %q", res.status, res.location())
		}
		if res := b.get("/operator"); res.status != http.StatusOK {
			t.Errorf("operator at substantial: %d", res.status)
		}
		// A revocation acts on the open session at once.
		if _, err := db.RevokeRole(context.Background(), f.op.acct.ID, store.RoleOperator); err != nil {
			t.Fatal(err)
		}
		if res := b.get("/operator"); res.status != http.StatusForbidden {
			t.Errorf("after the revocation: %d", res.status)
		}
	})
}

func TestOperatorCampaignPage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newOperatorFixture(t, db)
		f.grant(f.op)
		ctx := context.Background()
		now := f.clock.Now()
		if err := db.AppendAudits(ctx, []store.AuditEvent{
			{Type: audit.PhaseoutPromptShown, AccountID: f.risk1.acct.ID, KeyKind: keys.TokenCard, Time: now.Add(-time.Hour)},
			{Type: audit.PhaseoutChoice, AccountID: f.risk1.acct.ID, KeyKind: keys.TokenCard, Time: now.Add(-time.Hour), Detail: map[string]string{"choice": "close"}},
			{Type: audit.KeyDeactivated, AccountID: f.op.acct.ID, KeyKind: keys.TokenCard, Time: now.Add(-48 * time.Hour),
				Detail: map[string]string{"cause": "migration", "replaced_by": keys.TOTP}},
		}); err != nil {
			t.Fatal(err)
		}
		b := f.substantial(f.op)
		res := b.get("/operator")
		if res.status != http.StatusOK || !strings.Contains(res.body, `href="/operator/campaigns/tokencard"`) ||
			!strings.Contains(res.body, "Migration pop-up shown at logon") {
			t.Fatalf("GET /operator: %d\n%s", res.status, res.body)
		}
		res = b.get("/operator/campaigns/tokencard")
		for _, want := range []string{
			"Phase-out campaign: Security code via token",
			"3 citizens have an active key of this kind.", // the operator and both citizens at risk
			"2 citizens have an active key of this kind and no other active key",
			`<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title chart-desc"`,
			`<title id="chart-title">Keys replaced per day, by new key</title>`,
			"Bar chart: 1 keys replaced between",
			`<caption id="migrations-caption">`,
			"Security code via mobile app", // the target kind in the table and legend
			"Send reminders",
		} {
			if !strings.Contains(res.body, want) {
				t.Errorf("campaign page lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("page:\n%s", res.body)
		}
		titles := map[string]string{"nl": "Uitfaseringscampagne", "fr": "Campagne de retrait", "de": "Auslaufkampagne", "en": "Phase-out campaign"}
		for lang, title := range titles {
			if res := b.get("/operator/campaigns/tokencard?lang=" + lang); res.status != http.StatusOK || !strings.Contains(res.body, title) ||
				!strings.Contains(res.body, `<html lang="`+lang+`">`) {
				t.Errorf("campaign page in %s: %d, want %q", lang, res.status, title)
			}
		}
		if res := b.get("/operator/campaigns/pigeon?lang=en"); res.status != http.StatusNotFound {
			t.Errorf("unknown kind: %d", res.status)
		}
		if res := b.get("/operator/campaigns/password/at-risk.csv"); res.status != http.StatusNotFound {
			t.Errorf("csv of the password: %d", res.status)
		}
	})
}

func TestOperatorAtRiskCSV(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newOperatorFixture(t, db)
		f.grant(f.op)
		b := f.substantial(f.op)
		res := b.get("/operator/campaigns/tokencard/at-risk.csv")
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			res.header.Get("Content-Disposition") != `attachment; filename="at-risk-tokencard.csv"` {
			t.Fatalf("csv: %d %v", res.status, res.header)
		}
		want := "username,name,email,language,last_used\n" +
			"risk1,Citizen risk1,risk1@example.org,nl,\n" +
			"risk2,Citizen risk2,risk2@example.org,de,\n"
		if res.body != want {
			t.Errorf("csv body %q, want %q", res.body, want)
		}
		var downloads int
		for _, e := range f.events(audit.OperatorAction) {
			if e.Detail["action"] == "at_risk_csv" && e.AccountID == f.op.acct.ID && e.KeyKind == keys.TokenCard && e.Detail["by"] == demoUser {
				downloads++
			}
		}
		if downloads != 1 {
			t.Errorf("%d audited downloads, want 1", downloads)
		}
	})
}

func TestOperatorSendsReminders(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newOperatorFixture(t, db)
		f.grant(f.op)
		b := f.substantial(f.op)
		res := b.post("/operator/campaigns/tokencard/remind", url.Values{})
		if res.status != http.StatusSeeOther || res.location() != "/operator/campaigns/tokencard#reminders" {
			t.Fatalf("remind: %d → %q\n%s", res.status, res.location(), res.body)
		}
		page := b.get("/operator/campaigns/tokencard")
		if !strings.Contains(page.body, "The reminders are in the outbox") || !strings.Contains(page.body, "Round 1: started on") ||
			!strings.Contains(page.body, "by demo; 2 reminders so far.") || !strings.Contains(page.body, "Finished on") {
			t.Errorf("page after the round:\n%s", page.body)
		}
		for _, c := range []citizen{f.risk1, f.risk2} {
			if n := f.mails(mail.TemplatePhaseoutReminder, c.email); n != 1 {
				t.Errorf("%s got %d reminders, want 1", c.username, n)
			}
		}
		if n := f.mails(mail.TemplatePhaseoutReminder, f.op.email); n != 0 {
			t.Errorf("the operator, not at risk, got %d reminders", n)
		}
		// Sent again: the finished round is not repeated; the form says so at its checkbox.
		res = b.post("/operator/campaigns/tokencard/remind", url.Values{})
		if res.status != http.StatusOK || !strings.Contains(res.body, "Reminder round 1 has finished already, after 2 reminders") ||
			!strings.Contains(res.body, `<a href="#new_round">`) || !strings.Contains(res.body, `id="new_round" name="new_round" value="1" aria-invalid="true" aria-describedby="new_round-error"`) ||
			!strings.Contains(res.body, "<title>Error: ") {
			t.Errorf("second round without the checkbox: %d\n%s", res.status, res.body)
		}
		if n := f.mails(mail.TemplatePhaseoutReminder, f.risk1.email); n != 1 {
			t.Errorf("a refused round sent: %d reminders", n)
		}
		res = b.post("/operator/campaigns/tokencard/remind", url.Values{"new_round": {"1"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("new round: %d\n%s", res.status, res.body)
		}
		if n := f.mails(mail.TemplatePhaseoutReminder, f.risk2.email); n != 2 {
			t.Errorf("after round 2: %d reminders, want 2", n)
		}
		var actions []string
		for _, e := range f.events(audit.OperatorAction) {
			if e.AccountID == f.op.acct.ID {
				actions = append(actions, e.Detail["action"])
			}
		}
		if got := strings.Join(actions, " "); got != "reminder_round_started reminder_round_finished reminder_round_started reminder_round_finished" {
			t.Errorf("operator actions audited: %s", got)
		}
	})
}
