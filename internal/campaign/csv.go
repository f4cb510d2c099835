package campaign

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// AtRiskHeader is the first line of the at-risk CSV.
var AtRiskHeader = []string{"username", "name", "email", "language", "last_used"}

// WriteAtRiskCSV streams the citizens at risk in kind's campaign to w as CSV (AtRiskHeader;
// last_used in RFC 3339, UTC, empty when never used), a page at a time. Cells that a
// spreadsheet would read as a formula are defused (see Defuse).
func (s *Service) WriteAtRiskCSV(ctx context.Context, kind string, w io.Writer) error {
	if _, err := s.check(kind); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(AtRiskHeader); err != nil {
		return fmt.Errorf("at-risk csv: %w", err)
	}
	err := s.EachAtRisk(ctx, kind, func(r store.AtRisk) error {
		last := ""
		if !r.LastUsedAt.IsZero() {
			last = r.LastUsedAt.UTC().Format(time.RFC3339)
		}
		return cw.Write([]string{Defuse(r.Username), Defuse(r.Name), Defuse(r.Email), Defuse(r.Language), last})
	})
	if err != nil {
		return fmt.Errorf("at-risk csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("at-risk csv: %w", err)
	}
	return nil
}

// Defuse guards a CSV cell against formula injection (OWASP "CSV injection"): a cell that
// starts with =, +, -, @, a tab or a carriage return is prefixed with an apostrophe, which
// spreadsheets show as text. Names and usernames come from citizens.
func Defuse(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}
