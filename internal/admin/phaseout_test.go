package admin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPhaseout(t *testing.T) {
	t.Parallel()
	eachBackend(t, testPhaseout)
}

func testPhaseout(t *testing.T, at place) {
	if out := mustRun(t, at, "", "phaseout", "show"); !strings.Contains(out, "no phase-out policies") {
		t.Errorf("phaseout show on a new database printed %q", out)
	}
	mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", "anna", "--name", "Anna", "--email", "anna@example.org")
	cards := filepath.Join(at.dir, "cards.csv")
	if err := os.WriteFile(cards, []byte(card("anna", "TC-1", nil)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, at, "", "tokencards", "import", cards)

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"reversed", []string{"tokencard", "--migration-prompt-from", "2024-02-01", "--disabled-from", "2024-01-31"}, "is after disabled-from"},
		{"equal", []string{"tokencard", "--migration-prompt-from", "2024-01-31", "--disabled-from", "2024-01-31T00:00:00+01:00"}, "is equal to disabled-from"},
		{"unknown kind", []string{"pigeon", "--disabled-from", "2024-01-31"}, `unknown key kind "pigeon"`},
		{"password", []string{"password", "--disabled-from", "2024-01-31"}, "password kind cannot be phased out"},
		{"malformed date", []string{"tokencard", "--disabled-from", "31/01/2024"}, `--disabled-from: "31/01/2024" is not an instant`},
		{"malformed period", []string{"tokencard", "--deactivate-unused-after", "12d"}, `--deactivate-unused-after: "12d" is not a period`},
		{"nothing", []string{"tokencard"}, "sets nothing"},
		{"no kind", []string{"--disabled-from", "2024-01-31"}, "usage"},
		{"stranded without --confirm", []string{"tokencard", "--activation-closed-from", "2023-07-01", "--migration-prompt-from", "2023-09-01", "--disabled-from", "2024-01-31"}, "--confirm"},
	}
	for _, tc := range refused {
		out, err := runAdmin(t, at, "", append([]string{"phaseout", "set"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error()+out, tc.want) {
			t.Errorf("%s: phaseout set = %v\n%s\nwant an error saying %q", tc.name, err, out, tc.want)
		}
		if tc.name == "stranded without --confirm" && !strings.Contains(out, "1 citizen(s) have an active tokencard key and no active key of another substantial kind (emailcode, totp)") {
			t.Errorf("phaseout set without --confirm did not say who would be cut off:\n%s", out)
		}
	}
	if out := mustRun(t, at, "", "phaseout", "show"); !strings.Contains(out, "no phase-out policies") {
		t.Errorf("refused policies were stored:\n%s", out)
	}
	out := mustRun(t, at, "", "phaseout", "set", "tokencard", "--activation-closed-from", "2023-07-01",
		"--migration-prompt-from", "2023-09-01", "--disabled-from", "2024-01-31", "--deactivate-unused-after", "12mo", "--confirm")
	for _, want := range []string{"1 citizen(s)", "phase-out policy of tokencard set", "0 tokencard key(s) are due for the unused-key warning now", "2024-01-31T00:00:00+01:00", "12 months", "disabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("phaseout set printed\n%s\nwant %q in it", out, want)
		}
	}
	out = mustRun(t, at, "", "phaseout", "show")
	if !strings.Contains(out, "tokencard") || !strings.Contains(out, "2023-09-01T00:00:00+02:00") {
		t.Errorf("phaseout show printed\n%s", out)
	}
	if out := mustRun(t, at, "", "audit", "export"); strings.Count(out, `"phaseout.set"`) != 1 {
		t.Errorf("audit export has %d phaseout.set events, want 1:\n%s", strings.Count(out, `"phaseout.set"`), out)
	}
	mustRun(t, at, "", "phaseout", "clear", "tokencard")
	if _, err := runAdmin(t, at, "", "phaseout", "clear", "tokencard"); err == nil || !strings.Contains(err.Error(), "has no phase-out policy") {
		t.Errorf("clearing twice = %v", err)
	}
	if out := mustRun(t, at, "", "audit", "export"); !strings.Contains(out, `"phaseout.clear"`) {
		t.Errorf("the clear was not audited:\n%s", out)
	}
}
