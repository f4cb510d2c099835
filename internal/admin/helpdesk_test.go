package admin

import (
	"strings"
	"testing"
)

// TestHelpdeskRole: the helpdesk role is granted and revoked like the operator's, each change
// audited once, and the two roles are apart.
func TestHelpdeskRole(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, at place) {
		mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", "Hanna", "--name", "Hanna", "--email", "hanna@example.org")
		for _, s := range []struct {
			args []string
			want string
		}{
			{[]string{"users", "grant-helpdesk", "hanna"}, "Hanna now has the helpdesk role (the helpdesk console needs a logon at level substantial)"},
			{[]string{"users", "grant-helpdesk", "HANNA"}, "Hanna already has the helpdesk role"},
			{[]string{"users", "revoke-operator", "hanna"}, "Hanna did not have the operator role"},
			{[]string{"users", "revoke-helpdesk", "hanna"}, "Hanna no longer has the helpdesk role"},
			{[]string{"users", "revoke-helpdesk", "hanna"}, "Hanna did not have the helpdesk role"},
		} {
			if out := mustRun(t, at, "", s.args...); !strings.Contains(out, s.want) {
				t.Errorf("%v printed %q, want %q", s.args, out, s.want)
			}
		}
		if out, err := runAdmin(t, at, "", "users", "grant-helpdesk", "nobody"); err == nil || !strings.Contains(err.Error(), `no citizen with username "nobody"`) {
			t.Errorf("grant-helpdesk nobody = %v\n%s", err, out)
		}
		if _, err := runAdmin(t, at, "", "users", "revoke-helpdesk"); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("revoke-helpdesk without a username: %v", err)
		}
		out := mustRun(t, at, "", "audit", "export")
		if strings.Count(out, `"role_granted"`) != 1 || strings.Count(out, `"role_revoked"`) != 1 || !strings.Contains(out, `"helpdesk"`) {
			t.Errorf("audit log:\n%s", out)
		}
	})
}
