package tokencard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Columns is the number of fields of one CSV line: username, serial and the 24 codes.
const Columns = 2 + Positions

// Card is one token card read from an import file. Codes are plaintext until Import hashes
// them; Line is the file line it came from, for messages.
type Card struct {
	Line     int
	Username string
	Serial   string
	Codes    [Positions]string
}

// Problem is one thing wrong with an import, at a file line.
type Problem struct {
	Line int
	Msg  string
}

// String formats the problem as "line N: message".
func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Msg) }

// ImportError lists every problem found in an import file or by Import, ordered by line.
type ImportError struct {
	Problems []Problem
	// Err is an underlying cause, such as store.ErrConflict for a serial already stored.
	Err error
}

// Unwrap returns the underlying cause, if any.
func (e *ImportError) Unwrap() error { return e.Err }

// Error lists the problems, one per line after a summary line.
func (e *ImportError) Error() string {
	var sb strings.Builder
	if len(e.Problems) == 1 {
		sb.WriteString("token card import: 1 problem:")
	} else {
		fmt.Fprintf(&sb, "token card import: %d problems:", len(e.Problems))
	}
	for _, p := range e.Problems {
		sb.WriteString("\n")
		sb.WriteString(p.String())
	}
	return sb.String()
}

func newImportError(ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return &ImportError{Problems: ps}
}

// ParseCSV reads token cards, one per line: username,serial,code1,…,code24. A first line whose
// first field is "username" is a header and skipped; blank lines are skipped; spaces around
// fields are trimmed; a UTF-8 byte order mark at the start is ignored. Every line is validated
// and all problems are returned at once as an *ImportError ("line 7: code 12 has 5 digits,
// want 6"); on any problem no cards are returned.
func ParseCSV(r io.Reader) ([]Card, error) {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // column counts are checked below, for every line
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true

	var (
		cards    []Card
		problems []Problem
		serials  = map[string]int{} // serial → first line
		first    = true
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				problems = append(problems, Problem{Line: pe.Line, Msg: pe.Err.Error()})
				continue
			}
			return nil, fmt.Errorf("token card import: read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			continue // a line of spaces only
		}
		if first {
			first = false
			if strings.EqualFold(rec[0], "username") {
				continue
			}
		}
		if len(rec) != Columns {
			problems = append(problems, Problem{line, fmt.Sprintf("%d columns, want %d", len(rec), Columns)})
			continue
		}
		c := Card{Line: line, Username: rec[0], Serial: rec[1]}
		if c.Username == "" {
			problems = append(problems, Problem{line, "username is empty"})
		}
		if prev, dup := serials[c.Serial]; dup && c.Serial != "" {
			problems = append(problems, Problem{line, fmt.Sprintf("serial %s appears again (first on line %d)", c.Serial, prev)})
		} else if c.Serial != "" {
			serials[c.Serial] = line
		}
		for _, msg := range CheckCard(c.Serial, rec[2:]) {
			problems = append(problems, Problem{line, msg})
		}
		copy(c.Codes[:], rec[2:])
		cards = append(cards, c)
	}
	if err := newImportError(problems); err != nil {
		return nil, err
	}
	if len(cards) == 0 {
		return nil, errors.New("token card import: the file holds no cards")
	}
	return cards, nil
}

// CheckCard checks one card as a line of an import file gives it: a serial and its Positions
// codes of CodeLength digits, trimmed. It returns every problem ("code 12 has 5 digits, want
// 6"), none for a valid card. The citizens' import (admin users import) checks cards with it too.
func CheckCard(serial string, codes []string) []string {
	var problems []string
	if serial == "" {
		problems = append(problems, "serial is empty")
	}
	if len(codes) != Positions {
		return append(problems, fmt.Sprintf("%d codes, want %d", len(codes), Positions))
	}
	for i, code := range codes {
		switch {
		case keys.IsCode(code, CodeLength):
		case allDigits(code):
			problems = append(problems, fmt.Sprintf("code %d has %d digits, want %d", i+1, len(code), CodeLength))
		default:
			problems = append(problems, fmt.Sprintf("code %d %q is not %d digits", i+1, code, CodeLength))
		}
	}
	return problems
}

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// importStore is what an import takes, inside its one transaction.
type importStore interface {
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	CreateKey(ctx context.Context, k *store.Key) error
}

var _ importStore = store.Store(nil)

// Import creates an active tokencard key for every card, in one transaction: either all cards
// are imported or none. An unknown username fails the import with every such line named (an
// *ImportError); a serial that is already stored fails it with that line and serial. It returns
// the number of keys created. Codes are stored only as keyed hashes made with h.
func Import(ctx context.Context, st store.Transactor, h *secrets.Hasher, cards []Card, now time.Time) (int, error) {
	if h == nil {
		return 0, errors.New("token card import: hasher is nil")
	}
	created := 0
	err := store.InTx(ctx, st, func(tx importStore) error {
		created = 0
		// Look every username up first, so all unknown ones are reported together (and before
		// any insert, which on PostgreSQL ends the transaction when it fails).
		accounts := make([]int64, len(cards))
		var problems []Problem
		for i, c := range cards {
			a, err := tx.GetAccountByUsername(ctx, c.Username)
			if errors.Is(err, store.ErrNotFound) {
				problems = append(problems, Problem{c.Line, fmt.Sprintf("unknown username %q", c.Username)})
				continue
			}
			if err != nil {
				return fmt.Errorf("token card import: line %d: look up %q: %w", c.Line, c.Username, err)
			}
			accounts[i] = a.ID
		}
		if err := newImportError(problems); err != nil {
			return err
		}
		for i, c := range cards {
			k, err := NewKey(h, accounts[i], c.Serial, c.Codes, now)
			if err != nil {
				return fmt.Errorf("token card import: line %d: %w", c.Line, err)
			}
			if err := tx.CreateKey(ctx, &k); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return &ImportError{
						Problems: []Problem{{c.Line, fmt.Sprintf("serial %s is already imported", c.Serial)}},
						Err:      err,
					}
				}
				return fmt.Errorf("token card import: line %d: create key: %w", c.Line, err)
			}
			created++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}
