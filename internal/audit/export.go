package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// exportBatch is how many events Export reads from the store at once.
const exportBatch = 500

// exportedEvent is one line of the export. Field names are part of the export format.
type exportedEvent struct {
	ID        int64             `json:"id"`
	Time      string            `json:"time"`
	Type      string            `json:"type"`
	AccountID int64             `json:"account_id"`
	KeyKind   string            `json:"key_kind"`
	KeyID     int64             `json:"key_id"`
	Reason    string            `json:"reason"`
	IP        string            `json:"ip"`
	Actor     string            `json:"actor"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// Lister reads the audit log in pages, oldest first (store.Store implements it).
type Lister interface {
	ListAudit(ctx context.Context, afterID int64, limit int) ([]store.AuditEvent, error)
}

var _ Lister = store.Store(nil)

// Export writes every event with an ID above afterID to w as JSON Lines, oldest first: one
// object per line with id, time (RFC 3339, UTC), type, account_id, key_kind, key_id, reason, ip,
// actor and detail (when present). It returns how many events it wrote. Pass the last exported
// id as afterID to continue an earlier export.
func Export(ctx context.Context, st Lister, w io.Writer, afterID int64) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("export audit: %w", err)
		}
		events, err := st.ListAudit(ctx, afterID, exportBatch)
		if err != nil {
			return n, fmt.Errorf("export audit after id %d: %w", afterID, err)
		}
		for _, e := range events {
			line := exportedEvent{
				ID:        e.ID,
				Time:      e.Time.UTC().Format(time.RFC3339Nano),
				Type:      e.Type,
				AccountID: e.AccountID,
				KeyKind:   e.KeyKind,
				KeyID:     e.KeyID,
				Reason:    e.Reason,
				IP:        e.IP,
				Actor:     e.Actor,
				Detail:    e.Detail,
			}
			if err := enc.Encode(line); err != nil {
				return n, fmt.Errorf("export audit: write event %d: %w", e.ID, err)
			}
			afterID = e.ID
		}
		// Flush per batch, so that n counts what reached w even when a later batch fails.
		if err := bw.Flush(); err != nil {
			return n, fmt.Errorf("export audit: write: %w", err)
		}
		n += len(events)
		if len(events) < exportBatch {
			return n, nil
		}
	}
}
