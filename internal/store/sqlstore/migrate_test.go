package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func TestMigrateIdempotent(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v < 1 {
			t.Fatalf("schema version %d after Migrate", v)
		}
		a := store.Account{Username: "kept"}
		if err := db.CreateAccount(ctx, &a); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
		}
		if v2, err := db.SchemaVersion(ctx); err != nil || v2 != v {
			t.Errorf("schema version after re-running Migrate = %d, %v; want %d", v2, err, v)
		}
		if _, err := db.GetAccount(ctx, a.ID); err != nil {
			t.Errorf("data lost by re-running Migrate: %v", err)
		}
	})
}

// TestMigrateConcurrently starts several nodes on one empty database at once.
func TestMigrateConcurrently(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "nodes.db") },
		"postgres": func(t *testing.T) string { return sqltest.PostgresURL(t) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			url := urls[name](t)
			ctx := t.Context()
			const nodes = 4
			var wg sync.WaitGroup
			errs := make([]error, nodes)
			for i := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := sqlstore.Open(ctx, url)
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("node %d: %v", i, err)
				}
			}
			db, err := sqlstore.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			v, err := db.SchemaVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != v {
				t.Errorf("schema_migrations has %d rows for version %d: a migration was recorded twice or skipped", n, v)
			}
		})
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "deeper", "still", "sleutelbos.db")
	for _, url := range []string{"sqlite://" + path, path} {
		db, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if db.Dialect() != "sqlite" {
			t.Errorf("dialect %q", db.Dialect())
		}
		db.Close()
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
}

func TestOpenMemory(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a := store.Account{Username: "mem"}
	if err := db.CreateAccount(ctx, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetAccountByUsername(ctx, "MEM"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenUnwritableDirectory(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(file, "sub", "x.db"))
	if err == nil || !strings.Contains(err.Error(), "create directory") {
		t.Errorf("Open below a regular file: %v, want a create directory error", err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root writes any file, so permissions prove nothing: run this test again as nobody.
		runAsNobody(t, "^TestOpenReadOnly$")
		return
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ro.db")
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, f := range []string{path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	t.Run("file", func(t *testing.T) {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, 0o644)
		_, err := sqlstore.Open(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("Open of a read-only file: %v, want a read-only error", err)
		}
		t.Log(err)
	})
	t.Run("directory", func(t *testing.T) {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
		_, err := sqlstore.Open(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "cannot write") {
			t.Errorf("Open in a read-only directory: %v, want a cannot write error", err)
		}
		t.Log(err)
		_, err = sqlstore.Open(ctx, filepath.Join(dir, "new.db"))
		if err == nil || !strings.Contains(err.Error(), "cannot open database file") {
			t.Errorf("Open of a new file in a read-only directory: %v, want a cannot open error", err)
		}
		t.Log(err)
	})
}

// runAsNobody runs the tests matching pattern in a copy of this test binary as the
// unprivileged user nobody, and fails unless they ran and passed.
func runAsNobody(t *testing.T, pattern string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sqlstore-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tmp := filepath.Join(dir, "tmp")
	bin := filepath.Join(dir, "sqlstore.test")
	raw, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	// Mkdir's mode is cut by the umask: set the modes explicitly.
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(os.Chmod(dir, 0o755), os.Chmod(tmp, 0o777)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run="+pattern, "-test.count=1", "-test.v")
	cmd.Dir, cmd.Env = tmp, []string{"TMPDIR=" + tmp, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: ") || strings.Contains(string(out), "--- SKIP: ") {
		t.Fatalf("%s as nobody: %v\n%s", pattern, err, out)
	}
	t.Logf("%s as nobody:\n%s", pattern, out)
}

// TestRequirePostgres checks that SLEUTELBOS_REQUIRE_POSTGRES=1 turns a missing database into a
// failure, never a skip, by running this package's PostgreSQL test in a child process.
func TestRequirePostgres(t *testing.T) {
	if os.Getenv("SLEUTELBOS_CHILD") == "1" {
		t.Skip("child process")
	}
	for _, tc := range []struct {
		name, url string
	}{
		{"unset", ""},
		{"unreachable", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPostgres$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SLEUTELBOS_CHILD=1", "SLEUTELBOS_REQUIRE_POSTGRES=1",
				"SLEUTELBOS_TEST_POSTGRES_URL="+tc.url)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("TestPostgres passed without a database:\n%s", out)
			}
			if !strings.Contains(string(out), "SLEUTELBOS_REQUIRE_POSTGRES") || strings.Contains(string(out), "SKIP") {
				t.Errorf("failure does not explain itself:\n%s", out)
			}
		})
	}
}

// TestMigrateFillsHashParams: accounts written before migration 5 get their hashes' parameters
// filled in by it, so the equaliser knows every parameter set in use from the first start.
func TestMigrateFillsHashParams(t *testing.T) {
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "old.db") }},
		{"postgres", func(t *testing.T) string { return sqltest.PostgresURL(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db, err := sqlstore.Open(ctx, b.url(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.MigrateTo(ctx, 4); err != nil {
				t.Fatal(err)
			}
			for i, h := range []string{
				"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
				"$argon2id$v=19$m=65536,t=3,p=4$b3RoZXJzYWx0$b3RoZXJoYXNo",
				"$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA",
				"",
			} {
				if _, err := db.SQL().ExecContext(ctx, `INSERT INTO accounts (username, username_key, password_hash, created_at, updated_at)
					VALUES ($1, $1, $2, 1, 1)`, "u"+string(rune('a'+i)), h); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := db.PasswordHashParams(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"$argon2id$v=19$m=19456,t=2,p=1", "$argon2id$v=19$m=65536,t=3,p=4"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("PasswordHashParams after the migration = %q, want %q", got, want)
			}
		})
	}
}
