package admin

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sleutelbos/sleutelbos/internal/account"
	"github.com/sleutelbos/sleutelbos/internal/app"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/outbox"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// ErrUsage marks a command line that does not fit; main exits with status 2 for it.
var ErrUsage = errors.New("usage")

const usage = `Usage: sleutelbos admin [config flags] COMMAND …

  users add --username U --name N --email E [--language nl|fr|de|en]   (password on stdin)
  users list
  users set-password USERNAME                                          (password on stdin)
  users import [--dry-run] FILE.csv  lines: username,name,email,language,password hash[,card serial,code1,…,code24]
                                    (hash: argon2id, bcrypt, PBKDF2 in PHC/passlib/Django form, or none; all or nothing)
  users export USERNAME [--output FILE]   everything held about a citizen, as JSON
  users delete USERNAME --reason "…"      delete a citizen; the audit log is kept, pseudonymised
  tokencards import FILE.csv        lines: username,serial,code1,…,code24 (all or nothing)
  tokencards print USERNAME         a demo card's codes (demo cards only)
  mail status                       counts by state, oldest pending
  mail retry ID | --failed          send a failed message again
  audit export [--after ID]         the audit log as JSON lines
  secrets generate                  values for --encryption-keys and --hash-key
  clients add --id ID --name NAME --redirect-uri URI [--redirect-uri …] [--post-logout-redirect-uri URI]
              [--public] [--scopes "openid profile email"] [--default-level low] [--pairwise]
                                    register an online service (prints its secret once)
  clients list | show ID | remove ID | rotate-secret ID
  signing-keys rotate               a new ID token signing key (published now, signs later)
  signing-keys list                 the signing keys and their state
` + phaseoutUsage + campaignUsage + helpdeskUsage + `
Config flags are those of 'sleutelbos serve' (for example --database-url, --data-dir).
`

// citizenStore is what the commands read about citizens themselves; the services they call
// (account, tokencard, outbox, audit) declare their own needs and get the node's store.
type citizenStore interface {
	ListAccounts(ctx context.Context, afterID int64, limit int) ([]store.Account, error)
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
}

var _ citizenStore = store.Store(nil)

// env is what every command works with.
type env struct {
	ctx      context.Context
	node     *app.Node
	citizens citizenStore
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	en       *i18n.Printer
}

// Run runs one admin command.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, rest, log, err := app.LoadConfig("admin", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) == 0 || rest[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(rest) == 0 {
			return fmt.Errorf("%w: no admin command given", ErrUsage)
		}
		return nil
	}
	if len(rest) >= 2 && rest[0] == "secrets" && rest[1] == "generate" {
		return secretsGenerate(stdout)
	}
	cmd, ok := commands[strings.Join(rest[:min(2, len(rest))], " ")]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown admin command %q", ErrUsage, strings.Join(rest, " "))
	}
	node, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer node.Close()
	e := &env{ctx: ctx, node: node, citizens: node.Store, stdin: stdin, stdout: stdout, stderr: stderr, en: node.Bundle.Printer("en")}
	fs := flag.NewFlagSet("admin "+strings.Join(rest[:2], " "), flag.ContinueOnError)
	fs.SetOutput(stderr)
	return cmd(e, fs, rest[2:])
}

var commands = map[string]func(*env, *flag.FlagSet, []string) error{
	"users add":          usersAdd,
	"users list":         usersList,
	"users set-password": usersSetPassword,
	"users import":       usersImport,
	"users export":       usersExport,
	"users delete":       usersDelete,
	"tokencards import":  tokencardsImport,
	"tokencards print":   tokencardsPrint,
	"mail status":        mailStatus,
	"mail retry":         mailRetry,
	"audit export":       auditExport,

	"clients add":           clientsAdd,
	"clients list":          clientsList,
	"clients show":          clientsShow,
	"clients remove":        clientsRemove,
	"clients rotate-secret": clientsRotateSecret,
	"signing-keys rotate":   signingKeysRotate,
	"signing-keys list":     signingKeysList,

	"phaseout set":   phaseoutSet,
	"phaseout show":  phaseoutShow,
	"phaseout clear": phaseoutClear,

	"users grant-operator":  usersGrantOperator,
	"users grant-helpdesk":  usersGrantHelpdesk,
	"users revoke-helpdesk": usersRevokeHelpdesk,
	"users revoke-operator": usersRevokeOperator,
	"users operators":       usersOperators,
	"phaseout report":       phaseoutReport,
	"phaseout at-risk":      phaseoutAtRisk,
	"phaseout remind":       phaseoutRemind,
}

// explain renders an error for the operator: LocalizedErrors in English, one per line.
func (e *env) explain(err error) error {
	var parts []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var le *i18n.LocalizedError
		if errors.As(err, &le) {
			parts = append(parts, e.en.T(le.Key, le.Args...))
			return
		}
		parts = append(parts, err.Error())
	}
	walk(err)
	return errors.New(strings.Join(parts, "\n"))
}

func (e *env) accounts() *account.Service {
	return account.New(e.node.Store, e.node.Passwords, e.node.Audit, e.node.Now)
}

func (e *env) operatorEvent(ev store.AuditEvent) error {
	ev.Type, ev.Actor = audit.OperatorAction, "operator"
	return e.node.Audit.Record(e.ctx, e.node.Store, ev)
}

// readSecret reads one line (a password) from stdin.
func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin (example: echo 'a long passphrase' | sleutelbos admin users add …)")
	}
	return line, nil
}

func usersAdd(e *env, fs *flag.FlagSet, args []string) error {
	var in account.NewAccount
	fs.StringVar(&in.Username, "username", "", "username (3–64 characters)")
	fs.StringVar(&in.Name, "name", "", "full name")
	fs.StringVar(&in.Email, "email", "", "e-mail address")
	fs.StringVar(&in.Language, "language", "nl", "preferred language: nl, fr, de or en")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	pw, err := readSecret(e.stdin)
	if err != nil {
		return err
	}
	in.Password = pw
	a, err := e.accounts().Create(e.ctx, in, "operator")
	if err != nil {
		return e.explain(err)
	}
	fmt.Fprintf(e.stdout, "created citizen %s (id %d)\n", a.Username, a.ID)
	return nil
}

func usersList(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tNAME\tE-MAIL\tLANGUAGE\tKEYS")
	var after int64
	for {
		page, err := e.citizens.ListAccounts(e.ctx, after, 500)
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		for _, a := range page {
			ks, err := e.citizens.ListKeys(e.ctx, a.ID)
			if err != nil {
				return fmt.Errorf("list users: %w", err)
			}
			kinds := []string{keys.Password}
			for _, k := range ks {
				kinds = append(kinds, k.Kind+"("+string(k.Status)+")")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Username, a.Name, a.Email, a.Language, strings.Join(kinds, " "))
			after = a.ID
		}
		if len(page) < 500 {
			break
		}
	}
	return tw.Flush()
}

func usersSetPassword(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: users set-password USERNAME (password on stdin)", ErrUsage)
	}
	pw, err := readSecret(e.stdin)
	if err != nil {
		return err
	}
	if err := e.accounts().SetPassword(e.ctx, fs.Arg(0), pw, "operator"); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no citizen with username %q", fs.Arg(0))
		}
		return e.explain(err)
	}
	fmt.Fprintf(e.stdout, "password of %s changed\n", fs.Arg(0))
	return nil
}

func tokencardsImport(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: tokencards import FILE.csv", ErrUsage)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("tokencards import: %w", err)
	}
	defer f.Close()
	cards, err := tokencard.ParseCSV(f)
	if err != nil {
		return fmt.Errorf("%s: nothing imported:\n%w", fs.Arg(0), err)
	}
	n, err := tokencard.Import(e.ctx, e.node.Store, e.node.Hasher, cards, e.node.Now())
	if err != nil {
		return fmt.Errorf("%s: nothing imported:\n%w", fs.Arg(0), err)
	}
	if err := e.operatorEvent(store.AuditEvent{KeyKind: keys.TokenCard, Reason: "tokencards.import",
		Detail: map[string]string{"file": fs.Arg(0), "cards": strconv.Itoa(n)}}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %d token cards from %s\n", n, fs.Arg(0))
	return nil
}

func tokencardsPrint(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: tokencards print USERNAME", ErrUsage)
	}
	a, err := e.citizens.GetAccountByUsername(e.ctx, fs.Arg(0))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no citizen with username %q", fs.Arg(0))
	} else if err != nil {
		return err
	}
	ks, err := e.citizens.ListKeys(e.ctx, a.ID)
	if err != nil {
		return err
	}
	printed := 0
	for _, k := range ks {
		if k.Kind != keys.TokenCard {
			continue
		}
		if !strings.HasPrefix(k.Serial, demo.SerialPrefix) {
			fmt.Fprintf(e.stdout, "card %s (%s): not a demo card; its codes are only on the citizen's paper card\n", k.Serial, k.Status)
			continue
		}
		codes := tokencard.DemoCodes(demo.Seed(e.node.Hasher), k.Serial)
		fmt.Fprintf(e.stdout, "card %s (%s)\n", k.Serial, k.Status)
		for i, c := range codes {
			fmt.Fprintf(e.stdout, "  %2d: %s", i+1, c)
			if i%6 == 5 {
				fmt.Fprintln(e.stdout)
			}
		}
		printed++
	}
	if printed == 0 {
		return fmt.Errorf("%s has no demo token card (only cards created by serve --demo can be printed)", a.Username)
	}
	return nil
}

func mailStatus(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return outbox.Status(e.ctx, e.node.Store, e.stdout)
}

func mailRetry(e *env, fs *flag.FlagSet, args []string) error {
	failed := fs.Bool("failed", false, "retry every failed message")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var id int64
	switch {
	case *failed && fs.NArg() == 0:
	case !*failed && fs.NArg() == 1:
		var err error
		if id, err = strconv.ParseInt(fs.Arg(0), 10, 64); err != nil || id <= 0 {
			return fmt.Errorf("%w: mail retry: %q is not a message id (a positive number)", ErrUsage, fs.Arg(0))
		}
	default:
		return fmt.Errorf("%w: mail retry ID | --failed", ErrUsage)
	}
	if err := outbox.Retry(e.ctx, e.node.Store, e.stdout, id, *failed, e.node.Now()); err != nil {
		return err
	}
	return e.operatorEvent(store.AuditEvent{Reason: "mail.retry", Detail: map[string]string{"id": strconv.FormatInt(id, 10), "failed": strconv.FormatBool(*failed)}})
}

func auditExport(e *env, fs *flag.FlagSet, args []string) error {
	after := fs.Int64("after", 0, "export events with an id above this one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := audit.Export(e.ctx, e.node.Store, e.stdout, *after)
	return err
}

func secretsGenerate(w io.Writer) error {
	enc, hk, err := app.GenerateSecrets(rand.Reader)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "encryption-keys = %s\nhash-key = %s\n", enc, hk)
	return nil
}
