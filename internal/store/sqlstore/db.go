package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// DB is the SQL store. A DB from Open uses the connection pool; the DB handed to the function
// given to Tx is bound to that transaction and runs every call in it.
type DB struct {
	pool     *sql.DB
	d        *dialect
	q        queryer // pool, or tx when bound to a transaction
	tx       *sql.Tx
	display  string     // the URL without its password, for error messages
	stmts    *stmtCache // SQLite's prepared statements; nil on PostgreSQL
	clock    func() time.Time
	stmtsRun *atomic.Uint64 // statements run, for Statements
	gate     writerGate     // SQLite's writers, one at a time; nil on PostgreSQL
	after    *afterCommit   // functions to run once tx commits; nil outside a transaction
}

// afterCommit collects the functions AfterCommit defers in one transaction.
type afterCommit struct {
	mu  sync.Mutex
	fns []func()
}

var _ store.Store = (*DB)(nil)

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlitePragmas are set on every SQLite connection. WAL lets readers run beside the writer,
// busy_timeout makes a writer wait for the lock instead of failing, and _txlock=immediate takes
// the write lock at BEGIN, so two transactions never deadlock trying to upgrade a read lock.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)&_txlock=immediate"

// Pool sizes. SQLite has one writer at a time (the others wait in busy_timeout) but WAL readers
// run in parallel; PostgreSQL connections are kept modest so several nodes (and parallel test
// packages) stay well below the server's max_connections.
const (
	sqliteMaxConns   = 8
	postgresMaxConns = 10
)

// Open connects to the database named by url and checks that it answers. url is one of
//
//	sqlite:///var/lib/sleutelbos/sleutelbos.db   (absolute path)
//	sqlite://data/sleutelbos.db                  (relative path)
//	sqlite://:memory:                            (in memory, for experiments: one connection, so a
//	                                              call on the outer store inside Tx waits forever)
//	data/sleutelbos.db                           (a path ending in .db, .sqlite or .sqlite3)
//	postgres://user:password@host:5432/db?sslmode=disable   (or postgresql://)
//
// For SQLite the parent directory is created when missing, and a database that cannot be written
// is refused here rather than at the first logon. Errors name the database without its password.
// Open does not change the schema; call Migrate.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	t, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	db := &DB{d: t.dialect, display: t.display, clock: time.Now, stmtsRun: new(atomic.Uint64)}
	for _, o := range opts {
		o(db)
	}
	if t.dir != "" {
		if err := os.MkdirAll(t.dir, 0o750); err != nil {
			return nil, fmt.Errorf("open database %s: create directory: %w", t.display, err)
		}
	}
	pool, err := sql.Open(t.dialect.driver, t.dsn)
	if err != nil {
		return nil, scrub(db.openError(err), t.secret)
	}
	db.pool = pool
	db.q = cachedQueryer{fallback: pool, n: db.stmtsRun}
	switch {
	case t.memory:
		// Every SQLite connection to :memory: is a database of its own: keep exactly one.
		pool.SetMaxOpenConns(1)
		pool.SetMaxIdleConns(1)
		pool.SetConnMaxLifetime(0)
		pool.SetConnMaxIdleTime(0)
	case t.dialect == &sqliteDialect:
		pool.SetMaxOpenConns(sqliteMaxConns)
		pool.SetMaxIdleConns(sqliteMaxConns)
		db.stmts = newStmtCache(pool)
		db.gate = newWriterGate()
		db.q = cachedQueryer{c: db.stmts, fallback: pool, n: db.stmtsRun, gate: db.gate}
	default:
		pool.SetMaxOpenConns(postgresMaxConns)
		pool.SetMaxIdleConns(postgresMaxConns / 2)
		pool.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := db.whileBusy(ctx, func() error { return pool.PingContext(ctx) }); err != nil {
		pool.Close()
		return nil, scrub(db.openError(err), t.secret)
	}
	if t.dialect == &sqliteDialect && !t.memory {
		if err := db.whileBusy(ctx, func() error { return db.checkWritable(ctx, t.path) }); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return db, nil
}

// Statements returns how many SQL statements the store has run since it was opened (its
// transactions' BEGIN and COMMIT not included): benchmarks report it per logon.
func (db *DB) Statements() uint64 { return db.stmtsRun.Load() }

// Option configures Open.
type Option func(*DB)

// WithClock makes the store read the time from now where a record comes without its own
// (a created or updated time left zero): the node's clock, so that a test clock reaches those
// times too. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(db *DB) { db.clock = now } }

// openBusyWait bounds how long Open waits for another process that holds a new SQLite file's
// lock (as long as busy_timeout).
const openBusyWait = 5 * time.Second

// whileBusy runs fn until it returns something other than a busy database, for at most
// openBusyWait. Several nodes opening a new SQLite file at once all switch it to WAL mode, which
// needs an exclusive lock, and SQLite answers SQLITE_BUSY there at once instead of waiting in
// busy_timeout (it would risk a deadlock), so the wait is ours.
func (db *DB) whileBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(openBusyWait)
	backoff := 2 * time.Millisecond
	for {
		err := fn()
		if err == nil || !db.d.isRetryable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff/2 + rand.N(backoff)):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// target is a parsed database URL.
type target struct {
	dialect *dialect
	dsn     string // handed to the driver
	display string // for messages: no password
	secret  string // the password, to keep out of error messages
	path    string // SQLite file
	dir     string // SQLite: directory to create
	memory  bool
}

func parseURL(raw string) (target, error) {
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		t := target{dialect: &postgresDialect, dsn: raw, display: "postgres://…"} // never echo a URL we could not parse
		if u, err := url.Parse(raw); err == nil {
			t.display = u.Redacted()
			t.secret, _ = u.User.Password()
		}
		return t, nil
	case strings.HasPrefix(lower, "sqlite:"):
		rest := raw[len("sqlite:"):]
		rest = strings.TrimPrefix(rest, "//")
		return sqliteTarget(raw, rest)
	case strings.Contains(raw, "://"):
		display := "the database URL"
		if u, err := url.Parse(raw); err == nil {
			display = u.Redacted()
		}
		return target{}, fmt.Errorf("open database %s: unsupported scheme: want sqlite:///path/file.db, a path ending in .db, or postgres://…", display)
	default:
		path, _, _ := strings.Cut(raw, "?")
		switch strings.ToLower(filepath.Ext(path)) {
		case ".db", ".sqlite", ".sqlite3":
			return sqliteTarget(raw, raw)
		}
		if path == ":memory:" {
			return sqliteTarget(raw, raw)
		}
		return target{}, fmt.Errorf("open database %q: not a database URL: want sqlite:///path/file.db, a path ending in .db, or postgres://…", raw)
	}
}

// sqliteTarget builds the modernc.org/sqlite DSN for rest, a path with optional extra query
// parameters (which are passed to the driver after ours).
func sqliteTarget(raw, rest string) (target, error) {
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return target{}, fmt.Errorf("open database %q: no file name", raw)
	}
	t := target{dialect: &sqliteDialect, display: "sqlite://" + path, path: path}
	dsn := path + "?" + sqlitePragmas
	if path == ":memory:" {
		t.memory = true
	} else {
		t.dir = filepath.Dir(path)
	}
	if query != "" {
		dsn += "&" + query
	}
	t.dsn = dsn
	return t, nil
}

// checkWritable refuses a SQLite database the process can only read, so that a wrong file mode
// or a read-only mount shows at start-up.
func (db *DB) checkWritable(ctx context.Context, path string) error {
	conn, err := db.pool.Conn(ctx)
	if err != nil {
		return db.openError(err)
	}
	defer conn.Close()
	readOnly := false
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(interface {
			IsReadOnly(schema string) (bool, error)
		})
		if !ok {
			return nil
		}
		var err error
		readOnly, err = c.IsReadOnly("main")
		return err
	})
	if err != nil {
		return db.openError(err)
	}
	if readOnly {
		return fmt.Errorf("open database %s: the file %s is read-only: check its permissions and those of its directory", db.display, path)
	}
	// The journal mode is set per connection; WAL needs the -wal and -shm files beside the
	// database, so a read-only directory shows here.
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return db.openError(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open database %s: cannot switch to WAL mode (journal mode is %q): check that the directory of %s is writable", db.display, mode, path)
	}
	// Taking the write lock (BEGIN IMMEDIATE) opens the -wal and -shm files for writing.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("open database %s: cannot write: check the permissions of %s and its directory: %w", db.display, path, err)
	}
	if err := tx.Rollback(); err != nil {
		return db.openError(err)
	}
	return nil
}

// scrub removes secret from err's message. The drivers do not print passwords, but a message
// that quotes a connection string must not leak one; the error chain is given up only then.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "xxxxx"))
}

// openError words a connection failure for a person: which database, and what went wrong.
func (db *DB) openError(err error) error {
	return db.explain("open database "+db.display, err)
}

// explain wraps err with op, and says in plain words what a read-only or unopenable SQLite
// file means.
func (db *DB) explain(op string, err error) error {
	switch sqliteCode(err) & 0xff {
	case sqliteReadOnly:
		return fmt.Errorf("%s: database %s is read-only: check the permissions of the file and its directory: %w", op, db.display, err)
	case sqliteCantOpen:
		return fmt.Errorf("%s: cannot open database file %s: check that it exists or that its directory is writable: %w", op, db.display, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// String returns the database URL without its password.
func (db *DB) String() string { return db.display }

// SQL returns the connection pool, for tests and administrative tools that need a raw query.
func (db *DB) SQL() *sql.DB { return db.pool }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database %s: %w", db.display, err)
	}
	return nil
}

// Close closes the connection pool. It is an error to close a DB bound to a transaction.
func (db *DB) Close() error {
	if db.tx != nil {
		return errors.New("close database: store is bound to a transaction")
	}
	err := db.pool.Close() // first: a preparation waiting for a connection gives up
	if db.stmts != nil {
		db.stmts.close()
	}
	if err != nil {
		return fmt.Errorf("close database %s: %w", db.display, err)
	}
	return nil
}

// txAttempts is how often Tx runs fn when the database reports a transient conflict.
const txAttempts = 5

// Tx runs fn in a transaction, committing when fn returns nil and rolling back otherwise. The
// Store given to fn runs every call in the transaction; calling Tx on it runs the inner fn in
// the same transaction (an error from the inner fn, when returned by the outer, rolls back both).
// A serialization failure or deadlock (PostgreSQL) or a busy database (SQLite) rolls back and
// runs fn again, a few times with a short randomised back-off, so fn must not have effects
// outside the database that cannot be repeated.
func (db *DB) Tx(ctx context.Context, fn func(store.Store) error) error {
	if db.tx != nil {
		return fn(db)
	}
	backoff := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := db.runTx(ctx, fn)
		if err == nil || attempt == txAttempts || !db.d.isRetryable(err) {
			return err
		}
		wait := backoff/2 + rand.N(backoff)
		backoff *= 2
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (retry abandoned: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// AfterCommit runs fn once the transaction db is bound to has committed, and not at all when it
// rolls back; outside a transaction it runs fn at once.
func (db *DB) AfterCommit(fn func()) {
	if db.after == nil {
		fn()
		return
	}
	db.after.mu.Lock()
	defer db.after.mu.Unlock()
	db.after.fns = append(db.after.fns, fn)
}

// runTx runs fn once in a new transaction.
func (db *DB) runTx(ctx context.Context, fn func(store.Store) error) (err error) {
	// Every SQLite transaction is a writer (BEGIN IMMEDIATE): in line at the gate, left as soon
	// as it commits or rolls back, before the after-commit functions run.
	leave := db.gate.enter(ctx)
	left := false
	defer func() {
		if !left {
			leave()
		}
	}()
	tx, err := db.pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	bound := &DB{pool: db.pool, d: db.d, q: tx, tx: tx, display: db.display, stmts: db.stmts, clock: db.clock, stmtsRun: db.stmtsRun, gate: db.gate, after: &afterCommit{}}
	bound.q = cachedQueryer{c: db.stmts, tx: tx, fallback: tx, n: db.stmtsRun}
	done := false
	defer func() {
		if !done { // fn panicked or called runtime.Goexit (t.Fatal): do not keep the lock
			_ = tx.Rollback()
		}
	}()
	if err := fn(bound); err != nil {
		done = true
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("roll back: %w", rbErr))
		}
		return err
	}
	done = true
	err = tx.Commit()
	leave()
	left = true
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	bound.after.mu.Lock()
	fns := bound.after.fns
	bound.after.mu.Unlock()
	for _, f := range fns {
		f()
	}
	return nil
}

// inTx runs fn in the current transaction, or in a new one.
func (db *DB) inTx(ctx context.Context, fn func(db *DB) error) error {
	return db.Tx(ctx, func(s store.Store) error { return fn(s.(*DB)) })
}

// toMicros converts t to unix microseconds; the zero time is 0.
func toMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros converts unix microseconds to a UTC time; 0 is the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// now returns the store's clock's time at the precision the database keeps.
func (db *DB) now() time.Time { return db.clock().UTC().Truncate(time.Microsecond) }

// orNow returns t at stored precision, or now when t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return db.now()
	}
	return fromMicros(toMicros(t))
}

// nonNil returns b, or an empty slice for nil (BLOB/BYTEA columns are NOT NULL).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nilIfEmpty returns nil for an empty slice, so that what went in as nil comes back as nil.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// limitOrAll turns a non-positive limit into "no limit".
func limitOrAll(limit int) int {
	if limit <= 0 {
		return 1<<31 - 1
	}
	return limit
}

// affectedOne returns ErrNotFound when res changed no row.
func affectedOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// conflictOr maps a unique violation to store.ErrConflict and leaves other errors as they are.
func (db *DB) conflictOr(err error) error {
	if err != nil && db.d.isConflict(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// notFoundOr maps sql.ErrNoRows to store.ErrNotFound.
func notFoundOr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
