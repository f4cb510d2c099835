// Command sleutelbos is the Sleutelbos citizen login service: the server, its database
// migrations and the operator's admin commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sleutelbos/sleutelbos/internal/admin"
	"github.com/sleutelbos/sleutelbos/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sleutelbos:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) || errors.Is(err, admin.ErrUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

const usage = `Usage: sleutelbos COMMAND [flags]

Commands:
  serve     run the server (embedded SQLite under ./data unless --database-url is set)
  migrate   apply database migrations and exit
  version   print the version
  admin     operator tasks: users, tokencards, clients, signing-keys, mail, audit, secrets
            (sleutelbos admin help)

Run 'sleutelbos COMMAND --help' for the flags of a command. Every flag can also be set as a
SLEUTELBOS_* environment variable or as a key in the --config file.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return app.Serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return app.Migrate(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "sleutelbos", app.Version())
		return nil
	case "admin":
		return admin.Run(ctx, rest, getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
}
