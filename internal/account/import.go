package account

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// An import file has one citizen a line (SPEC §11):
//
//	username,name,e-mail,language,password hash[,card serial,code 1,…,code 24]
//
// The import is all or nothing and streams: a first pass (Check) reads the file once, checks
// every line and reports every problem with its line number, looking usernames and serials up
// in the database in batches; a second pass (Import) reads it again and writes it in one
// database transaction, so a crash half-way (even kill -9) leaves nothing of it. Memory stays
// constant in the file's size except for the duplicate check: one 16-byte digest and a line
// number per username and per card serial (some 40 bytes an entry in a Go map: about 40 MB for
// 1,000,000 citizens, 80 MB with cards). We chose that over an external sort: it reports the
// duplicate's first line at once, and 40 MB is small beside a million-line import.
//
// Citizens whose username is taken already are reported and skipped, never changed, so running
// the same file again imports nothing new and says so.

// ImportColumns and ImportCardColumns are the column counts of a line without and with a card.
const (
	ImportColumns     = 5
	ImportCardColumns = ImportColumns + 1 + tokencard.Positions
)

// NoPassword is what the password hash column holds for a citizen without a password: they
// set one with the forgotten-password flow.
const NoPassword = "none"

// maxListed is how many problems (and skipped usernames) a Report keeps to show; the others
// are counted.
const maxListed = 1000

// maxImportClasses bounds the password hash parameter sets of one import: every failed logon
// measures the dearest of all sets in use (internal/password), so thousands of sets would make
// failures slow. Real systems have a handful.
const maxImportClasses = 16

// importBatch is how many lines are looked up or written together.
const importBatch = 500

// Problem is one thing wrong with an import file.
type Problem struct {
	Line int
	Msg  string
}

// String formats the problem as "line N: message".
func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Msg) }

// Skipped is a line whose username is taken already.
type Skipped struct {
	Line     int
	Username string
}

// Report is what Check found, and Import did.
type Report struct {
	Lines int // lines read, blank ones and the header included
	// New is the number of citizens to import (after Import: imported); Cards of them have a card.
	New, Cards int
	// Skipped lists the first skipped lines; SkippedCount counts them all.
	Skipped      []Skipped
	SkippedCount int
	// Problems lists the first problems, in line order; ProblemCount counts them all.
	Problems     []Problem
	ProblemCount int
	// Formats counts the new citizens' password hash formats ("bcrypt", "none", …).
	Formats map[string]int

	digest [sha256.Size]byte // of the file Check read
	bytes  int64
}

// OK reports whether the file has no problems.
func (r *Report) OK() bool { return r.ProblemCount == 0 }

func (r *Report) problem(line int, format string, args ...any) {
	r.ProblemCount++
	if len(r.Problems) < maxListed {
		r.Problems = append(r.Problems, Problem{line, fmt.Sprintf(format, args...)})
	}
}

func (r *Report) skip(line int, username string) {
	r.SkippedCount++
	if len(r.Skipped) < maxListed {
		r.Skipped = append(r.Skipped, Skipped{line, username})
	}
}

// ImportStore is what an import reads outside its transaction, and opens it with.
type ImportStore interface {
	TakenUsernames(ctx context.Context, usernames []string) ([]string, error)
	TakenSerials(ctx context.Context, kind string, serials []string) ([]string, error)
	store.Transactor
}

// importTx is what the import writes with, in its one transaction.
type importTx interface {
	InsertAccounts(ctx context.Context, accts []store.Account) error
	InsertKeys(ctx context.Context, keys []store.Key) error
	AppendAudits(ctx context.Context, events []store.AuditEvent) error
}

var (
	_ ImportStore = store.Store(nil)
	_ importTx    = store.Store(nil)
)

// Importer checks and imports citizens from a file.
type Importer struct {
	st    ImportStore
	cards *secrets.Hasher // hashes card codes, as the tokencard kind does
	// slot is the memory (KiB) a hashing slot is given: the configured argon2id memory, the
	// most an imported argon2id hash may need (password.CheckImport).
	slot uint32
	// explain words a validation error (an i18n.LocalizedError) for the operator.
	explain func(error) string
	now     func() time.Time
	// Progress, when set, is told how far a pass is: the phase ("check" or "write"), and
	// done out of total (bytes read when checking, citizens written when writing). It is
	// called after every batch.
	Progress func(phase string, done, total int64)
}

// NewImporter returns an Importer. cards hashes token card codes (the node's hasher); hashing
// are the configured password parameters, whose memory bounds an imported argon2id hash's;
// explain renders a validation error in the operator's language.
func NewImporter(st ImportStore, cards *secrets.Hasher, hashing password.Params, explain func(error) string, now func() time.Time) *Importer {
	return &Importer{st: st, cards: cards, slot: hashing.Memory, explain: explain, now: now}
}

// citizen is one valid line.
type citizen struct {
	line                              int
	username, name, email, lang, hash string
	format, class                     string
	serial                            string
	codes                             [tokencard.Positions]string
	hasCard                           bool
}

// parse checks the fields of one line and returns the citizen, or the line's problems.
func (im *Importer) parse(fields []string) (citizen, []string) {
	var c citizen
	var problems []string
	if n := len(fields); n != ImportColumns && n != ImportCardColumns {
		msg := fmt.Sprintf("%d columns, want %d (username, name, e-mail, language, password hash) or %d (and a card serial with its %d codes)",
			n, ImportColumns, ImportCardColumns, tokencard.Positions)
		for _, f := range fields {
			if strings.HasPrefix(f, "$argon2id$") || strings.HasPrefix(f, "$pbkdf2-") {
				msg += `; a password hash with commas (m=…,t=…,p=… or i=…,l=…) goes in double quotes`
				break
			}
		}
		return c, []string{msg}
	}
	c.username, c.name, c.email, c.lang, c.hash = fields[0], fields[1], fields[2], strings.ToLower(fields[3]), fields[4]
	c.name = strings.TrimSpace(c.name)
	for _, err := range []error{ValidateUsername(c.username), ValidateName(c.name), mail.ValidateAddress(c.email), ValidateLanguage(c.lang)} {
		if err != nil {
			problems = append(problems, im.explain(err))
		}
	}
	switch {
	case c.hash == "":
		problems = append(problems, "the password hash is empty: write "+NoPassword+" for a citizen without a password")
	case strings.EqualFold(c.hash, NoPassword):
		c.hash, c.format = "", password.FormatNone
	default:
		info, err := password.CheckImport(c.hash, im.slot)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), password.ErrMalformedHash.Error()+": ")
			problems = append(problems, "password hash: "+strings.TrimPrefix(msg, password.ErrImportBound.Error()+": "))
		}
		c.format, c.class = info.Format, info.Class
	}
	if len(fields) == ImportCardColumns {
		c.hasCard, c.serial = true, fields[ImportColumns]
		problems = append(problems, tokencard.CheckCard(c.serial, fields[ImportColumns+1:])...)
		copy(c.codes[:], fields[ImportColumns+1:])
	}
	return c, problems
}

// reader reads the valid citizens of a file, reporting the other lines' problems.
type reader struct {
	im     *Importer
	lines  *lineReader
	report *Report
	header bool // whether the first non-blank line was seen
}

// next returns the next valid citizen, or io.EOF.
func (rd *reader) next() (citizen, error) {
	for {
		line, err := rd.lines.next()
		n := rd.lines.line
		switch {
		case errors.Is(err, io.EOF):
			rd.report.Lines = rd.lines.line
			return citizen{}, io.EOF
		case errors.Is(err, errLineTooLong):
			rd.report.problem(n, "%v", err)
			continue
		case err != nil:
			return citizen{}, err
		}
		if err := checkText(line); err != nil {
			rd.report.problem(n, "%v", err)
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields, err := splitFields(line)
		if err != nil {
			rd.report.problem(n, "%v", err)
			continue
		}
		if !rd.header {
			rd.header = true
			if strings.EqualFold(fields[0], "username") {
				continue
			}
		}
		c, problems := rd.im.parse(fields)
		for _, p := range problems {
			rd.report.problem(n, "%s", p)
		}
		if len(problems) > 0 {
			continue
		}
		c.line = n
		return c, nil
	}
}

// seen remembers the usernames (case-folded) and serials of a file by a 16-byte digest, with
// the line each first appeared on.
type seen map[[16]byte]int32

func (s seen) add(domain, value string, line int) (first int, dup bool) {
	sum := sha256.Sum256([]byte(domain + "\x00" + value))
	var k [16]byte
	copy(k[:], sum[:])
	if prev, ok := s[k]; ok {
		return int(prev), true
	}
	s[k] = int32(line)
	return line, false
}

// Check reads the file once and reports every problem and every username taken already,
// writing nothing. r is read to its end; its size (0 when unknown) scales the progress.
func (im *Importer) Check(ctx context.Context, r io.Reader, size int64) (*Report, error) {
	report := &Report{Formats: map[string]int{}}
	sum := sha256.New()
	rd := &reader{im: im, lines: newLineReader(r, sum), report: report}
	names := seen{}
	classes := map[string]bool{}
	var batch []citizen
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch = batch[:0] }()
		if err := im.checkTaken(ctx, batch, report); err != nil {
			return err
		}
		if im.Progress != nil {
			im.Progress("check", rd.lines.read, size)
		}
		return ctx.Err()
	}
	for {
		c, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("check import file: %w", err)
		}
		if first, dup := names.add("username", strings.ToLower(c.username), c.line); dup {
			report.problem(c.line, "username %s appears again (first on line %d)", c.username, first)
			continue
		}
		if c.hasCard {
			if first, dup := names.add("serial", c.serial, c.line); dup {
				report.problem(c.line, "card serial %s appears again (first on line %d)", c.serial, first)
				continue
			}
		}
		if c.class != "" {
			if !classes[c.class] && len(classes) == maxImportClasses {
				report.problem(c.line, "the password hashes use more than %d parameter sets (a %d-th: %s): "+
					"every failed logon measures each set in use, so import at most %d at once", maxImportClasses, maxImportClasses+1, c.class, maxImportClasses)
				continue
			}
			classes[c.class] = true
		}
		batch = append(batch, c)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	sort.SliceStable(report.Problems, func(i, j int) bool { return report.Problems[i].Line < report.Problems[j].Line })
	copy(report.digest[:], sum.Sum(nil))
	report.bytes = rd.lines.read
	return report, nil
}

// checkTaken looks the batch's usernames up: taken ones are skipped (and so are their cards);
// the others' card serials must be free.
func (im *Importer) checkTaken(ctx context.Context, batch []citizen, report *Report) error {
	usernames := make([]string, len(batch))
	for i, c := range batch {
		usernames[i] = c.username
	}
	taken, err := im.st.TakenUsernames(ctx, usernames)
	if err != nil {
		return fmt.Errorf("check import file: %w", err)
	}
	isTaken := make(map[string]bool, len(taken))
	for _, u := range taken {
		isTaken[u] = true
	}
	var serials []string
	serialLine := map[string]int{}
	for _, c := range batch {
		switch {
		case isTaken[c.username]:
			report.skip(c.line, c.username)
		default:
			report.New++
			report.Formats[c.format]++
			if c.hasCard {
				report.Cards++
				serials = append(serials, c.serial)
				serialLine[c.serial] = c.line
			}
		}
	}
	if len(serials) == 0 {
		return nil
	}
	takenSerials, err := im.st.TakenSerials(ctx, keys.TokenCard, serials)
	if err != nil {
		return fmt.Errorf("check import file: %w", err)
	}
	for _, s := range takenSerials {
		report.problem(serialLine[s], "card serial %s is already imported", s)
	}
	return nil
}

// ErrFileChanged is returned by Import when the file is not the one Check read.
var ErrFileChanged = errors.New("the file changed since it was checked: nothing imported; check it again")

// Import writes the citizens of the file that checked found without problems, in one
// transaction: every new citizen (with its card, and an account.created audit event) and one
// operator.action event naming the file, or nothing. r must be the same file again (its
// digest is compared before the commit). Usernames taken since the check are skipped too. It
// returns checked, updated with what was written.
func (im *Importer) Import(ctx context.Context, r io.ReadSeeker, checked *Report, file string) (*Report, error) {
	if !checked.OK() {
		return nil, errors.New("import: the file has problems: nothing imported")
	}
	var done *Report
	err := store.InTx(ctx, im.st, func(tx importTx) error {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("import: rewind %s: %w", file, err)
		}
		var err error
		done, err = im.write(ctx, tx, r, checked, file)
		return err
	})
	if err != nil {
		return nil, err
	}
	return done, nil
}

// write is one run of Import's transaction.
func (im *Importer) write(ctx context.Context, tx importTx, r io.Reader, checked *Report, file string) (*Report, error) {
	report := &Report{Formats: map[string]int{}}
	sum := sha256.New()
	rd := &reader{im: im, lines: newLineReader(r, sum), report: report}
	now := im.now()
	var batch []citizen
	accts := make([]store.Account, 0, importBatch)
	var cards []store.Key
	var events []store.AuditEvent
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		accts, cards, events = accts[:0], cards[:0], events[:0]
		for _, c := range batch {
			accts = append(accts, store.Account{Username: c.username, Name: c.name, Email: c.email, Language: c.lang,
				PasswordHash: c.hash, CreatedAt: now, UpdatedAt: now})
		}
		if err := tx.InsertAccounts(ctx, accts); err != nil {
			return fmt.Errorf("import: line %d and on: %w", batch[0].line, err)
		}
		for i, c := range batch {
			id := accts[i].ID
			if id == 0 {
				report.skip(c.line, c.username)
				continue
			}
			report.New++
			report.Formats[c.format]++
			ev := store.AuditEvent{Time: now, Type: audit.AccountCreated, AccountID: id, Actor: audit.ActorOperator, Reason: "import"}
			if c.hasCard {
				k, err := tokencard.NewKey(im.cards, id, c.serial, c.codes, now)
				if err != nil {
					return fmt.Errorf("import: line %d: %w", c.line, err)
				}
				cards = append(cards, k)
				report.Cards++
				ev.Detail = map[string]string{"card": c.serial}
			}
			events = append(events, ev)
		}
		if err := tx.InsertKeys(ctx, cards); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("import: a card serial of lines %d to %d was imported since the check: nothing imported; check again: %w",
					batch[0].line, batch[len(batch)-1].line, err)
			}
			return fmt.Errorf("import: %w", err)
		}
		if err := tx.AppendAudits(ctx, events); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		batch = batch[:0]
		if im.Progress != nil {
			im.Progress("write", int64(report.New+report.SkippedCount), int64(checked.New+checked.SkippedCount))
		}
		return ctx.Err()
	}
	for {
		c, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		batch = append(batch, c)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if report.ProblemCount > 0 || rd.lines.read != checked.bytes || string(sum.Sum(nil)) != string(checked.digest[:]) {
		return nil, ErrFileChanged
	}
	report.Lines, report.digest, report.bytes = rd.lines.line, checked.digest, checked.bytes
	summary := store.AuditEvent{Time: now, Type: audit.OperatorAction, Actor: audit.ActorOperator, Reason: "users.import",
		Detail: map[string]string{"file": file, "imported": fmt.Sprint(report.New), "skipped": fmt.Sprint(report.SkippedCount),
			"cards": fmt.Sprint(report.Cards)}}
	if err := tx.AppendAudits(ctx, []store.AuditEvent{summary}); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return report, nil
}
