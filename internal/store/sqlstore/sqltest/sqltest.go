// Package sqltest gives any package's tests a real, fresh, migrated SQL store: a new SQLite file
// in the test's temporary directory, or a new schema in the PostgreSQL database named by
// SLEUTELBOS_TEST_POSTGRES_URL that is dropped afterwards. Without that variable PostgreSQL tests
// are skipped, unless SLEUTELBOS_REQUIRE_POSTGRES=1 (as `make test` sets it), which turns a
// missing or unreachable database into a failure.
//
// Each runs a test once per backend (EachParallel as parallel subtests); Backends lists them
// for tests that need several fresh stores of one backend. The conformance suite
// (internal/store/storetest) knows no backend: sqlstore's own test hands it these stores.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating and dropping schemas

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// Environment variables that steer the PostgreSQL helpers.
const (
	// PostgresURLEnv names the variable holding the URL of a PostgreSQL database that tests may
	// create schemas in, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	PostgresURLEnv = "SLEUTELBOS_TEST_POSTGRES_URL"
	// RequirePostgresEnv, set to 1, turns a missing or unreachable PostgreSQL into a test failure
	// instead of a skip (make test sets it).
	RequirePostgresEnv = "SLEUTELBOS_REQUIRE_POSTGRES"
)

// SQLite returns a migrated store in a new SQLite file in the test's temporary directory, closed
// when the test ends.
func SQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sleutelbos.db")
	return open(t, "sqlite://"+path)
}

// Postgres returns a migrated store in a fresh PostgreSQL schema that is dropped when the test
// ends. Without SLEUTELBOS_TEST_POSTGRES_URL the test is skipped, or fails when
// SLEUTELBOS_REQUIRE_POSTGRES=1.
func Postgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	return open(t, PostgresURL(t))
}

// PostgresURL creates a fresh schema in the database named by SLEUTELBOS_TEST_POSTGRES_URL and
// returns that URL with search_path set to the schema, for tests that start the real server
// (which then migrates it). The schema is dropped when the test ends, after cleanups registered
// later (such as stopping that server) have run. Skips or fails like Postgres.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	required := os.Getenv(RequirePostgresEnv) == "1"
	if base == "" {
		if required {
			t.Fatalf("%s=1 but %s is not set: set it to a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
				RequirePostgresEnv, PostgresURLEnv)
		}
		t.Skipf("PostgreSQL tests skipped: %s is not set", PostgresURLEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", PostgresURLEnv, redact(err, base))
	}
	display := u.Redacted()

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", display, redact(err, base))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		if required {
			t.Fatalf("PostgreSQL at %s is unreachable (%s=1): %v", display, RequirePostgresEnv, redact(err, base))
		}
		t.Skipf("PostgreSQL tests skipped: %s is unreachable: %v", display, redact(err, base))
	}
	schema := "t_" + randomHex(8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s in %s: %v", schema, display, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Backend is one database backend tests run on.
type Backend struct {
	// Name is "sqlite" or "postgres", the name of the subtest Each runs.
	Name string
	// Open returns a fresh migrated store of this backend, closed (and dropped) when t ends.
	Open func(t testing.TB) *sqlstore.DB
}

// Backends returns SQLite and PostgreSQL, in the order Each runs them.
func Backends() []Backend {
	return []Backend{{Name: "sqlite", Open: SQLite}, {Name: "postgres", Open: Postgres}}
}

// EachBackend runs fn as the subtests "sqlite" and "postgres", for tests that open several
// stores of one backend (b.Open) or start servers on it.
func EachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// Each runs fn as the subtests "sqlite" and "postgres", each with a fresh migrated store.
func Each(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	EachBackend(t, func(t *testing.T, b Backend) { fn(t, b.Open(t)) })
}

// EachParallel is Each with parallel subtests. Each subtest calls t.Parallel before it opens
// its store, so a subtest waiting for its turn holds no database connection: a package with
// many such tests stays within PostgreSQL's max_connections however many are waiting.
func EachParallel(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	EachBackend(t, func(t *testing.T, b Backend) {
		t.Parallel()
		fn(t, b.Open(t))
	})
}

// open opens and migrates the database at url and closes it when the test ends.
func open(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand.Read does not fail
	}
	return hex.EncodeToString(b)
}

// redact keeps the password in rawURL out of err's message.
func redact(err error, rawURL string) string {
	msg := err.Error()
	if u, perr := url.Parse(rawURL); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}
