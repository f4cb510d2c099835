// Package campaigntest fills a database with a population for benchmarks of the phase-out
// campaign and its jobs: a million citizens take seconds, not the minutes row-by-row inserts
// would, because every table is filled by one INSERT … SELECT over a generated series inside
// the database (a recursive common table expression on SQLite, generate_series on
// PostgreSQL).
package campaigntest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// Population says what Seed wrote, as the rules below make it.
type Population struct {
	Accounts, TokenCards, Apps, EmailKeys, Audit int64
}

// Seed writes n citizens (IDs 1…n, username "c<i>", e-mail c<i>@example.org, one of the four
// languages), into an empty database, and their keys and audit trail as a token card phase-out
// a few weeks into its prompt period would have them at now:
//
//   - a token card for 30% (i%10 < 3), deactivated by a migration for one in five of those
//     (i%50 == 0), otherwise active, last used 0–540 days before now or (i%11 == 0) never;
//   - an app key for 40% ((i/10)%5 < 2) and an e-mail key for 2 in 7 ((i/100)%7 < 2), drawn
//     independently of the cards;
//   - so some 12% of citizens are at risk: an active card and neither other key;
//   - two logon.success events per citizen (the noise a report's queries must skip), one
//     phase-out pop-up per card holder with one answer each (activate, other key, close in
//     turn), and a key.deactivated event (cause migration, replaced by an app or an e-mail
//     key) per migrated card, spread over the last 60 days.
//
// It returns the counts. The database is then settled as a production one would be (settle).
func Seed(ctx context.Context, db *sqlstore.DB, n int, now time.Time) (Population, error) {
	s := seeder{db: db, n: n, now: now.UnixMicro()}
	day := int64(24 * time.Hour / time.Microsecond)
	steps := []struct{ what, sql string }{
		{"accounts", `INSERT INTO accounts (id, username, username_key, name, email, language, password_hash, created_at, updated_at)
			SELECT i, 'c' || i, 'c' || i, 'Citizen ' || i, 'c' || i || '@example.org',
				CASE i % 4 WHEN 0 THEN 'nl' WHEN 1 THEN 'fr' WHEN 2 THEN 'de' ELSE 'en' END, '', NOW, NOW FROM SERIES`},
		{"token cards", `INSERT INTO keys (account_id, kind, status, serial, created_at, activated_at, deactivated_at, deactivation_cause, last_used_at)
			SELECT i, 'tokencard', CASE WHEN i % 50 = 0 THEN 'deactivated' ELSE 'active' END, 'TC' || i, NOW - 900 * DAY, NOW - 900 * DAY,
				CASE WHEN i % 50 = 0 THEN NOW - (i % 60) * DAY ELSE 0 END, CASE WHEN i % 50 = 0 THEN 'migration' ELSE '' END,
				CASE WHEN i % 11 = 0 THEN 0 ELSE NOW - ((i * 7919) % 540) * DAY - (i % 86400) * 1000000 END
			FROM SERIES WHERE i % 10 < 3`},
		{"app keys", `INSERT INTO keys (account_id, kind, status, created_at, activated_at, last_used_at)
			SELECT i, 'totp', 'active', NOW - (i % 700) * DAY, NOW - (i % 700) * DAY, NOW - (i % 90) * DAY FROM SERIES WHERE (i / 10) % 5 < 2`},
		{"e-mail keys", `INSERT INTO keys (account_id, kind, status, created_at, activated_at, last_used_at)
			SELECT i, 'emailcode', 'active', NOW - (i % 400) * DAY, NOW - (i % 400) * DAY, 0 FROM SERIES WHERE (i / 100) % 7 < 2`},
		{"logons", `INSERT INTO audit_events (time, type, account_id, key_kind, actor, detail)
			SELECT NOW - ((i * 31) % 365) * DAY - j * 3600000000, 'logon.success', i,
				CASE i % 3 WHEN 0 THEN 'tokencard' WHEN 1 THEN 'totp' ELSE 'emailcode' END, 'citizen', '{}'
			FROM SERIES CROSS JOIN (SELECT 1 AS j UNION ALL SELECT 2) two`},
		{"pop-ups", `INSERT INTO audit_events (time, type, account_id, key_kind, actor, detail)
			SELECT NOW - (i % 30) * DAY - 60000000, 'phaseout.prompt_shown', 0, 'tokencard', 'citizen', '{"kind":"tokencard"}'
			FROM SERIES WHERE i % 10 < 3`},
		{"answers", `INSERT INTO audit_events (time, type, account_id, key_kind, actor, detail)
			SELECT NOW - (i % 30) * DAY, 'phaseout.choice', 0, 'tokencard', 'citizen',
				'{"choice":"' || CASE i % 3 WHEN 0 THEN 'activate' WHEN 1 THEN 'other_key' ELSE 'close' END || '","kind":"tokencard"}'
			FROM SERIES WHERE i % 10 < 3`},
		{"migrations", `INSERT INTO audit_events (time, type, account_id, key_kind, reason, actor, detail)
			SELECT NOW - (i % 60) * DAY, 'key.deactivated', i, 'tokencard', 'migration', 'citizen',
				'{"cause":"migration","kind":"tokencard","replaced_by":"' || CASE WHEN i % 3 = 0 THEN 'emailcode' ELSE 'totp' END || '"}'
			FROM SERIES WHERE i % 50 = 0`},
	}
	var pop Population
	counts := []*int64{&pop.Accounts, &pop.TokenCards, &pop.Apps, &pop.EmailKeys, &pop.Audit, &pop.Audit, &pop.Audit, &pop.Audit}
	for i, st := range steps {
		got, err := s.exec(ctx, st.sql, day)
		if err != nil {
			return pop, fmt.Errorf("seed %s: %w", st.what, err)
		}
		*counts[i] += got
	}
	if db.Dialect() == "postgres" {
		if _, err := db.SQL().ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('accounts', 'id'), $1)`, n); err != nil {
			return pop, fmt.Errorf("seed: account ids: %w", err)
		}
	}
	if err := settle(ctx, db); err != nil {
		return pop, err
	}
	return pop, nil
}

// SeedAtRisk writes n citizens (IDs 1…n) who each have one active token card and nothing else:
// all at risk, all reminded by a reminder round.
func SeedAtRisk(ctx context.Context, db *sqlstore.DB, n int, now time.Time) error {
	s := seeder{db: db, n: n, now: now.UnixMicro()}
	for _, q := range []string{
		`INSERT INTO accounts (id, username, username_key, name, email, language, password_hash, created_at, updated_at)
			SELECT i, 'c' || i, 'c' || i, 'Citizen ' || i, 'c' || i || '@example.org',
				CASE i % 4 WHEN 0 THEN 'nl' WHEN 1 THEN 'fr' WHEN 2 THEN 'de' ELSE 'en' END, '', NOW, NOW FROM SERIES`,
		`INSERT INTO keys (account_id, kind, status, serial, created_at, activated_at, last_used_at)
			SELECT i, 'tokencard', 'active', 'TC' || i, NOW, NOW, NOW - (i % 300) * DAY FROM SERIES`,
	} {
		if _, err := s.exec(ctx, q, int64(24*time.Hour/time.Microsecond)); err != nil {
			return fmt.Errorf("seed citizens at risk: %w", err)
		}
	}
	if db.Dialect() == "postgres" {
		if _, err := db.SQL().ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('accounts', 'id'), $1)`, n); err != nil {
			return fmt.Errorf("seed: account ids: %w", err)
		}
	}
	return settle(ctx, db)
}

// settle does what a production database's maintenance would have done by the time such a
// population is in it: the planner's statistics (ANALYZE) and, on PostgreSQL, the visibility
// map that lets it answer from an index alone (VACUUM; autovacuum in production).
func settle(ctx context.Context, db *sqlstore.DB) error {
	q := `ANALYZE`
	if db.Dialect() == "postgres" {
		q = `VACUUM ANALYZE`
	}
	if _, err := db.SQL().ExecContext(ctx, q); err != nil {
		return fmt.Errorf("seed: %s: %w", q, err)
	}
	return nil
}

type seeder struct {
	db  *sqlstore.DB
	n   int
	now int64
}

// exec runs an INSERT … SELECT … FROM SERIES, where SERIES is the integers 1…n (column i),
// NOW the seed's instant and DAY a day, in unix microseconds, and returns the rows written.
func (s seeder) exec(ctx context.Context, q string, day int64) (int64, error) {
	insert, rest, ok := strings.Cut(q, "SELECT")
	if !ok {
		return 0, fmt.Errorf("seed statement without SELECT: %s", q)
	}
	rest = replace(rest, "NOW", strconv.FormatInt(s.now, 10))
	rest = replace(rest, "DAY", strconv.FormatInt(day, 10))
	var stmt string
	if s.db.Dialect() == "postgres" {
		stmt = insert + "SELECT" + replace(rest, "SERIES", "generate_series(1::bigint, "+strconv.Itoa(s.n)+"::bigint) AS series(i)")
	} else {
		stmt = "WITH RECURSIVE series(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < " + strconv.Itoa(s.n) + ") " +
			insert + "SELECT" + replace(rest, "SERIES", "series")
	}
	res, err := s.db.SQL().ExecContext(ctx, stmt)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// replace replaces the upper-case placeholder word old by new (never inside a longer word).
func replace(s, old, new string) string {
	var out []byte
	for i := 0; i < len(s); {
		if i+len(old) <= len(s) && s[i:i+len(old)] == old && !wordByte(s, i-1) && !wordByte(s, i+len(old)) {
			out = append(out, new...)
			i += len(old)
			continue
		}
		out = append(out, s[i])
		i++
	}
	return string(out)
}

func wordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
