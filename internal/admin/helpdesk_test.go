package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
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

// TestGrantVoidsRecoveryCode: granting a role uses up the account's unused recovery code — one
// a helpdesk agent issued while it was an ordinary citizen would otherwise open an account the
// helpdesk may not act on.
func TestGrantVoidsRecoveryCode(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, at place) {
		mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", "Ida", "--name", "Ida", "--email", "ida@example.org")
		dbURL := at.db
		if dbURL == "" {
			dbURL = "sqlite://" + at.dir + "/sleutelbos.db"
		}
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		acct, err := db.GetAccountByUsername(ctx, "ida")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		code := store.Code{AccountID: acct.ID, Purpose: store.CodeRecovery, Hash: []byte("not a real hash"), CreatedAt: now, ExpiresAt: now.Add(72 * time.Hour)}
		if err := db.CreateCode(ctx, &code); err != nil {
			t.Fatal(err)
		}
		mustRun(t, at, "", "users", "grant-operator", "ida")
		got, err := db.LatestCode(ctx, acct.ID, store.CodeRecovery)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != code.ID || got.UsedAt.IsZero() {
			t.Errorf("after grant-operator the recovery code is %+v, want it used", got)
		}
	})
}
