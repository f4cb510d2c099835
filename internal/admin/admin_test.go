package admin

import (
	"io"
	"log/slog"

	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sleutelbos/sleutelbos/internal/app"
	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// place is where admin commands work: a data directory (secrets, files) and, for PostgreSQL,
// the database URL (empty: the SQLite database in the data directory) with the secrets every
// node of a shared database must be given.
type place struct{ dir, db, encKeys, hashKey string }

// eachBackend runs fn in parallel on SQLite and PostgreSQL, each with a fresh place.
func eachBackend(t *testing.T, fn func(t *testing.T, at place)) {
	t.Helper()
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		t.Parallel()
		at := place{dir: t.TempDir()}
		if b.Name == "postgres" {
			at.db = sqltest.PostgresURL(t)
			at.encKeys = "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
			at.hashKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
		}
		fn(t, at)
	})
}

// runAdmin runs `sleutelbos admin --data-dir dir [--database-url db] args…` with stdin and
// returns stdout.
func runAdmin(t *testing.T, at place, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	flags := []string{"--data-dir", at.dir, "--password-memory-kib", "8192", "--password-time", "1"}
	if at.db != "" {
		flags = append(flags, "--database-url", at.db, "--encryption-keys", at.encKeys, "--hash-key", at.hashKey)
	}
	args = append(flags, args...)
	err := Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

func mustRun(t *testing.T, at place, stdin string, args ...string) string {
	t.Helper()
	out, err := runAdmin(t, at, stdin, args...)
	if err != nil {
		t.Fatalf("admin %v: %v\n%s", args, err, out)
	}
	return out
}

func TestUsers(t *testing.T) {
	t.Parallel()
	eachBackend(t, testUsers)
}

func testUsers(t *testing.T, at place) {
	out := mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", "Marie", "--name", "Marie Dubois", "--email", "marie@example.org", "--language", "fr")
	if !strings.Contains(out, "created citizen Marie") {
		t.Errorf("users add printed %q", out)
	}
	if out := mustRun(t, at, "", "users", "list"); !strings.Contains(out, "Marie Dubois") || !strings.Contains(out, "marie@example.org") {
		t.Errorf("users list printed %q", out)
	}
	mustRun(t, at, "another long passphrase\n", "users", "set-password", "marie")

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"taken, case-insensitively", "a long enough passphrase\n", []string{"users", "add", "--username", "MARIE", "--name", "M", "--email", "m@example.org"}, []string{"already taken"}},
		{"everything wrong at once", "short\n", []string{"users", "add", "--username", "x", "--name", "", "--email", "not-an-address", "--language", "es"},
			[]string{"3 to 64 characters", "name", "e-mail", "Nederlands", "12"}},
		{"no password", "", []string{"users", "add", "--username", "newone", "--name", "N", "--email", "n@example.org"}, []string{"no password on stdin"}},
		{"unknown user", "a long enough passphrase\n", []string{"users", "set-password", "nobody"}, []string{`no citizen with username "nobody"`}},
		// One password policy everywhere (internal/password): the same refusals as on the
		// registration page.
		{"common password", "Password1234\n", []string{"users", "add", "--username", "newone", "--name", "N", "--email", "n@example.org"}, []string{"too common"}},
		{"password is the username", "paul.janssens.1\n", []string{"users", "add", "--username", "Paul.Janssens.1", "--name", "P", "--email", "p@example.org"}, []string{"must not be your username"}},
		{"set-password: common", "qwertyuiop123\n", []string{"users", "set-password", "marie"}, []string{"too common"}},
		{"set-password: the e-mail address", "Marie@Example.org\n", []string{"users", "set-password", "marie"}, []string{"e-mail address"}},
		{"header injection in e-mail", "a long enough passphrase\n", []string{"users", "add", "--username", "evil", "--name", "E", "--email", "a@example.org\r\nBcc: x@example.org"}, []string{"e-mail"}},
	}
	for _, tt := range tests {
		out, err := runAdmin(t, at, tt.stdin, tt.args...)
		if err == nil {
			t.Errorf("%s: succeeded: %s", tt.name, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
				t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
			}
		}
	}
}

func card(user, serial string, mutate func([]string)) string {
	f := []string{user, serial}
	for i := 0; i < 24; i++ {
		f = append(f, fmt.Sprintf("%06d", 100000+i*7))
	}
	if mutate != nil {
		mutate(f)
	}
	return strings.Join(f, ",")
}

func TestTokencardsImport(t *testing.T) {
	t.Parallel()
	eachBackend(t, testTokencardsImport)
}

func testTokencardsImport(t *testing.T, at place) {
	for _, u := range []string{"anna", "bert"} {
		mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", u, "--name", u, "--email", u+"@example.org")
	}
	write := func(name, content string) string {
		p := filepath.Join(at.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.csv", "username,serial,c1\n"+
		card("anna", "S1", nil)+"\n"+
		card("bert", "S2", func(f []string) { f[13] = "12345" })+"\n"+
		card("anna", "S1", nil)+"\n"+
		card("carl", "S4", nil)+"\n"+
		card("bert", "S5", func(f []string) { f[3] = "12a456" })+"\n"+
		"bert,S6,1,2\n")
	out, err := runAdmin(t, at, "", "tokencards", "import", bad)
	if err == nil {
		t.Fatalf("bad CSV imported: %s", out)
	}
	for _, w := range []string{"line 3", "code 12", "line 4", "S1", "line 6", "line 7", "columns", "nothing imported"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("import error does not mention %q:\n%v", w, err)
		}
	}
	if out := mustRun(t, at, "", "users", "list"); strings.Contains(out, "tokencard") {
		t.Fatalf("a failed import left cards behind:\n%s", out)
	}
	unknown := write("unknown.csv", card("anna", "S1", nil)+"\n"+card("carl", "S2", nil)+"\n")
	if _, err := runAdmin(t, at, "", "tokencards", "import", unknown); err == nil || !strings.Contains(err.Error(), "carl") {
		t.Fatalf("unknown username: %v", err)
	}
	good := write("good.csv", "\ufeff"+card(" anna ", "S1", func(f []string) { f[2] = " 123456 " })+"\n\n"+card("bert", "S2", nil)+"\n")
	if out := mustRun(t, at, "", "tokencards", "import", good); !strings.Contains(out, "imported 2 token cards") {
		t.Errorf("import printed %q", out)
	}
	if _, err := runAdmin(t, at, "", "tokencards", "import", good); err == nil || !strings.Contains(err.Error(), "S1") {
		t.Errorf("re-import of the same serials: %v", err)
	}
	if _, err := runAdmin(t, at, "", "tokencards", "print", "anna"); err == nil || !strings.Contains(err.Error(), "no demo token card") {
		t.Errorf("printing a real card: %v", err)
	}
	audit := mustRun(t, at, "", "audit", "export")
	var sawImport bool
	for _, line := range strings.Split(strings.TrimSpace(audit), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		if ev["type"] == "operator.action" && ev["reason"] == "tokencards.import" {
			sawImport = true
		}
	}
	if !sawImport {
		t.Errorf("no audit event for the import:\n%s", audit)
	}
}

func TestMailAndMisc(t *testing.T) {
	t.Parallel()
	eachBackend(t, testMailAndMisc)
}

func testMailAndMisc(t *testing.T, at place) {
	if out := mustRun(t, at, "", "mail", "status"); !strings.Contains(strings.ToLower(out), "pending") {
		t.Errorf("mail status printed %q", out)
	}
	for _, args := range [][]string{{"mail", "retry"}, {"mail", "retry", "abc"}, {"mail", "retry", "1", "--failed"}} {
		if _, err := runAdmin(t, at, "", args...); !errors.Is(err, ErrUsage) {
			t.Errorf("admin %v: got %v, want a usage error", args, err)
		}
	}
	if _, err := runAdmin(t, at, "", "mail", "retry", "99"); err == nil {
		t.Error("retrying a message that does not exist succeeded")
	}
	// A message whose code expired is never sent again, by id or with --failed.
	stale := enqueueExpiredCode(t, at, store.MessageHeld)
	enqueueExpiredCode(t, at, store.MessageFailed)
	out, err := runAdmin(t, at, "", "mail", "retry", strconv.FormatInt(stale, 10))
	if err == nil || !strings.Contains(err.Error(), "carried a code that has expired") {
		t.Errorf("mail retry of a message whose code expired: %v\n%s", err, out)
	}
	out = mustRun(t, at, "", "mail", "retry", "--failed")
	if !strings.Contains(out, "Requeued 0 failed messages.") || !strings.Contains(out, "Skipped 1 failed message that carried a code") {
		t.Errorf("mail retry --failed printed %q", out)
	}
	out = mustRun(t, at, "", "secrets", "generate")
	if !strings.Contains(out, "encryption-keys = k1:") || !strings.Contains(out, "hash-key = ") {
		t.Errorf("secrets generate printed %q", out)
	}
}

// TestTokencardsPrintDemo prints the demo citizen's card: the same codes serve --demo shows.
func TestTokencardsPrintDemo(t *testing.T) {
	t.Parallel()
	eachBackend(t, testTokencardsPrintDemo)
}

func testTokencardsPrintDemo(t *testing.T, at place) {
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL, cfg.PasswordMemoryKiB, cfg.PasswordTime = at.dir, at.db, 8192, 1
	cfg.EncryptionKeys, cfg.HashKey = at.encKeys, at.hashKey
	n, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := demo.Ensure(context.Background(), n.Store, demo.Deps{Passwords: n.Passwords, Hasher: n.Hasher, TOTP: n.TOTP, Now: n.Now})
	n.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, at, "", "tokencards", "print", "demo")
	if !strings.Contains(out, "card DEMO-DEMO (active)") {
		t.Errorf("print header missing:\n%s", out)
	}
	for i, code := range cs[0].CardCodes {
		if !strings.Contains(out, fmt.Sprintf("%2d: %s", i+1, code)) {
			t.Errorf("code %d (%s) missing from:\n%s", i+1, code, out)
		}
	}
	if _, err := runAdmin(t, at, "", "tokencards", "print", "nobody"); err == nil || !strings.Contains(err.Error(), "no citizen") {
		t.Errorf("printing for an unknown user: %v", err)
	}
}

// enqueueExpiredCode writes a logon code message in state, whose code expired an hour ago, to
// the database at at, and returns its id.
func enqueueExpiredCode(t *testing.T, at place, state store.MessageState) int64 {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL, cfg.PasswordMemoryKiB, cfg.PasswordTime = at.dir, at.db, 8192, 1
	cfg.EncryptionKeys, cfg.HashKey = at.encKeys, at.hashKey
	n, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	now := time.Now()
	m := store.Message{MessageID: "<stale@example.org>", Template: "logon_code", ToAddress: "jan@example.org", State: state,
		TextBody: "Your code is 135790", CreatedAt: now.Add(-2 * time.Hour), SecretUntil: now.Add(-time.Hour)}
	if err := n.Store.Enqueue(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}
