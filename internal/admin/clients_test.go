package admin

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

func TestClients(t *testing.T) {
	t.Parallel()
	eachBackend(t, testClients)
}

func testClients(t *testing.T, dir place) {
	out := mustRun(t, dir, "", "clients", "add", "--id", "tax", "--name", "Tax on web", "--redirect-uri", "https://tax.example.be/cb",
		"--redirect-uri", "https://tax.example.be/cb2", "--post-logout-redirect-uri", "https://tax.example.be/", "--default-level", "substantial")
	m := regexp.MustCompile(`client secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients add printed no secret:\n%s", out)
	}
	secret := m[1]
	mustRun(t, dir, "", "clients", "add", "--id", "spa", "--name", "Single page", "--redirect-uri", "http://127.0.0.1:5173/cb", "--public", "--pairwise")

	dbURL := dir.db
	if dbURL == "" {
		dbURL = "sqlite://" + dir.dir + "/sleutelbos.db"
	}
	db, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.GetClient(context.Background(), "tax")
	if err != nil {
		t.Fatal(err)
	}
	if !oidcop.SecretMatches(secret, c.SecretHash) || strings.Contains(string(c.SecretHash), secret) {
		t.Errorf("the stored hash does not match the printed secret, or holds it")
	}
	if c.DefaultLevel != "substantial" || len(c.RedirectURIs) != 2 || c.PostLogoutRedirectURIs[0] != "https://tax.example.be/" {
		t.Errorf("stored client = %+v", c)
	}

	if out := mustRun(t, dir, "", "clients", "list"); !strings.Contains(out, "tax") || !strings.Contains(out, "spa") || !strings.Contains(out, "public") {
		t.Errorf("clients list:\n%s", out)
	}
	if out := mustRun(t, dir, "", "clients", "show", "spa"); !strings.Contains(out, "pairwise") || !strings.Contains(out, "http://127.0.0.1:5173/cb") {
		t.Errorf("clients show:\n%s", out)
	}
	out = mustRun(t, dir, "", "clients", "rotate-secret", "tax")
	m = regexp.MustCompile(`new client secret of tax: (\S+)`).FindStringSubmatch(out)
	if m == nil || m[1] == secret {
		t.Fatalf("rotate-secret printed %q", out)
	}
	if c, _ = db.GetClient(context.Background(), "tax"); oidcop.SecretMatches(secret, c.SecretHash) || !oidcop.SecretMatches(m[1], c.SecretHash) {
		t.Error("after rotate-secret the old secret still works or the new one does not")
	}
	mustRun(t, dir, "", "clients", "remove", "spa")

	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"clients", "add", "--id", "tax", "--name", "Again", "--redirect-uri", "https://x.example/cb"}, []string{`"tax" is already registered`}},
		{[]string{"clients", "add", "--id", "bad id!", "--name", "", "--redirect-uri", "http://evil.example/cb", "--redirect-uri", "https://x.example/cb#frag",
			"--scopes", "openid offline_access", "--default-level", "medium"},
			[]string{"client id", "name", "http is only allowed", "fragment", "offline_access", "default level"}},
		{[]string{"clients", "add", "--id", "nouri", "--name", "No URI"}, []string{"at least one redirect URI"}},
		{[]string{"clients", "add", "--id", "wild", "--name", "Wild", "--redirect-uri", "https://*.example.be/cb"}, []string{"wildcards"}},
		{[]string{"clients", "show", "nope"}, []string{`no client with id "nope"`}},
		{[]string{"clients", "remove", "spa"}, []string{`no client with id "spa"`}},
		{[]string{"clients", "rotate-secret", "nope"}, []string{`no client with id "nope"`}},
		{[]string{"clients", "show"}, []string{"clients show CLIENT-ID"}},
	}
	for _, tt := range tests {
		out, err := runAdmin(t, dir, "", tt.args...)
		if err == nil {
			t.Errorf("%v succeeded:\n%s", tt.args, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", tt.args, err, w)
			}
		}
	}
}

func TestSigningKeysRotate(t *testing.T) {
	t.Parallel()
	eachBackend(t, testSigningKeysRotate)
}

func testSigningKeysRotate(t *testing.T, dir place) {
	first := mustRun(t, dir, "", "signing-keys", "rotate")
	second := mustRun(t, dir, "", "signing-keys", "rotate")
	if first == second || !strings.Contains(second, "published now, signs from") {
		t.Fatalf("rotate printed %q then %q", first, second)
	}
	out := mustRun(t, dir, "", "signing-keys", "list")
	if !strings.Contains(out, "current") || !strings.Contains(out, "next") {
		t.Errorf("after two rotations, want a current and a next key:\n%s", out)
	}
}
