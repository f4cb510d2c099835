package account_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/account"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// legacy are hashes from other systems with their passwords (internal/password's known-answer
// vectors: PBKDF2 made with Python's hashlib, bcrypt from crypt_blowfish's tests).
var legacy = []struct{ user, hash, password, format string }{
	{"bcrypt2a", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U", "bcrypt"},
	{"bcrypt2b", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U", "bcrypt"},
	{"bcrypt2y", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U", "bcrypt"},
	{"django256", "pbkdf2_sha256$10000$seasaltseasalt$0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmgM=", "lètmein correct", "django pbkdf2_sha256"},
	{"django512", "pbkdf2_sha512$12000$seasaltseasalt$Ej9//faWz8O2x+N7OQmuqCMBC3yFaVQz0g3q5w9rPrgibl8xjdEKdifr6vlAf12JcsCSdyBJssrNFNNjZ/3P6w==",
		"lètmein correct", "django pbkdf2_sha512"},
	{"phc256", "$pbkdf2-sha256$i=10000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SI", "lètmein correct", "pbkdf2-sha256"},
	{"phc512", "$pbkdf2-sha512$i=10000,l=64$MDEyMzQ1Njc4OWFiY2RlZg$x70dq1zU9ASd6idjp2ZKInCzWBJtVaBqzY+y10jXU47t7w1gZeOaQTAZCNYtsa85iCFRfoHQjlPe6C1ZmGwRew",
		"lètmein correct", "pbkdf2-sha512"},
	{"passlib256", "$pbkdf2-sha256$29000$....Pj9.cGFzc2xpYg$1LUjB0dN/JOk0bDkfvKkexG3whicEbzqnARPcclyzXU", "lètmein correct", "passlib pbkdf2-sha256"},
	{"passlib512", "$pbkdf2-sha512$25000$....Pj9.cGFzc2xpYg$2Z1mroXuCilIHCd5uMtp7yYCrtNFT2rPwrDB4MyJlqJmtJwAMWamejueCyJibUqNwMZTqQuoOQdkys1ubPCB9Q",
		"lètmein correct", "passlib pbkdf2-sha512"},
	// argon2id with other parameters than the service's (m=128,t=2,p=2 against m=64,t=1,p=1).
	{"argon2other", "$argon2id$v=19$m=128,t=2,p=2$c2FsdHNhbHQ$jaTl4TrwgHv52HAFDdzbdsuGI2SNblQc6+GOYIpTt3k", "lètmein correct", "argon2id"},
}

// cardKey is the card code hasher logintest's token card kind uses.
func cardKey(t testing.TB) *secrets.Hasher {
	t.Helper()
	h, err := secrets.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var en = func() *i18n.Printer {
	b, err := i18n.Load("en")
	if err != nil {
		panic(err)
	}
	return b.Printer("en")
}()

func newImporter(t testing.TB, st store.Store) *account.Importer {
	t.Helper()
	return account.NewImporter(st, cardKey(t), password.DefaultParams(), en.Error, func() time.Time { return time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC) })
}

// eachBackend runs fn in parallel on a fresh SQLite and PostgreSQL store.
func eachBackend(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		t.Parallel()
		fn(t, b.Open(t))
	})
}

// importFile checks and imports content, failing the test on any problem.
func importFile(t *testing.T, st store.Store, content string) *account.Report {
	t.Helper()
	ctx := context.Background()
	im := newImporter(t, st)
	r := strings.NewReader(content)
	report, err := im.Check(ctx, r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() {
		t.Fatalf("import file has %d problems: %v", report.ProblemCount, report.Problems)
	}
	done, err := im.Import(ctx, r, report, "test.csv")
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func cardCodes() []string {
	var codes []string
	for i := range 24 {
		codes = append(codes, fmt.Sprintf("%06d", 200000+i*4321))
	}
	return codes
}

// TestImportedCitizensLogOn: a citizen of every accepted hash format is imported, logs on with
// the right password through the logon service, and has an argon2id hash of the service's
// parameters afterwards (still logging on, no further rehash); a wrong password is bad
// credentials before and after. A citizen imported without a password ("none") gets bad
// credentials whatever they type — not an internal error, which would tell that the account
// exists. A citizen imported with a card logs on with it.
func TestImportedCitizensLogOn(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		var file strings.Builder
		file.WriteString("username,name,email,language,password\n")
		for _, l := range legacy {
			fmt.Fprintf(&file, "%s,Citizen %s,%s@example.org,nl,\"%s\"\n", l.user, l.user, l.user, l.hash)
		}
		file.WriteString("nopassword,Nobody Yet,np@example.org,fr,none\n")
		file.WriteString("carded,Card Holder,card@example.org,de,$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW,CARD-77," + strings.Join(cardCodes(), ",") + "\n")
		report := importFile(t, db, file.String())
		if report.New != len(legacy)+2 || report.Cards != 1 || report.SkippedCount != 0 {
			t.Fatalf("imported %d (%d cards), skipped %d; want %d, 1, 0", report.New, report.Cards, report.SkippedCount, len(legacy)+2)
		}
		w := logintest.New(t, db, logintest.Options{})
		c := login.Client{IP: "192.0.2.10"}
		logon := func(user, pw string) error {
			t.Helper()
			tx := w.Service.Start(keys.LevelLow, "/")
			if err := w.Service.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			err := w.Service.SubmitPassword(ctx, tx, user, pw, c)
			if err == nil && tx.Step != login.StepDone {
				t.Fatalf("%s: logon at step %s", user, tx.Step)
			}
			return err
		}
		current := "$argon2id$v=19$m=64,t=1,p=1$"
		for _, l := range legacy {
			t.Run(l.user, func(t *testing.T) {
				before, err := db.GetAccountByUsername(ctx, l.user)
				if err != nil || before.PasswordHash != l.hash {
					t.Fatalf("stored hash %q, %v; want the file's %q", before.PasswordHash, err, l.hash)
				}
				if err := logon(l.user, l.password+"x"); !errors.Is(err, login.ErrBadCredentials) {
					t.Errorf("wrong password: %v, want bad credentials", err)
				}
				if err := logon(l.user, l.password); err != nil {
					t.Fatalf("right password: %v", err)
				}
				after, err := db.GetAccountByUsername(ctx, l.user)
				if err != nil || !strings.HasPrefix(after.PasswordHash, current) {
					t.Fatalf("after the logon the hash is %q, %v; want a rehash to %s…", after.PasswordHash, err, current)
				}
				if err := logon(l.user, l.password); err != nil {
					t.Errorf("right password after the rehash: %v", err)
				}
				if again, _ := db.GetAccountByUsername(ctx, l.user); again.PasswordHash != after.PasswordHash {
					t.Errorf("a second logon rehashed again")
				}
				if err := logon(l.user, l.password+"x"); !errors.Is(err, login.ErrBadCredentials) {
					t.Errorf("wrong password after the rehash: %v, want bad credentials", err)
				}
			})
		}
		for _, pw := range []string{"none", "anything at all"} {
			if err := logon("nopassword", pw); !errors.Is(err, login.ErrBadCredentials) {
				t.Errorf("no password, typed %q: %v, want bad credentials", pw, err)
			}
		}
		// Typing none is an empty form, told as such for every username alike.
		if err := logon("nopassword", ""); !errors.Is(err, login.ErrNoPassword) {
			t.Errorf("no password, typed nothing: %v, want the empty-password message", err)
		}
		if a, _ := db.GetAccountByUsername(ctx, "nopassword"); a.PasswordHash != "" || a.Language != "fr" {
			t.Errorf("the citizen without a password was stored as %+v", a)
		}

		tx := w.Service.Start(keys.LevelSubstantial, "/")
		if err := w.Service.Choose(tx, keys.TokenCard); err != nil {
			t.Fatal(err)
		}
		if err := w.Service.SubmitPassword(ctx, tx, "carded", "U*U", c); err != nil || tx.Step != login.StepCode {
			t.Fatalf("card holder's password: %v at %s", err, tx.Step)
		}
		pos, err := strconv.Atoi(tx.Challenge.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Service.SubmitCode(ctx, tx, cardCodes()[pos-1], c); err != nil || tx.Step != login.StepDone {
			t.Fatalf("card code %d: %v at %s", pos, err, tx.Step)
		}

		evs, err := db.ListAudit(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		created, summaries := 0, 0
		for _, e := range evs {
			switch {
			case e.Type == audit.AccountCreated && e.Reason == "import" && e.Actor == audit.ActorOperator && e.AccountID != 0:
				created++
			case e.Type == audit.OperatorAction && e.Reason == "users.import":
				summaries++
				if e.Detail["imported"] != strconv.Itoa(len(legacy)+2) || e.Detail["file"] != "test.csv" || e.Detail["cards"] != "1" {
					t.Errorf("import event detail %v", e.Detail)
				}
			}
		}
		if created != len(legacy)+2 || summaries != 1 {
			t.Errorf("%d account.created and %d import events, want %d and 1", created, summaries, len(legacy)+2)
		}
	})
}

// TestImportIsIdempotent: the same file again imports nothing and reports every line as taken;
// a file with some new citizens imports only those; usernames compare case-insensitively.
func TestImportIsIdempotent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		file := "anna,Anna,anna@example.org,nl,none\nbert,Bert,bert@example.org,en,none,CARD-1," + strings.Join(cardCodes(), ",") + "\n"
		if r := importFile(t, db, file); r.New != 2 || r.Cards != 1 {
			t.Fatalf("first import: %d new, %d cards", r.New, r.Cards)
		}
		r, err := newImporter(t, db).Check(ctx, strings.NewReader(file), 0)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() || r.New != 0 || r.SkippedCount != 2 || r.Skipped[0] != (account.Skipped{Line: 1, Username: "anna"}) ||
			r.Skipped[1] != (account.Skipped{Line: 2, Username: "bert"}) {
			t.Errorf("second check: %+v, want no problems (bert's card is skipped with him), 0 new, anna and bert skipped", r)
		}
		more := "ANNA,Anna,anna@example.org,nl,none\ncarla,Carla,carla@example.org,fr,none\n"
		done := importFile(t, db, more)
		if done.New != 1 || done.SkippedCount != 1 {
			t.Errorf("third import: %d new, %d skipped; want 1, 1", done.New, done.SkippedCount)
		}
		all, err := db.ListAccounts(ctx, 0, 0)
		if err != nil || len(all) != 3 {
			t.Errorf("%d accounts, %v; want 3", len(all), err)
		}
	})
}

// TestImportRefusesAChangedFile: the file written is the file checked, or nothing is written.
func TestImportRefusesAChangedFile(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	ctx := context.Background()
	im := newImporter(t, db)
	checked := "anna,Anna,anna@example.org,nl,none\n"
	r, err := im.Check(ctx, strings.NewReader(checked), 0)
	if err != nil || !r.OK() {
		t.Fatal(err, r)
	}
	for _, changed := range []string{"anna,Anne,anna@example.org,nl,none\n", checked + "bert,Bert,bert@example.org,nl,none\n", "anna,Anna,anna@example.org,nl,none"} {
		if _, err := im.Import(ctx, strings.NewReader(changed), r, "x.csv"); !errors.Is(err, account.ErrFileChanged) {
			t.Errorf("import of a changed file: %v, want ErrFileChanged", err)
		}
	}
	if all, _ := db.ListAccounts(ctx, 0, 0); len(all) != 0 {
		t.Errorf("%d accounts after refused imports", len(all))
	}
	if evs, _ := db.ListAudit(ctx, 0, 0); len(evs) != 0 {
		t.Errorf("%d audit events after refused imports", len(evs))
	}
}

// TestImportFormatting: a byte order mark, CR LF line ends, a header, blank lines, quoted fields
// with commas and quotes, spaces around fields and an upper-case language are all accepted.
func TestImportFormatting(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	file := "\ufeffUsername,Name,E-mail,Language,Password hash\r\n" +
		"\r\n" +
		"  anna , \"Dubois, Anna \"\"Nan\"\"\" , anna@example.org , NL , none \r\n" +
		"   \r\n" +
		"bert,Bert,bert@example.org,fr,NONE" // no line end at the end
	r := importFile(t, db, file)
	if r.New != 2 || r.Lines != 5 {
		t.Fatalf("imported %d of %d lines, want 2 of 5", r.New, r.Lines)
	}
	a, err := db.GetAccountByUsername(context.Background(), "anna")
	if err != nil || a.Name != `Dubois, Anna "Nan"` || a.Email != "anna@example.org" || a.Language != "nl" || a.PasswordHash != "" {
		t.Errorf("anna stored as %+v, %v", a, err)
	}
}

// TestImportProgress: the progress callback hears of both passes, up to their totals.
func TestImportProgress(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	var file strings.Builder
	for i := range 1200 {
		fmt.Fprintf(&file, "user%04d,User %d,u%d@example.org,en,none\n", i, i, i)
	}
	im := newImporter(t, db)
	var calls []string
	im.Progress = func(phase string, done, total int64) {
		calls = append(calls, fmt.Sprintf("%s %d/%d", phase, done, total))
	}
	content := file.String()
	r := strings.NewReader(content)
	report, err := im.Check(context.Background(), r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.Import(context.Background(), r, report, "p.csv"); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("check %d/%d", len(content), len(content))
	if len(calls) != 6 || calls[2] != want || calls[3] != "write 500/1200" || calls[5] != "write 1200/1200" {
		t.Errorf("progress calls %q, want three of each pass, ending with %q and write 1200/1200", calls, want)
	}
}

// writeFile writes content to a file in the test's directory and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "citizens.csv")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportFromAFile: Import reads an *os.File again from its start.
func TestImportFromAFile(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	f, err := os.Open(writeFile(t, "anna,Anna,anna@example.org,nl,none\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im := newImporter(t, db)
	r, err := im.Check(context.Background(), f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if done, err := im.Import(context.Background(), f, r, "f.csv"); err != nil || done.New != 1 {
		t.Fatalf("Import = %+v, %v", done, err)
	}
}

// TestImportBoundsParameterSets: a file whose hashes use more than 16 parameter sets is
// refused, from the 17th set on: every failed logon measures each set in use.
func TestImportBoundsParameterSets(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	var file strings.Builder
	for i := range 18 {
		fmt.Fprintf(&file, "user%02d,User,u%d@example.org,en,pbkdf2_sha256$%d$seasaltseasalt$0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmgM=\n", i, i, 10000+i)
	}
	fmt.Fprintf(&file, "again,User,again@example.org,en,pbkdf2_sha256$10003$othersaltsalt$0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmgM=\n")
	r, err := newImporter(t, db).Check(context.Background(), strings.NewReader(file.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.ProblemCount != 2 || r.Problems[0].Line != 17 || r.Problems[1].Line != 18 || !strings.Contains(r.Problems[0].Msg, "more than 16 parameter sets") {
		t.Errorf("problems %v, want lines 17 and 18 refused", r.Problems)
	}
}
