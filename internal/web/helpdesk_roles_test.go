package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestRecoveryCodeOfAnAccountGivenARole: a recovery code issued while the account was an
// ordinary citizen opens nothing once it holds a role (the helpdesk may not act on those): its
// redemption is refused like a wrong code.
func TestRecoveryCodeOfAnAccountGivenARole(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		dora := f.newCitizen("dora", "en", keys.TokenCard)
		code := f.console().issueCode(dora)
		f.grant(dora)
		if _, err := db.GrantRole(context.Background(), store.RoleGrant{AccountID: dora.acct.ID, Role: store.RoleOperator, GrantedBy: "test"}); err != nil {
			t.Fatal(err)
		}
		res := f.browser().post("/recover", url.Values{"username": {"dora"}, "code": {code}})
		if res.location() == "/reset/password" {
			t.Fatalf("a recovery code issued before the roles opened the account: %d %s", res.status, res.location())
		}
		if res.status != http.StatusOK || !strings.Contains(res.body, "alert") {
			t.Errorf("refused redemption: %d %s, want the form again with its error", res.status, res.location())
		}
	})
}

// TestConsoleWordsEveryWrittenReason: reasons real code writes into a citizen's trail (an
// export, an import, a lockout) are shown in words on the Dutch console, not as codes.
func TestConsoleWordsEveryWrittenReason(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newHelpdeskFixture(t, db)
		b := f.console()
		for _, e := range []store.AuditEvent{
			{Type: "operator.action", Reason: "users.export", Actor: "operator"}, // admin users export
			{Type: "account.created", Reason: "import", Actor: "operator"},       // account/import.go
			{Type: "logon.failure", Reason: "lockout", KeyKind: keys.TokenCard},  // login.go:841
			{Type: "operator.action", Actor: "operator", Detail: map[string]string{"action": "role_granted", "role": "helpdesk"}},
		} {
			e.AccountID = f.carla.acct.ID
			if err := f.world.Audit.Record(t.Context(), db, e); err != nil {
				t.Fatal(err)
			}
		}
		page := b.get(citizenURL(f.carla.acct.ID) + "?lang=nl")
		wantStatus(t, "Dutch page", page, http.StatusOK)
		for _, r := range auditRowRE.FindAllStringSubmatch(page.body, -1) {
			if regexp.MustCompile(`^[a-z]+\.[a-z_]+$|^[a-z_]+$`).MatchString(html.UnescapeString(r[3])) {
				t.Errorf("raw reason %q for %s", r[3], r[1])
			}
		}
	})
}
