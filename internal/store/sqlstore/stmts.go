package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// maxCachedStmts bounds the statement cache. The store's statements are fixed texts, a few
// hundred at most; should some ever be built per call (a list of n placeholders), the cache stops
// growing and those run unprepared, as before.
const maxCachedStmts = 512

// stmtCache keeps one prepared statement per SQL text for the pool's whole life. SQLite parses
// and plans a statement anew on every unprepared call, which cost a quarter of the store's CPU
// in a password logon's profile; database/sql prepares a cached statement once per connection
// and reuses it, in transactions too (Tx.StmtContext finds the connection's own). PostgreSQL does
// not need it: pgx caches prepared statements per connection itself.
//
// A statement is prepared in the background on its first use, which runs unprepared: preparing
// on the pool takes a connection of its own, and a transaction that waited for one while holding
// SQLite's write lock would wait for connections that wait for that lock (a pool-wide deadlock,
// broken only by busy_timeout's SQLITE_BUSY).
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt // nil while being prepared
	// failed are texts that did not prepare: run unprepared, not retried.
	failed map[string]bool
	closed bool
	wg     sync.WaitGroup
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: make(map[string]*sql.Stmt), failed: make(map[string]bool)}
}

// prepareTimeout bounds a background preparation's wait for a connection.
const prepareTimeout = 30 * time.Second

// get returns the prepared statement of query, or nil when the caller must run it unprepared:
// on its first use (it is being prepared), when the cache is full or closed, or when it did not
// prepare (the caller meets the error itself, with its usual wrapping).
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[query]
	if ok || c.closed || c.failed[query] || len(c.m)+len(c.failed) >= maxCachedStmts {
		return st
	}
	c.m[query] = nil
	c.wg.Add(1)
	go c.prepare(query)
	return nil
}

// prepare prepares query on the pool and caches it.
func (c *stmtCache) prepare(query string) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), prepareTimeout)
	defer cancel()
	st, err := c.pool.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		delete(c.m, query)
		if ctx.Err() == nil && !c.closed {
			c.failed[query] = true // a bad text; a timeout may be tried again
		}
	case c.closed:
		st.Close()
		delete(c.m, query)
	default:
		c.m[query] = st
	}
}

// close waits for preparations under way and closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		if st != nil {
			st.Close()
		}
		delete(c.m, q)
	}
}

// cachedQueryer runs queries through the cache (when there is one), in tx when it is set, and
// counts them.
type cachedQueryer struct {
	c        *stmtCache // nil: none (PostgreSQL)
	tx       *sql.Tx
	fallback queryer // the pool or tx itself
	n        *atomic.Uint64
	gate     writerGate // outside a transaction: a statement that writes goes through it
}

// enter lets a statement outside a transaction that may write through the writer gate.
func (q cachedQueryer) enter(ctx context.Context, query string) func() {
	if q.tx != nil || q.gate == nil || !writes(query) {
		return func() {}
	}
	return q.gate.enter(ctx)
}

// stmt counts a statement and returns query's prepared statement, bound to the transaction
// when there is one, or nil.
func (q cachedQueryer) stmt(ctx context.Context, query string) *sql.Stmt {
	q.n.Add(1)
	if q.c == nil {
		return nil
	}
	st := q.c.get(query)
	if st != nil && q.tx != nil {
		// Closed with the transaction; the connection's prepared statement stays cached.
		st = q.tx.StmtContext(ctx, st)
	}
	return st
}

func (q cachedQueryer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer q.enter(ctx, query)()
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.fallback.ExecContext(ctx, query, args...)
}

// QueryContext of a statement that writes (INSERT … RETURNING) holds the gate only until the
// statement has run; its rows are read after (SQLite has finished writing by then for a
// single-row RETURNING, and busy_timeout covers the rest).
func (q cachedQueryer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	defer q.enter(ctx, query)()
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.fallback.QueryContext(ctx, query, args...)
}

// QueryRowContext: as QueryContext (sql.Row has run its statement when it returns).
func (q cachedQueryer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	defer q.enter(ctx, query)()
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.fallback.QueryRowContext(ctx, query, args...)
}
