package helpdesk_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestActionsRefusePrivilegedAccounts: every action on an account holding a role (operator or
// helpdesk) is ErrPrivileged, leaves its keys, codes and audit trail as they were, and the view
// says so; the same action on an ordinary citizen goes through.
func TestActionsRefusePrivilegedAccounts(t *testing.T) {
	t.Parallel()
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := logintest.New(t, db, logintest.Options{})
		svc, err := helpdesk.New(helpdesk.DefaultConfig(), helpdesk.Deps{Store: db, Logons: w.Service, Kinds: w.Kinds,
			Mailer: w.Mail, Audit: w.Audit, Hasher: w.Hasher, Now: w.Clock.Now, Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		agent := helpdesk.Agent{AccountID: -1, Username: "agent", IP: "192.0.2.1"}
		peer := w.Account.ID
		ks, err := db.ListKeys(ctx, peer)
		if err != nil || len(ks) == 0 {
			t.Fatalf("keys: %v %v", ks, err)
		}
		key := ks[0]
		actions := map[string]func() error{
			"recovery code": func() error { _, err := svc.IssueRecoveryCode(ctx, agent, peer, "a reason"); return err },
			"deactivate":    func() error { return svc.DeactivateKey(ctx, agent, peer, key.ID, "a reason") },
			"unlock":        func() error { return svc.UnlockKey(ctx, agent, peer, key.ID, "a reason") },
			"lift password": func() error { return svc.LiftPasswordThrottle(ctx, agent, peer, "a reason") },
			"lift code":     func() error { return svc.LiftCodeThrottle(ctx, agent, peer, key.ID, "a reason") },
			"resend":        func() error { return svc.Resend(ctx, agent, peer, 1, "a reason") },
		}
		for _, role := range []string{store.RoleOperator, store.RoleHelpdesk} {
			if _, err := db.GrantRole(ctx, store.RoleGrant{AccountID: peer, Role: role, GrantedBy: "test"}); err != nil {
				t.Fatal(err)
			}
			for name, act := range actions {
				if err := act(); !errors.Is(err, helpdesk.ErrPrivileged) {
					t.Errorf("%s on a holder of %s: %v, want ErrPrivileged", name, role, err)
				}
			}
			if v, err := svc.Citizen(ctx, peer); err != nil || !v.Privileged {
				t.Errorf("view of a holder of %s: privileged %v, %v", role, v.Privileged, err)
			}
			if k, _ := db.GetKey(ctx, key.ID); k.Status != key.Status {
				t.Errorf("key %s after refusals, was %s", k.Status, key.Status)
			}
			if es, _ := db.RecentAccountAudit(ctx, peer, helpdesk.Action, 10); len(es) != 0 {
				t.Errorf("%d action events after refusals", len(es))
			}
			if _, err := db.RevokeRole(ctx, peer, role); err != nil {
				t.Fatal(err)
			}
		}
		// Without a role the same citizen is an ordinary one.
		if v, err := svc.Citizen(ctx, peer); err != nil || v.Privileged {
			t.Errorf("view without a role: privileged %v, %v", v.Privileged, err)
		}
		if err := svc.DeactivateKey(ctx, agent, peer, key.ID, "a reason"); err != nil {
			t.Errorf("deactivate an ordinary citizen's key: %v", err)
		}
	})
}
