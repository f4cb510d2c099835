package admin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/account"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// shown is how many problems (or skipped usernames) a command prints before "and N more".
const shown = 50

// parseWithArgs parses flags that may come before or after the positional arguments
// ("users delete anna --reason …"), which flag.FlagSet alone stops at, and returns those.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func usersImport(e *env, fs *flag.FlagSet, args []string) error {
	dryRun := fs.Bool("dry-run", false, "check the file and report, write nothing")
	rest, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: users import [--dry-run] FILE.csv", ErrUsage)
	}
	name := rest[0]
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("users import: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("users import: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("users import: %s is not a regular file (the import reads it twice)", name)
	}
	im := account.NewImporter(e.node.Store, e.node.Hasher, e.node.Passwords.Params(), e.en.Error, e.node.Now)
	prog := newProgress(e.stderr, e.node.Now)
	im.Progress = prog.show
	report, err := im.Check(e.ctx, f, fi.Size())
	prog.done()
	if err != nil {
		return err
	}
	printChecked(e.stdout, name, report)
	if !report.OK() {
		var sb strings.Builder
		for _, p := range report.Problems[:min(len(report.Problems), shown)] {
			fmt.Fprintf(&sb, "\n%s", p)
		}
		if more := report.ProblemCount - min(len(report.Problems), shown); more > 0 {
			fmt.Fprintf(&sb, "\n… and %d more", more)
		}
		return fmt.Errorf("%s: %d %s, nothing imported:%s", name, report.ProblemCount, plural(report.ProblemCount, "problem", "problems"), sb.String())
	}
	switch {
	case report.New == 0 && report.SkippedCount == 0:
		return fmt.Errorf("%s holds no citizens: nothing imported", name)
	case *dryRun:
		fmt.Fprintln(e.stdout, "dry run: nothing written")
		return nil
	case report.New == 0:
		fmt.Fprintf(e.stdout, "nothing new to import from %s\n", name)
		return nil
	}
	fmt.Fprintf(e.stdout, "writing %d citizens in one transaction…\n", report.New)
	done, err := im.Import(e.ctx, f, report, filepath.Base(name))
	prog.done()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "imported %d %s (%d with a token card) from %s", done.New, plural(done.New, "citizen", "citizens"), done.Cards, name)
	if done.SkippedCount > report.SkippedCount {
		fmt.Fprintf(e.stdout, "; %d more usernames were taken meanwhile and skipped", done.SkippedCount-report.SkippedCount)
	}
	fmt.Fprintln(e.stdout)
	// Every failed logon costs what the dearest hash class in use costs (password.Hasher
	// equalises to it): the operator should know what the import made of that.
	class, took, err := e.node.Passwords.FailureCost(e.ctx)
	if err != nil {
		return fmt.Errorf("%s: imported, but measuring what a failed logon costs: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "a failed logon now takes about %s here (the dearest password hash class in use, %s)\n",
		took.Round(time.Millisecond), class)
	return nil
}

// printChecked prints what checking found: the counts, the skipped usernames and the password
// hash formats of the new citizens.
func printChecked(w io.Writer, name string, r *account.Report) {
	fmt.Fprintf(w, "%s: %d lines; %d new %s (%d with a token card), %d already %s (skipped)\n", name, r.Lines,
		r.New, plural(r.New, "citizen", "citizens"), r.Cards, r.SkippedCount, plural(r.SkippedCount, "exists", "exist"))
	for _, s := range r.Skipped[:min(len(r.Skipped), shown)] {
		fmt.Fprintf(w, "  line %d: username %s is taken: skipped\n", s.Line, s.Username)
	}
	if more := r.SkippedCount - min(len(r.Skipped), shown); more > 0 {
		fmt.Fprintf(w, "  … and %d more skipped\n", more)
	}
	if len(r.Formats) > 0 {
		var parts []string
		for f, n := range r.Formats {
			parts = append(parts, fmt.Sprintf("%s %d", f, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "password hashes of the new citizens: %s\n", strings.Join(parts, ", "))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// progress shows a pass's progress on one line of a terminal, rewritten at most four times a
// second; elsewhere (a pipe, a file, a log) it shows nothing.
type progress struct {
	w     io.Writer // nil: not a terminal
	now   func() time.Time
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	p := &progress{now: now}
	if isTerminal(w) {
		p.w = w
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) show(phase string, done, total int64) {
	if p.w == nil {
		return
	}
	now := p.now()
	if now.Sub(p.last) < 250*time.Millisecond && done < total {
		return
	}
	p.last = now
	pct := ""
	if total > 0 {
		pct = fmt.Sprintf(" %3d%%", done*100/total)
	}
	switch phase {
	case "check":
		fmt.Fprintf(p.w, "\rchecking…%s", pct)
	default:
		fmt.Fprintf(p.w, "\rwriting… %d of %d%s", done, total, pct)
	}
	p.shown = true
}

// done ends the progress line.
func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
	p.last = time.Time{} // the next pass shows its start at once
}

func usersExport(e *env, fs *flag.FlagSet, args []string) error {
	output := fs.String("output", "", "write the JSON to this file (default: standard output)")
	rest, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: users export USERNAME [--output FILE]", ErrUsage)
	}
	a, err := e.citizens.GetAccountByUsername(e.ctx, rest[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no citizen with username %q", rest[0])
	} else if err != nil {
		return err
	}
	if *output == "" {
		if err := account.Export(e.ctx, e.node.Store, e.stdout, a.Username, e.node.Now()); err != nil {
			return err
		}
		return e.operatorEvent(store.AuditEvent{AccountID: a.ID, Reason: "users.export"})
	}
	// A new file only readable by its owner (personal data), removed again when the export fails.
	f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("users export: %w", err)
	}
	err = account.Export(e.ctx, e.node.Store, f, a.Username, e.node.Now())
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("users export: %w", cerr)
	}
	if err != nil {
		os.Remove(*output)
		return err
	}
	return e.operatorEvent(store.AuditEvent{AccountID: a.ID, Reason: "users.export", Detail: map[string]string{"file": *output}})
}

func usersDelete(e *env, fs *flag.FlagSet, args []string) error {
	reason := fs.String("reason", "", "why the citizen is deleted (required; kept in the audit log)")
	rest, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: users delete USERNAME --reason \"…\"", ErrUsage)
	}
	d, err := account.Delete(e.ctx, e.node.Store, e.node.Hasher, e.node.Audit, rest[0], *reason, audit.ActorOperator)
	switch {
	case errors.Is(err, account.ErrNoReason):
		return fmt.Errorf("%w: %v", ErrUsage, err)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no citizen with username %q", rest[0])
	case err != nil:
		return err
	}
	fmt.Fprintf(e.stdout, "deleted citizen %s (account %d) with its keys, codes, sessions and e-mails; "+
		"its audit events are kept under the pseudonym %s\n", d.Username, d.AccountID, strconv.FormatInt(d.Pseudonym, 10))
	return nil
}
