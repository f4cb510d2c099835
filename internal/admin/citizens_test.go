package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const bcrypt05 = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW" // "U*U"

func codes24(first int) string {
	var cs []string
	for i := range 24 {
		cs = append(cs, fmt.Sprintf("%06d", first+i*17))
	}
	return strings.Join(cs, ",")
}

func writeAt(t *testing.T, at place, name, content string) string {
	t.Helper()
	p := filepath.Join(at.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsersImportBadInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, testUsersImportBadInput)
}

// testUsersImportBadInput: a file with something wrong on many lines reports every problem with
// its line number (the minimum or range accepted where it is a bound) and writes nothing — not
// even its good lines; a dry run of a good file writes nothing either.
func testUsersImportBadInput(t *testing.T, at place) {
	mustRun(t, at, "a long enough passphrase\n", "users", "add", "--username", "taken", "--name", "T", "--email", "t@example.org")
	mustRun(t, at, "", "tokencards", "import", writeAt(t, at, "card.csv", card("taken", "USED-1", nil)+"\n"))
	lines := []string{
		"username,name,email,language,password",                     // 1: header
		"good1,Good One,good1@example.org,nl," + bcrypt05,           // 2
		"short,Two Columns",                                         // 3: column count
		"md5,Md Five,md5@example.org,nl,$1$saltsalt$qjXMvbEw8oaL.C", // 4: unknown format
		"cost40,Cost Forty,c40@example.org,nl,$2b$40$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",                                     // 5
		"once,One Iteration,once@example.org,nl,\"$pbkdf2-sha256$i=1,l=32$MDEyMzQ1Njc4OWFiY2RlZg$J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SI\"", // 6
		"Good1,Good Again,again@example.org,fr,none",                                                                    // 7: duplicate of line 2
		"latin1,Ren\xe9,latin1@example.org,fr,none",                                                                     // 8: invalid UTF-8
		"long,Long," + strings.Repeat("x", 5000) + "@example.org,nl,none",                                               // 9: too long
		"x,Bad Everything,not-an-address,es,",                                                                           // 10: username, e-mail, language, empty hash
		"carded,Card,carded@example.org,nl,none,CARD-1," + codes24(100000),                                              // 11: good with a card
		"carded2,Card,carded2@example.org,nl,none,CARD-1," + codes24(300000),                                            // 12: serial again
		"carded3,Card,carded3@example.org,nl,none,USED-1," + codes24(300000),                                            // 13: serial in the database
		"carded4,Card,carded4@example.org,nl,none,CARD-4," + strings.Replace(codes24(300000), "300017", "30001", 1),     // 14: code 2
		"argon,Argon,argon@example.org,nl,$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",               // 15: unquoted commas
		"quote,\"Unclosed,quote@example.org,nl,none",                                                                    // 16
		"nul,Nul Name,nul@example.org,nl,pbkdf2_sha256$10000$salt\x00salt$0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmgM=", // 17: NUL
		"taken,Already Here,taken@example.org,nl,none",                                                                  // 18: taken: skipped, not a problem
		"dear,Dear,dear@example.org,nl,$2b$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",                    // 19: too dear to import
	}
	bad := writeAt(t, at, "bad.csv", strings.Join(lines, "\n")+"\n")
	out, err := runAdmin(t, at, "", "users", "import", bad)
	if err == nil {
		t.Fatalf("a bad file was imported:\n%s", out)
	}
	for _, want := range []string{
		"nothing imported",
		"line 3: 2 columns, want 5",
		"line 4: password hash: unknown format",
		"line 5: password hash: bcrypt: cost 40 is out of range: accepted 4 to 16",
		"line 6: password hash: pbkdf2-sha256: 1 iterations is too few: at least 10000 are required",
		"line 7: username Good1 appears again (first on line 2)",
		"line 8: not valid UTF-8 (byte 11 of the line)",
		"line 9: longer than 4096 bytes",
		"line 10: A username has 3 to 64 characters",
		"line 10: the password hash is empty: write none",
		"line 12: card serial CARD-1 appears again (first on line 11)",
		"line 13: card serial USED-1 is already imported",
		"line 14: code 2 has 5 digits, want 6",
		"line 15: 7 columns, want 5",
		"goes in double quotes",
		"line 16: column 2: a quoted field is not closed",
		"line 17: a control character (byte 57 of the line, 0x00)",
		"line 19: password hash: bcrypt cost 15 is more than 14",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the import's error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "\nline 18:") || strings.Contains(err.Error(), "\nline 2:") || strings.Contains(err.Error(), "\nline 11:") {
		t.Errorf("good lines reported as problems:\n%v", err)
	}
	if !strings.Contains(out, "line 18: username taken is taken: skipped") {
		t.Errorf("the taken username is not reported:\n%s", out)
	}
	list := mustRun(t, at, "", "users", "list")
	for _, u := range []string{"good1", "carded", "argon"} {
		if strings.Contains(list, u) {
			t.Errorf("%s was imported from a file with problems:\n%s", u, list)
		}
	}

	good := writeAt(t, at, "good.csv", lines[0]+"\n"+lines[1]+"\n"+lines[10]+"\n")
	out = mustRun(t, at, "", "users", "import", "--dry-run", good)
	if !strings.Contains(out, "2 new citizens (1 with a token card)") || !strings.Contains(out, "dry run: nothing written") ||
		!strings.Contains(out, "password hashes of the new citizens: bcrypt 1, none 1") {
		t.Errorf("dry run printed:\n%s", out)
	}
	if list := mustRun(t, at, "", "users", "list"); strings.Contains(list, "good1") {
		t.Errorf("a dry run imported:\n%s", list)
	}
	for _, args := range [][]string{{"users", "import"}, {"users", "import", "a.csv", "b.csv"}} {
		if _, err := runAdmin(t, at, "", args...); !errors.Is(err, ErrUsage) {
			t.Errorf("admin %v: %v, want a usage error", args, err)
		}
	}
	if _, err := runAdmin(t, at, "", "users", "import", filepath.Join(at.dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing file: %v", err)
	}
	for _, empty := range []string{"", "username,name,email,language,hash\n\n"} {
		if _, err := runAdmin(t, at, "", "users", "import", writeAt(t, at, "empty.csv", empty)); err == nil || !strings.Contains(err.Error(), "holds no citizens") {
			t.Errorf("an empty file %q: %v", empty, err)
		}
	}
}

// TestUsersImportManyProblems: a file with more problems than are printed says how many more.
func TestUsersImportManyProblems(t *testing.T) {
	t.Parallel()
	at := place{dir: t.TempDir()}
	var sb strings.Builder
	for i := range 120 {
		fmt.Fprintf(&sb, "user%d,User,u%d@example.org,xx,none\n", i, i)
	}
	_, err := runAdmin(t, at, "", "users", "import", writeAt(t, at, "many.csv", sb.String()))
	if err == nil || !strings.Contains(err.Error(), "120 problems, nothing imported") || !strings.Contains(err.Error(), "… and 70 more") ||
		!strings.Contains(err.Error(), "line 50:") || strings.Contains(err.Error(), "line 51:") {
		t.Errorf("many problems: %v", err)
	}
}

func TestUsersImportRerunAndExportDelete(t *testing.T) {
	t.Parallel()
	eachBackend(t, testUsersImportRerunAndExportDelete)
}

// testUsersImportRerunAndExportDelete: an import with a byte order mark and CR LF line ends,
// run again (nothing new, every line reported), then a citizen exported and deleted from the
// command line; a delete without a reason is refused.
func testUsersImportRerunAndExportDelete(t *testing.T, at place) {
	file := writeAt(t, at, "citizens.csv", "\ufeffusername,name,email,language,hash\r\n"+
		"anna,\"Peeters, Anna\",anna@example.org,nl,"+bcrypt05+"\r\n"+
		"bert,Bert,bert@example.org,fr,none,CARD-B,"+codes24(100000)+"\r\n")
	out := mustRun(t, at, "", "users", "import", file)
	for _, want := range []string{"3 lines; 2 new citizens (1 with a token card), 0 already exist", "writing 2 citizens in one transaction",
		"imported 2 citizens (1 with a token card)", "a failed logon now takes about", "(the dearest password hash class in use, $"} {
		if !strings.Contains(out, want) {
			t.Errorf("import printed no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") {
		t.Errorf("a progress line went to a file that is no terminal:\n%q", out)
	}
	out = mustRun(t, at, "", "users", "import", file)
	for _, want := range []string{"0 new citizens", "2 already exist (skipped)", "line 2: username anna is taken: skipped",
		"line 3: username bert is taken: skipped", "nothing new to import"} {
		if !strings.Contains(out, want) {
			t.Errorf("re-run printed no %q:\n%s", want, out)
		}
	}
	list := mustRun(t, at, "", "users", "list")
	if strings.Count(list, "anna@example.org") != 1 || !strings.Contains(list, "tokencard(active)") || !strings.Contains(list, "Peeters, Anna") {
		t.Errorf("users list after two imports:\n%s", list)
	}

	export := mustRun(t, at, "", "users", "export", "BERT")
	var doc map[string]any // the JSON first; runAdmin adds the log lines of stderr
	if err := json.NewDecoder(strings.NewReader(export)).Decode(&doc); err != nil {
		t.Fatalf("users export printed no JSON: %v\n%s", err, export)
	}
	if acct := doc["account"].(map[string]any); acct["username"] != "bert" || acct["password_format"] != "none" {
		t.Errorf("exported account %v", acct)
	}
	outFile := filepath.Join(at.dir, "bert.json")
	mustRun(t, at, "", "users", "export", "bert", "--output", outFile)
	if b, err := os.ReadFile(outFile); err != nil || !json.Valid(b) {
		t.Errorf("export to a file: %v\n%s", err, b)
	}
	if _, err := runAdmin(t, at, "", "users", "export", "bert", "--output", outFile); err == nil {
		t.Error("an export overwrote a file")
	}
	if _, err := runAdmin(t, at, "", "users", "export", "nobody"); err == nil || !strings.Contains(err.Error(), `no citizen with username "nobody"`) {
		t.Errorf("export of nobody: %v", err)
	}

	for _, args := range [][]string{{"users", "delete", "bert"}, {"users", "delete", "bert", "--reason", " "}, {"users", "delete", "--reason", "x"}} {
		if _, err := runAdmin(t, at, "", args...); !errors.Is(err, ErrUsage) {
			t.Errorf("admin %v: %v, want a usage error", args, err)
		}
	}
	if list := mustRun(t, at, "", "users", "list"); !strings.Contains(list, "bert@example.org") {
		t.Fatalf("a refused delete deleted bert:\n%s", list)
	}
	out = mustRun(t, at, "", "users", "delete", "bert", "--reason", "asked by the citizen, ticket 7")
	if !strings.Contains(out, "deleted citizen bert") || !strings.Contains(out, "pseudonym -") {
		t.Errorf("delete printed %q", out)
	}
	if list := mustRun(t, at, "", "users", "list"); strings.Contains(list, "bert@example.org") {
		t.Errorf("bert is still listed:\n%s", list)
	}
	if _, err := runAdmin(t, at, "", "users", "delete", "bert", "--reason", "again"); err == nil || !strings.Contains(err.Error(), "no citizen") {
		t.Errorf("deleting bert twice: %v", err)
	}
	var deleted, exported, imported bool
	for _, line := range strings.Split(strings.TrimSpace(mustRun(t, at, "", "audit", "export")), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		switch {
		case ev["type"] == "account.deleted":
			deleted = ev["reason"] == "asked by the citizen, ticket 7" && ev["actor"] == "operator" && ev["account_id"].(float64) < 0
		case ev["type"] == "operator.action" && ev["reason"] == "users.export":
			exported = true
		case ev["type"] == "operator.action" && ev["reason"] == "users.import":
			imported = true
		case ev["type"] == "account.created" && ev["account_id"].(float64) < 0:
			// bert's creation, pseudonymised
		}
	}
	if !deleted || !exported || !imported {
		t.Errorf("audit: deleted %v, exported %v, imported %v; want all", deleted, exported, imported)
	}
}

// TestProgress: the progress line is rewritten at most four times a second (and at the end of a
// pass), ended with a line break, and never written where no terminal is.
func TestProgress(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	p := &progress{w: &out, now: func() time.Time { return now }}
	p.show("check", 10, 100)
	now = now.Add(100 * time.Millisecond)
	p.show("check", 20, 100) // too soon
	now = now.Add(200 * time.Millisecond)
	p.show("check", 30, 100)
	p.show("check", 100, 100) // the end is always shown
	p.done()
	p.show("write", 5, 10)
	p.done()
	if want := "\rchecking…  10%\rchecking…  30%\rchecking… 100%\n\rwriting… 5 of 10  50%\n"; out.String() != want {
		t.Errorf("progress wrote %q, want %q", out.String(), want)
	}
	quiet := newProgress(&out, time.Now)
	quiet.show("check", 1, 2)
	quiet.done()
	if isTerminal(&out) || quiet.w != nil || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("progress wrote to a buffer: %q", out.String())
	}
}
