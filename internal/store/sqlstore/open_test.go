package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url         string
		wantDialect string
		wantPath    string
		wantMemory  bool
		wantDisplay string
	}{
		{"sqlite:///var/lib/sleutelbos/db.sqlite", "sqlite", "/var/lib/sleutelbos/db.sqlite", false, "sqlite:///var/lib/sleutelbos/db.sqlite"},
		{"sqlite://data/sleutelbos.db", "sqlite", "data/sleutelbos.db", false, "sqlite://data/sleutelbos.db"},
		{"sqlite:data/sleutelbos.db", "sqlite", "data/sleutelbos.db", false, "sqlite://data/sleutelbos.db"},
		{"sqlite://:memory:", "sqlite", ":memory:", true, "sqlite://:memory:"},
		{"data/sleutelbos.db", "sqlite", "data/sleutelbos.db", false, "sqlite://data/sleutelbos.db"},
		{"/tmp/x.sqlite3", "sqlite", "/tmp/x.sqlite3", false, "sqlite:///tmp/x.sqlite3"},
		{"postgres://app:s3cret@db.example:5432/sleutelbos?sslmode=verify-full", "postgres", "", false,
			"postgres://app:xxxxx@db.example:5432/sleutelbos?sslmode=verify-full"},
		{"postgresql://app@db/sb", "postgres", "", false, "postgresql://app@db/sb"},
	} {
		got, err := parseURL(tc.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tc.url, err)
			continue
		}
		if got.dialect.name != tc.wantDialect || got.path != tc.wantPath || got.memory != tc.wantMemory || got.display != tc.wantDisplay {
			t.Errorf("parseURL(%q) = %s path %q memory %v display %q; want %s, %q, %v, %q", tc.url,
				got.dialect.name, got.path, got.memory, got.display, tc.wantDialect, tc.wantPath, tc.wantMemory, tc.wantDisplay)
		}
	}
	for _, bad := range []string{"", "mysql://root:hunter2@db/x", "data/notes.txt", "sqlite://"} {
		_, err := parseURL(bad)
		if err == nil {
			t.Errorf("parseURL(%q) succeeded, want an error", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parseURL(%q) error shows the password: %v", bad, err)
		}
	}
}

func TestSQLiteDSN(t *testing.T) {
	got, err := parseURL("sqlite:///tmp/a.db?_pragma=cache_size(-2000)")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"_pragma=busy_timeout(5000)", "_pragma=journal_mode(WAL)", "_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)", "_txlock=immediate", "&_pragma=cache_size(-2000)"} {
		if !strings.Contains(got.dsn, want) {
			t.Errorf("DSN %q lacks %q", got.dsn, want)
		}
	}
	if !strings.HasPrefix(got.dsn, "/tmp/a.db?") {
		t.Errorf("DSN %q does not start with the path", got.dsn)
	}
}

func TestOpenPostgresErrorHidesPassword(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "postgres://app:topsecret@127.0.0.1:1/sleutelbos?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "topsecret") {
		t.Errorf("error shows the password: %s", msg)
	}
	if !strings.HasPrefix(msg, "open database postgres://app:xxxxx@127.0.0.1:1/sleutelbos") {
		t.Errorf("error does not name the database: %s", msg)
	}
	t.Log(msg)
}

func TestScrub(t *testing.T) {
	err := scrub(errors.New(`cannot parse "postgres://u:pw123@h/db"`), "pw123")
	if strings.Contains(err.Error(), "pw123") {
		t.Errorf("scrub left the secret in %q", err)
	}
}

func TestErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		name               string
		d                  *dialect
		err                error
		conflict, retrying bool
	}{
		{"pg unique", &postgresDialect, &pgconn.PgError{Code: "23505"}, true, false},
		{"pg serialization", &postgresDialect, &pgconn.PgError{Code: "40001"}, false, true},
		{"pg deadlock", &postgresDialect, &pgconn.PgError{Code: "40P01"}, false, true},
		{"pg other", &postgresDialect, &pgconn.PgError{Code: "42P01"}, false, false},
		{"wrapped", &postgresDialect, errors.Join(errors.New("x"), &pgconn.PgError{Code: "40001"}), false, true},
		{"plain", &sqliteDialect, errors.New("x"), false, false},
	} {
		if got := tc.d.isConflict(tc.err); got != tc.conflict {
			t.Errorf("%s: isConflict = %v", tc.name, got)
		}
		if got := tc.d.isRetryable(tc.err); got != tc.retrying {
			t.Errorf("%s: isRetryable = %v", tc.name, got)
		}
	}
}

func TestTxRetriesSerializationFailures(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+t.TempDir()+"/retry.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Pretend to be PostgreSQL for error classification.
	d := *db.d
	d.isRetryable = postgresDialect.isRetryable
	db.d = &d

	calls := 0
	err = db.Tx(ctx, func(s store.Store) error {
		calls++
		a := store.Account{Username: "retry"}
		if err := s.CreateAccount(ctx, &a); err != nil {
			return err
		}
		if calls < 3 {
			return &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3", calls)
	}
	accounts, err := db.ListAccounts(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 1 {
		t.Errorf("%d accounts after retries, want 1 (failed attempts must roll back)", len(accounts))
	}

	calls = 0
	err = db.Tx(ctx, func(store.Store) error {
		calls++
		return &pgconn.PgError{Code: "40P01"}
	})
	if pgCode(err) != "40P01" || calls != txAttempts {
		t.Errorf("always failing Tx: %v after %d calls; want the deadlock error after %d", err, calls, txAttempts)
	}
}

func TestMigrationsPaired(t *testing.T) {
	lite, err := loadMigrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite and %d PostgreSQL migrations", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].version != i+1 || pg[i].version != i+1 || lite[i].name != pg[i].name {
			t.Errorf("migration %d: sqlite %04d_%s, postgres %04d_%s", i, lite[i].version, lite[i].name, pg[i].version, pg[i].name)
		}
	}
}
