package admin

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/campaign"
)

func TestOperatorRole(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, at place) {
		mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", "Anna", "--name", "Anna", "--email", "anna@example.org")
		steps := []struct {
			args []string
			want string
		}{
			{[]string{"users", "grant-operator", "anna"}, "Anna now has the operator role"},
			{[]string{"users", "grant-operator", "Anna"}, "Anna already has the operator role"},
			{[]string{"users", "operators"}, "Anna"},
			{[]string{"users", "revoke-operator", "anna"}, "Anna no longer has the operator role"},
			{[]string{"users", "revoke-operator", "anna"}, "Anna did not have the operator role"},
		}
		for _, s := range steps {
			if out := mustRun(t, at, "", s.args...); !strings.Contains(out, s.want) {
				t.Errorf("%v printed %q, want %q", s.args, out, s.want)
			}
		}
		if out := mustRun(t, at, "", "users", "operators"); strings.Contains(out, "Anna") {
			t.Errorf("users operators after the revocation:\n%s", out)
		}
		for _, args := range [][]string{{"users", "grant-operator", "nobody"}, {"users", "revoke-operator", "nobody"}} {
			if out, err := runAdmin(t, at, "", args...); err == nil || !strings.Contains(err.Error(), `no citizen with username "nobody"`) {
				t.Errorf("%v = %v\n%s", args, err, out)
			}
		}
		if _, err := runAdmin(t, at, "", "users", "grant-operator"); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("grant-operator without a username: %v", err)
		}
		// Both changes are audited, once each.
		out := mustRun(t, at, "", "audit", "export")
		if strings.Count(out, `"role_granted"`) != 1 || strings.Count(out, `"role_revoked"`) != 1 {
			t.Errorf("audit log:\n%s", out)
		}
	})
}

func TestPhaseoutReportAndRemind(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, at place) {
		for _, u := range []string{"anna", "bert"} {
			mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", u, "--name", "Name "+u, "--email", u+"@example.org", "--language", "nl")
		}
		cards := filepath.Join(at.dir, "cards.csv")
		if err := os.WriteFile(cards, []byte(card("anna", "TC-1", nil)+"\n"+card("bert", "TC-2", nil)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustRun(t, at, "", "tokencards", "import", cards)

		// Without a policy: figures, but no reminders.
		out := mustRun(t, at, "", "phaseout", "report", "tokencard")
		for _, want := range []string{"phase now", "none", "At risk (no active emailcode, totp)", "2", "Migrations per day"} {
			if !strings.Contains(out, want) {
				t.Errorf("report without a policy:\n%s\nwant %q", out, want)
			}
		}
		if _, err := runAdmin(t, at, "", "phaseout", "remind", "tokencard"); err == nil || !strings.Contains(err.Error(), "no phase-out policy") {
			t.Errorf("remind without a policy: %v", err)
		}
		mustRun(t, at, "", "phaseout", "set", "tokencard", "--activation-closed-from", "2020-01-01",
			"--migration-prompt-from", "2020-02-01", "--disabled-from", "2099-01-31", "--confirm")

		var r campaign.Report
		if err := json.Unmarshal([]byte(mustRun(t, at, "", "phaseout", "report", "tokencard", "--format", "json")), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind != "tokencard" || r.Phase != campaign.PhasePrompt || r.Active != 2 || r.AtRisk != 2 || r.LastUse[0].Citizens != 2 || r.Policy.DisabledFrom.Year() != 2099 {
			t.Errorf("json report %+v", r)
		}
		rows, err := csv.NewReader(strings.NewReader(mustRun(t, at, "", "phaseout", "report", "--format", "csv", "tokencard"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		figures := map[string]string{}
		for _, row := range rows {
			figures[row[0]] = row[1]
		}
		if figures["at_risk"] != "2" || figures["phase"] != "prompt" || figures["last_use.never"] != "2" || figures["funnel.choice.close.events"] != "0" {
			t.Errorf("csv report %v", figures)
		}

		out = mustRun(t, at, "", "phaseout", "remind", "tokencard")
		if !strings.Contains(out, "round 1 of tokencard started: 2 reminders enqueued") {
			t.Errorf("remind printed %q", out)
		}
		out, err = runAdmin(t, at, "", "phaseout", "remind", "tokencard")
		if err == nil || !strings.Contains(err.Error(), "Reminder round 1 has finished already, after 2 reminders") || !strings.Contains(err.Error(), "--new-round") {
			t.Errorf("a second start of a finished round: %v\n%s", err, out)
		}
		if out := mustRun(t, at, "", "phaseout", "remind", "tokencard", "--new-round"); !strings.Contains(out, "round 2 of tokencard started: 2 reminders") {
			t.Errorf("new round printed %q", out)
		}
		if out := mustRun(t, at, "", "mail", "status"); !strings.Contains(out, "4") {
			t.Errorf("mail status after two rounds:\n%s", out)
		}

		// (runAdmin's output ends with stderr: the audit log line)
		out = mustRun(t, at, "", "phaseout", "at-risk", "tokencard")
		if want := "username,name,email,language,last_used\nanna,Name anna,anna@example.org,nl,\nbert,Name bert,bert@example.org,nl,\n"; !strings.HasPrefix(out, want) {
			t.Errorf("at-risk printed %q, want %q", out, want)
		}

		bad := []struct {
			args []string
			want string
		}{
			{[]string{"phaseout", "report", "pigeon"}, "There is no digital key of that kind. (kinds: tokencard, emailcode, totp)"},
			{[]string{"phaseout", "report", "password"}, "There is no digital key of that kind."},
			{[]string{"phaseout", "at-risk", "pigeon"}, "There is no digital key of that kind."},
			{[]string{"phaseout", "remind", "pigeon"}, "There is no digital key of that kind."},
			{[]string{"phaseout", "report", "tokencard", "--format", "xml"}, "--format must be text, json or csv"},
			{[]string{"phaseout", "report"}, "usage"},
			{[]string{"phaseout", "remind", "tokencard", "--batch", "0"}, "--batch must be between 1 and 5000"},
		}
		for _, b := range bad {
			if out, err := runAdmin(t, at, "", b.args...); err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("%v = %v\n%s\nwant an error saying %q", b.args, err, out, b.want)
			}
		}
	})
}
