package sqlstore

import (
	"context"
	"strings"
	"time"
)

// writerGate lets one of this process's SQLite writers at a time go to the database; the others
// wait here, in line, and the next one goes the moment the writer before it is done. SQLite
// has one writer at a time anyway, and without the gate the others poll: its busy handler sleeps
// 1, 2, 5, 10, 15, 20, 25 … ms between tries, so a writer that arrives just after another waits
// for a whole step long after the lock is free, and under load (the lock's holder descheduled
// while hashes occupy the cores) for several. Those sleeps were the slow tail of logons on
// SQLite. busy_timeout still covers other processes on the same file.
//
// A writer that cannot get through within gateWait goes on without the gate (SQLite's own
// waiting decides then), so a transaction that wrongly writes through the outer store cannot
// hang for ever on a gate its own transaction holds: it fails as before, with SQLITE_BUSY.
type writerGate chan struct{}

// gateWait is as long as busy_timeout: beyond it a writer would have failed anyway.
const gateWait = 5 * time.Second

func newWriterGate() writerGate { return make(writerGate, 1) }

// enter waits for the gate and returns the function that leaves it (a no-op when the gate was
// not entered: nil gate, timeout or ctx done).
func (g writerGate) enter(ctx context.Context) (leave func()) { return g.enterWithin(ctx, gateWait) }

func (g writerGate) enterWithin(ctx context.Context, wait time.Duration) (leave func()) {
	if g == nil {
		return func() {}
	}
	select {
	case g <- struct{}{}:
		return func() { <-g }
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case g <- struct{}{}:
		return func() { <-g }
	case <-t.C:
	case <-ctx.Done():
	}
	return func() {}
}

// writes reports whether query may write: everything but a plain SELECT (a statement outside a
// transaction that writes takes SQLite's write lock like a transaction does).
func writes(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) < 6 || !strings.EqualFold(q[:6], "SELECT")
}
