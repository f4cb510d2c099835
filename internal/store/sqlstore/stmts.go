package sqlstore

import (
	"context"
	"database/sql"
	"sync"
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
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: make(map[string]*sql.Stmt)}
}

// get returns the prepared statement of query, preparing it on first use, or nil when it
// cannot be cached (the cache is full, or preparing failed: the caller runs the query as it is
// and meets the error there, with its usual wrapping).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok || full {
		return st
	}
	// Prepared outside the lock: a concurrent first use prepares twice and keeps one.
	st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// cachedQueryer runs queries through the cache, in tx when it is set.
type cachedQueryer struct {
	c        *stmtCache
	tx       *sql.Tx
	fallback queryer // the pool or tx itself
}

// stmt returns query's statement, bound to the transaction when there is one, or nil.
func (q cachedQueryer) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.c.get(ctx, query)
	if st != nil && q.tx != nil {
		// Closed with the transaction; the connection's prepared statement stays cached.
		st = q.tx.StmtContext(ctx, st)
	}
	return st
}

func (q cachedQueryer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.fallback.ExecContext(ctx, query, args...)
}

func (q cachedQueryer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.fallback.QueryContext(ctx, query, args...)
}

func (q cachedQueryer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.fallback.QueryRowContext(ctx, query, args...)
}
