package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// statusOrder is the order `admin mail status` lists states in.
var statusOrder = []store.MessageState{
	store.MessagePending, store.MessageSending, store.MessageSent, store.MessageFailed, store.MessageHeld,
}

// StatusReader summarises the outbox (store.Store implements it).
type StatusReader interface {
	OutboxStatus(ctx context.Context) (store.OutboxStatus, error)
}

var _ StatusReader = store.Store(nil)

// Status writes the outbox summary for `sleutelbos admin mail status`: the number of messages
// in each state and the creation time of the oldest pending message.
func Status(ctx context.Context, st StatusReader, w io.Writer) error {
	s, err := st.OutboxStatus(ctx)
	if err != nil {
		return fmt.Errorf("mail status: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %8s\n", "STATE", "MESSAGES")
	total := 0
	for _, state := range statusOrder {
		fmt.Fprintf(&b, "%-10s %8d\n", state, s.Counts[state])
		total += s.Counts[state]
	}
	for state, n := range s.Counts { // a state this version does not know
		if !known(state) {
			fmt.Fprintf(&b, "%-10s %8d\n", state, n)
			total += n
		}
	}
	fmt.Fprintf(&b, "%-10s %8d\n", "total", total)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("mail status: %w", err)
	}
	if s.OldestPending.IsZero() {
		_, err = fmt.Fprintln(w, "Oldest pending: none")
	} else {
		_, err = fmt.Fprintf(w, "Oldest pending: created %s\n", s.OldestPending.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return fmt.Errorf("mail status: %w", err)
	}
	return nil
}

func known(state store.MessageState) bool {
	for _, s := range statusOrder {
		if s == state {
			return true
		}
	}
	return false
}

// Requeuer puts failed or held messages back in the queue (store.Store implements it).
type Requeuer interface {
	RequeueMessage(ctx context.Context, id int64, now time.Time) error
	RequeueFailed(ctx context.Context, now time.Time) (requeued, skipped int64, err error)
}

var _ Requeuer = store.Store(nil)

// Retry puts messages back in the queue for `sleutelbos admin mail retry ID|--failed`: the
// message id (failed or held) or, with failed, every failed message. They become due at now
// with a fresh attempt count. Give exactly one of id (> 0) and failed. A message that carried a
// code is never sent again once the code expired or the message failed (its text is gone): the
// citizen asks for a new code instead. Retry refuses such an id, and --failed skips them,
// saying how many.
func Retry(ctx context.Context, st Requeuer, w io.Writer, id int64, failed bool, now time.Time) error {
	switch {
	case failed && id != 0:
		return errors.New("mail retry: give a message id or --failed, not both")
	case failed:
		n, skipped, err := st.RequeueFailed(ctx, now)
		if err != nil {
			return fmt.Errorf("mail retry: %w", err)
		}
		msg := fmt.Sprintf("Requeued %d failed %s.\n", n, plural(n, "message", "messages"))
		if skipped > 0 {
			msg += fmt.Sprintf("Skipped %d failed %s that carried a code: the text was removed when %s failed, "+
				"and the citizen asks for a new code instead.\n",
				skipped, plural(skipped, "message", "messages"), plural(skipped, "it", "they"))
		}
		if _, err := io.WriteString(w, msg); err != nil {
			return fmt.Errorf("mail retry: %w", err)
		}
		return nil
	case id <= 0:
		return errors.New("mail retry: give a message id (a positive number) or --failed")
	}
	err := st.RequeueMessage(ctx, id, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("mail retry: message %d does not exist", id)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("mail retry: message %d is neither failed nor held: %w", id, err)
	case errors.Is(err, store.ErrSecretGone):
		return fmt.Errorf("mail retry: message %d carried a code that has expired or failed to be delivered, "+
			"so its text was removed and it cannot be sent again; the citizen asks for a new code instead: %w", id, err)
	case err != nil:
		return fmt.Errorf("mail retry: %w", err)
	}
	if _, err := fmt.Fprintf(w, "Requeued message %d.\n", id); err != nil {
		return fmt.Errorf("mail retry: %w", err)
	}
	return nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
