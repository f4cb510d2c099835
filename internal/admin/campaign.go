package admin

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/campaign"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// campaignUsage is the part of the usage about operators and phase-out campaigns.
const campaignUsage = `  users grant-operator USERNAME     the operator role: the operator pages (/operator) after a substantial logon
  users revoke-operator USERNAME    take the operator role away (acts at once, also on open sessions)
  users operators                   the accounts with the operator role
  phaseout report KIND [--format text|json|csv]
                                    a kind's campaign: active keys by last use, citizens at risk, the pop-up's
                                    choices, migrations per day; the figures of the operator page
  phaseout at-risk KIND             the citizens at risk, as CSV (username,name,email,language,last_used)
  phaseout remind KIND [--new-round]
                                    the reminder e-mail to every citizen at risk, once per round; an interrupted
                                    round is continued; a finished one is only repeated with --new-round
`

// roleStore is what granting and revoking a role writes, in one transaction with its event.
type roleStore interface {
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	GrantRole(ctx context.Context, g store.RoleGrant) (bool, error)
	RevokeRole(ctx context.Context, accountID int64, role string) (bool, error)
	ListRoles(ctx context.Context, role string) ([]store.RoleGrant, error)
	LatestCode(ctx context.Context, accountID int64, purpose store.CodePurpose) (store.Code, error)
	UseCode(ctx context.Context, id int64, at time.Time) (bool, error)
	audit.Appender
}

var _ roleStore = store.Store(nil)

func usersGrantOperator(e *env, fs *flag.FlagSet, args []string) error {
	return changeRole(e, fs, args, "users grant-operator USERNAME", store.RoleOperator, true)
}

func usersRevokeOperator(e *env, fs *flag.FlagSet, args []string) error {
	return changeRole(e, fs, args, "users revoke-operator USERNAME", store.RoleOperator, false)
}

// roleNotes say, when a role is granted, what it needs.
var roleNotes = map[string]string{
	store.RoleOperator: " (the operator pages need a logon at level substantial)",
	store.RoleHelpdesk: " (the helpdesk console needs a logon at level substantial)",
}

// voidRecoveryCode uses up the account's unused recovery code, if it has one.
func voidRecoveryCode(ctx context.Context, tx roleStore, accountID int64, now time.Time) error {
	rc, err := tx.LatestCode(ctx, accountID, store.CodeRecovery)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recovery code: %w", err)
	}
	if rc.UsedAt.IsZero() {
		if _, err := tx.UseCode(ctx, rc.ID, now); err != nil {
			return fmt.Errorf("void recovery code: %w", err)
		}
	}
	return nil
}

// changeRole grants or revokes role (the operator's, the helpdesk's), and records it, in one
// transaction.
func changeRole(e *env, fs *flag.FlagSet, args []string, use, role string, grant bool) error {
	rest, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: %s", ErrUsage, use)
	}
	username := rest[0]
	changed := false
	err = store.InTx(e.ctx, e.node.Store, func(tx roleStore) error {
		a, err := tx.GetAccountByUsername(e.ctx, username)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no citizen with username %q", username)
		}
		if err != nil {
			return err
		}
		username = a.Username
		action := "role_revoked"
		if grant {
			action = "role_granted"
			changed, err = tx.GrantRole(e.ctx, store.RoleGrant{AccountID: a.ID, Role: role, GrantedAt: e.node.Now(), GrantedBy: "admin"})
			if err == nil {
				// A recovery code a helpdesk agent issued while this was an ordinary citizen
				// would let that agent take over an account the helpdesk may not act on.
				err = voidRecoveryCode(e.ctx, tx, a.ID, e.node.Now())
			}
		} else {
			changed, err = tx.RevokeRole(e.ctx, a.ID, role)
		}
		if err != nil || !changed {
			return err
		}
		return e.node.Audit.Record(e.ctx, tx, store.AuditEvent{Type: audit.OperatorAction, Actor: audit.ActorOperator, AccountID: a.ID,
			Detail: map[string]string{"action": action, "role": role, "by": "admin"}})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Fields(use)[1], err)
	}
	switch {
	case grant && changed:
		fmt.Fprintf(e.stdout, "%s now has the %s role%s\n", username, role, roleNotes[role])
	case grant:
		fmt.Fprintf(e.stdout, "%s already has the %s role\n", username, role)
	case changed:
		fmt.Fprintf(e.stdout, "%s no longer has the %s role\n", username, role)
	default:
		fmt.Fprintf(e.stdout, "%s did not have the %s role\n", username, role)
	}
	return nil
}

func usersOperators(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: users operators", ErrUsage)
	}
	grants, err := e.node.Store.ListRoles(e.ctx, store.RoleOperator)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tGRANTED\tBY")
	for _, g := range grants {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Username, phaseout.Format(g.GrantedAt), g.GrantedBy)
	}
	return tw.Flush()
}

// campaignErr words a campaign error for the command line.
func (e *env) campaignErr(cmd, kind string, err error) error {
	var fin *campaign.RoundFinishedError
	switch {
	case errors.As(err, &fin):
		return fmt.Errorf("%s %s: %w (run again with --new-round)", cmd, kind, e.explain(err))
	case errors.Is(err, campaign.ErrUnknownKind):
		return fmt.Errorf("%s %s: %w (kinds: %s)", cmd, kind, e.explain(err), strings.Join(e.node.Campaigns.Kinds(), ", "))
	}
	return fmt.Errorf("%s %s: %w", cmd, kind, e.explain(err))
}

func phaseoutReport(e *env, fs *flag.FlagSet, args []string) error {
	format := fs.String("format", "text", "text, json or csv")
	kind, err := kindArg(fs, args, "phaseout report KIND [--format text|json|csv]")
	if err != nil {
		return err
	}
	switch *format {
	case "text", "json", "csv":
	default:
		return fmt.Errorf("%w: phaseout report: --format must be text, json or csv, not %q", ErrUsage, *format)
	}
	r, err := e.node.Campaigns.Report(e.ctx, kind)
	if err != nil {
		return e.campaignErr("phaseout report", kind, err)
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "csv":
		return reportCSV(e.stdout, r)
	}
	return reportText(e.stdout, r)
}

// reportFigures are the report's figures as name/value pairs, in the order the text shows them
// (the CSV format).
func reportFigures(r *campaign.Report) [][2]string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	out := [][2]string{{"kind", r.Kind}, {"generated_at", at(r.GeneratedAt)}, {"phase", r.Phase}}
	if r.HasPolicy {
		out = append(out, [2]string{"policy.activation_closed_from", at(r.Policy.ActivationClosedFrom)},
			[2]string{"policy.migration_prompt_from", at(r.Policy.MigrationPromptFrom)},
			[2]string{"policy.disabled_from", at(r.Policy.DisabledFrom)})
	}
	out = append(out, [2]string{"active", n(r.Active)})
	for _, b := range r.LastUse {
		out = append(out, [2]string{"last_use." + b.Name, n(b.Citizens)})
	}
	out = append(out, [2]string{"at_risk", n(r.AtRisk)},
		[2]string{"funnel.prompts_shown", n(r.Funnel.PromptsShown)})
	for _, c := range r.Funnel.Choices {
		out = append(out, [2]string{"funnel.choice." + c.Choice, n(c.Events)})
	}
	out = append(out, [2]string{"funnel.migrated", n(r.Funnel.Migrated)})
	for _, m := range r.Migrations {
		out = append(out, [2]string{"migrations." + m.Day + "." + m.Target, n(m.Count)})
	}
	if rd := r.Round; rd != nil {
		out = append(out, [2]string{"round.number", strconv.Itoa(rd.Number)}, [2]string{"round.started_at", at(rd.StartedAt)},
			[2]string{"round.finished_at", at(rd.FinishedAt)}, [2]string{"round.reminded", n(rd.Reminded)})
	}
	return out
}

func reportCSV(w io.Writer, r *campaign.Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"figure", "value"}); err != nil {
		return err
	}
	for _, f := range reportFigures(r) {
		if err := cw.Write(f[:]); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// bucketNames words the last-use buckets for the text report.
var bucketNames = map[string]string{
	"never": "never used", "month": "less than 1 month ago", "half_year": "1 to 6 months ago",
	"year": "6 to 12 months ago", "older": "more than 12 months ago",
}

func reportText(w io.Writer, r *campaign.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	day := func(t time.Time) string {
		if t.IsZero() {
			return "not set"
		}
		return phaseout.Format(t)
	}
	fmt.Fprintf(tw, "Phase-out campaign of %s, %s\n", r.Kind, phaseout.Format(r.GeneratedAt))
	fmt.Fprintf(tw, "phase now\t%s\n", r.Phase)
	if r.HasPolicy {
		fmt.Fprintf(tw, "activation closed from\t%s\n", day(r.Policy.ActivationClosedFrom))
		fmt.Fprintf(tw, "migration pop-up from\t%s\n", day(r.Policy.MigrationPromptFrom))
		fmt.Fprintf(tw, "switched off from\t%s\n", day(r.Policy.DisabledFrom))
	} else {
		fmt.Fprintf(tw, "policy\tnone (phaseout set %s …)\n", r.Kind)
	}
	fmt.Fprintf(tw, "\nCitizens with an active key\t%d\n", r.Active)
	for _, b := range r.LastUse {
		fmt.Fprintf(tw, "  last used %s\t%d\n", bucketNames[b.Name], b.Citizens)
	}
	fmt.Fprintf(tw, "At risk (no active %s)\t%d\n", strings.Join(r.AtRiskOthers, ", "), r.AtRisk)
	fmt.Fprintf(tw, "\nPhase-out pop-up\ttimes\n")
	fmt.Fprintf(tw, "  shown\t%d\n", r.Funnel.PromptsShown)
	for _, c := range r.Funnel.Choices {
		fmt.Fprintf(tw, "  chose %s\t%d\n", c.Choice, c.Events)
	}
	fmt.Fprintf(tw, "  keys replaced by a new key\t%d\n", r.Funnel.Migrated)
	if len(r.Migrations) > 0 {
		fmt.Fprintf(tw, "\nMigrations per day (%s)\t%s\n", phaseout.Zone, strings.Join(r.Targets, "\t"))
		byDay := map[string]map[string]int64{}
		var days []string
		for _, m := range r.Migrations {
			if byDay[m.Day] == nil {
				byDay[m.Day] = map[string]int64{}
				days = append(days, m.Day)
			}
			byDay[m.Day][m.Target] += m.Count
		}
		for _, d := range days {
			cells := make([]string, len(r.Targets))
			for i, t := range r.Targets {
				cells[i] = strconv.FormatInt(byDay[d][t], 10)
			}
			fmt.Fprintf(tw, "  %s\t%s\n", d, strings.Join(cells, "\t"))
		}
	} else {
		fmt.Fprintln(tw, "\nMigrations per day\tnone yet")
	}
	if rd := r.Round; rd != nil {
		state := "not finished (phaseout remind " + r.Kind + " continues it)"
		if !rd.FinishedAt.IsZero() {
			state = "finished " + phaseout.Format(rd.FinishedAt)
		}
		fmt.Fprintf(tw, "\nReminder round %d\tstarted %s by %s, %d reminders, %s\n", rd.Number, phaseout.Format(rd.StartedAt), rd.StartedBy, rd.Reminded, state)
	}
	return tw.Flush()
}

func phaseoutAtRisk(e *env, fs *flag.FlagSet, args []string) error {
	kind, err := kindArg(fs, args, "phaseout at-risk KIND")
	if err != nil {
		return err
	}
	op := campaign.Operator{Name: "admin"}
	if err := e.node.Campaigns.Record(e.ctx, op, "at_risk_csv", kind, nil); err != nil {
		return e.campaignErr("phaseout at-risk", kind, err)
	}
	if err := e.node.Campaigns.WriteAtRiskCSV(e.ctx, kind, e.stdout); err != nil {
		return e.campaignErr("phaseout at-risk", kind, err)
	}
	return nil
}

func phaseoutRemind(e *env, fs *flag.FlagSet, args []string) error {
	newRound := fs.Bool("new-round", false, "after a finished round, start another: every citizen still at risk gets one more e-mail")
	batch := fs.Int("batch", 500, "citizens reminded per transaction")
	kind, err := kindArg(fs, args, "phaseout remind KIND [--new-round]")
	if err != nil {
		return err
	}
	if *batch < 1 || *batch > 5000 {
		return fmt.Errorf("%w: phaseout remind: --batch must be between 1 and 5000", ErrUsage)
	}
	started := time.Now() // the rate is a measurement of this run, not a rule: the wall clock
	tty, shown, last := isTerminal(e.stderr), false, time.Time{}
	res, err := e.node.Campaigns.Remind(e.ctx, kind, campaign.RemindOptions{NewRound: *newRound, Batch: *batch,
		Operator: campaign.Operator{Name: "admin"},
		Progress: func(sent int64) {
			if tty && time.Since(last) > 250*time.Millisecond {
				fmt.Fprintf(e.stderr, "\rreminded %d…", sent)
				shown, last = true, time.Now()
			}
		}})
	if shown {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		if res.Sent > 0 {
			fmt.Fprintf(e.stdout, "round %d of %s: %d reminders enqueued before it stopped; run the command again to continue the round\n",
				res.Round.Number, kind, res.Sent)
		}
		return e.campaignErr("phaseout remind", kind, err)
	}
	took := time.Since(started)
	verb := "started"
	if res.Resumed {
		verb = "continued"
	}
	fmt.Fprintf(e.stdout, "round %d of %s %s: %d reminders enqueued in %s (%.0f a second)", res.Round.Number, kind, verb, res.Sent,
		took.Round(time.Millisecond), float64(res.Sent)/max(took.Seconds(), 1e-9))
	if res.Skipped > 0 {
		fmt.Fprintf(e.stdout, ", %d citizens at risk skipped (no usable e-mail address)", res.Skipped)
	}
	fmt.Fprintf(e.stdout, "; the round has reminded %d citizens and is finished\n", res.Round.Reminded)
	return nil
}
