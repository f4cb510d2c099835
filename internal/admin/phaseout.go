package admin

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// phaseoutUsage is the part of the usage about phase-out policies.
const phaseoutUsage = `  phaseout set KIND [--activation-closed-from T] [--migration-prompt-from T] [--disabled-from T]
               [--deactivate-unused-after 12mo] [--confirm]
                                    a key kind's phase-out (T: 2024-01-31 = midnight Brussels, or RFC 3339);
                                    replaces the kind's policy; --confirm when citizens would be cut off
  phaseout show                     every policy, its phase now
  phaseout clear KIND               remove a kind's policy
`

// kindArg takes KIND from before the flags (flag parsing stops at the first argument) or after.
func kindArg(fs *flag.FlagSet, args []string, usage string) (string, error) {
	kind := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		kind, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if kind == "" && fs.NArg() == 1 {
		kind = fs.Arg(0)
	} else if fs.NArg() != 0 || kind == "" {
		return "", fmt.Errorf("%w: %s", ErrUsage, usage)
	}
	return kind, nil
}

func phaseoutSet(e *env, fs *flag.FlagSet, args []string) error {
	closed := fs.String("activation-closed-from", "", "from then on no new keys of the kind (date = midnight Brussels, or RFC 3339)")
	prompt := fs.String("migration-prompt-from", "", "from then on choosing the kind shows the migration pop-up")
	disabled := fs.String("disabled-from", "", "from then on the kind is not offered and its keys are expired")
	unused := fs.String("deactivate-unused-after", "", "deactivate keys of the kind unused this long (12mo, 1y)")
	confirm := fs.Bool("confirm", false, "set a policy that leaves citizens without another active substantial key")
	kind, err := kindArg(fs, args, "phaseout set KIND [--activation-closed-from T] [--migration-prompt-from T] [--disabled-from T] [--deactivate-unused-after 12mo] [--confirm]")
	if err != nil {
		return err
	}
	p := phaseout.Policy{Kind: kind}
	var errs []error
	for _, f := range []struct {
		name, val string
		dst       *phaseout.Policy
		set       func(*phaseout.Policy, string) error
	}{
		{"--activation-closed-from", *closed, &p, func(p *phaseout.Policy, v string) (err error) {
			p.ActivationClosedFrom, err = phaseout.ParseInstant(v)
			return err
		}},
		{"--migration-prompt-from", *prompt, &p, func(p *phaseout.Policy, v string) (err error) {
			p.MigrationPromptFrom, err = phaseout.ParseInstant(v)
			return err
		}},
		{"--disabled-from", *disabled, &p, func(p *phaseout.Policy, v string) (err error) {
			p.DisabledFrom, err = phaseout.ParseInstant(v)
			return err
		}},
		{"--deactivate-unused-after", *unused, &p, func(p *phaseout.Policy, v string) (err error) {
			p.UnusedMonths, err = phaseout.ParseMonths(v)
			return err
		}},
	} {
		if err := f.set(f.dst, f.val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	imp, err := e.node.Phaseout.Set(e.ctx, p, *confirm)
	if err == nil || errors.Is(err, phaseout.ErrNeedsConfirm) {
		verb := "are"
		if err != nil {
			verb = "would be"
		}
		if imp.Restored > 0 {
			fmt.Fprintf(e.stdout, "%d %s key(s) expired by the earlier switch-off %s active again.\n", imp.Restored, p.Kind, verb)
		}
		if !p.DisabledFrom.IsZero() {
			fmt.Fprintf(e.stdout, "%d citizen(s) have an active %s key and no active key of another substantial kind (%s):\n"+
				"from %s they cannot log on at level substantial unless they activate another key.\n",
				imp.Stranded, p.Kind, strings.Join(imp.Others, ", "), phaseout.Format(p.DisabledFrom))
		}
	}
	if err != nil {
		return err
	}
	if p.UnusedMonths > 0 {
		fmt.Fprintf(e.stdout, "%d %s key(s) are due for the unused-key warning now: the next job run warns them, "+
			"and deactivates them no sooner than 14 days later unless they are used.\n", imp.WarnNow, p.Kind)
	}
	fmt.Fprintf(e.stdout, "phase-out policy of %s set\n", p.Kind)
	return printPolicies(e, []phaseout.Policy{p})
}

func phaseoutShow(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: phaseout show", ErrUsage)
	}
	list, err := e.node.Phaseout.List(e.ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no phase-out policies: every key kind is in use")
		return nil
	}
	return printPolicies(e, list)
}

func printPolicies(e *env, list []phaseout.Policy) error {
	now := e.node.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tPHASE NOW\tACTIVATION CLOSED FROM\tMIGRATION PROMPT FROM\tDISABLED FROM\tDEACTIVATE UNUSED AFTER")
	for _, p := range list {
		unused := "-"
		if p.UnusedMonths > 0 {
			unused = fmt.Sprintf("%d months", p.UnusedMonths)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Kind, phaseout.Decide(p, now), phaseout.Format(p.ActivationClosedFrom),
			phaseout.Format(p.MigrationPromptFrom), phaseout.Format(p.DisabledFrom), unused)
	}
	return tw.Flush()
}

func phaseoutClear(e *env, fs *flag.FlagSet, args []string) error {
	kind, err := kindArg(fs, args, "phaseout clear KIND")
	if err != nil {
		return err
	}
	restored, err := e.node.Phaseout.Clear(e.ctx, kind)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("key kind %q has no phase-out policy", kind)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "phase-out policy of %s removed\n", kind)
	if restored > 0 {
		fmt.Fprintf(e.stdout, "%d %s key(s) expired by its switch-off are active again\n", restored, kind)
	}
	return nil
}
