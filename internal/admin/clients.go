package admin

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// The online services (OpenID Connect clients) and the ID token signing keys.

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func clientsAdd(e *env, fs *flag.FlagSet, args []string) error {
	var spec oidcop.ClientSpec
	var redirects, postLogout listFlag
	var scopes string
	fs.StringVar(&spec.ID, "id", "", "client id (1 to 64 letters, digits, '.', '_', '-')")
	fs.StringVar(&spec.Name, "name", "", "the online service's name, shown to citizens")
	fs.Var(&redirects, "redirect-uri", "redirect URI, matched exactly (repeat for several)")
	fs.Var(&postLogout, "post-logout-redirect-uri", "address to return to after logout (repeatable)")
	fs.BoolVar(&spec.Public, "public", false, "a public client (single-page or native app): no secret, PKCE only")
	fs.StringVar(&scopes, "scopes", strings.Join(oidcop.DefaultScopes, " "), "scopes the client may ask, space- or comma-separated")
	fs.StringVar(&spec.DefaultLevel, "default-level", "low", "level asked when a request has no acr_values: low, substantial or high")
	fs.BoolVar(&spec.Pairwise, "pairwise", false, "give this client its own subject identifier per citizen")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	spec.RedirectURIs, spec.PostLogoutRedirectURIs = redirects, postLogout
	spec.Scopes = strings.FieldsFunc(scopes, func(r rune) bool { return r == ' ' || r == ',' })
	c, secret, err := oidcop.AddClient(e.ctx, e.node.Store, rand.Reader, e.node.Now(), spec)
	if err != nil {
		return err
	}
	if err := e.operatorEvent(store.AuditEvent{Reason: "clients.add", Detail: map[string]string{"client": c.ID}}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "registered client %s (%s)\n", c.ID, c.Name)
	if secret != "" {
		fmt.Fprintf(e.stdout, "client secret: %s\n(shown only now: only its hash is stored; `admin clients rotate-secret %s` makes a new one)\n", secret, c.ID)
	}
	return nil
}

func clientsList(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	cs, err := e.node.Store.ListClients(e.ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tDEFAULT LEVEL\tREDIRECT URIS")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, clientType(c), c.DefaultLevel, strings.Join(c.RedirectURIs, " "))
	}
	return tw.Flush()
}

func clientType(c store.Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

// clientArg reads the one CLIENT-ID argument of a command.
func clientArg(fs *flag.FlagSet, args []string, usage string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", fmt.Errorf("%w: %s", ErrUsage, usage)
	}
	return fs.Arg(0), nil
}

// noClient words a missing client for the operator.
func noClient(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no client with id %q", id)
	}
	return err
}

func clientsShow(e *env, fs *flag.FlagSet, args []string) error {
	id, err := clientArg(fs, args, "clients show CLIENT-ID")
	if err != nil {
		return err
	}
	c, err := e.node.Store.GetClient(e.ctx, id)
	if err != nil {
		return noClient(id, err)
	}
	w := e.stdout
	fmt.Fprintf(w, "id:                        %s\n", c.ID)
	fmt.Fprintf(w, "name:                      %s\n", c.Name)
	fmt.Fprintf(w, "type:                      %s\n", clientType(c))
	fmt.Fprintf(w, "redirect URIs:             %s\n", strings.Join(c.RedirectURIs, " "))
	fmt.Fprintf(w, "post-logout redirect URIs: %s\n", strings.Join(c.PostLogoutRedirectURIs, " "))
	fmt.Fprintf(w, "scopes:                    %s\n", strings.Join(c.Scopes, " "))
	fmt.Fprintf(w, "default level:             %s\n", c.DefaultLevel)
	fmt.Fprintf(w, "subject identifiers:       %s\n", map[bool]string{true: "pairwise", false: "public"}[c.Pairwise])
	fmt.Fprintf(w, "registered:                %s\n", c.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "changed:                   %s\n", c.UpdatedAt.Format(time.RFC3339))
	return nil
}

func clientsRemove(e *env, fs *flag.FlagSet, args []string) error {
	id, err := clientArg(fs, args, "clients remove CLIENT-ID")
	if err != nil {
		return err
	}
	if err := e.node.Store.DeleteClient(e.ctx, id); err != nil {
		return noClient(id, err)
	}
	if err := e.operatorEvent(store.AuditEvent{Reason: "clients.remove", Detail: map[string]string{"client": id}}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed client %s\n", id)
	return nil
}

func clientsRotateSecret(e *env, fs *flag.FlagSet, args []string) error {
	id, err := clientArg(fs, args, "clients rotate-secret CLIENT-ID")
	if err != nil {
		return err
	}
	secret, err := oidcop.RotateClientSecret(e.ctx, e.node.Store, rand.Reader, e.node.Now(), id)
	if err != nil {
		return noClient(id, err)
	}
	if err := e.operatorEvent(store.AuditEvent{Reason: "clients.rotate_secret", Detail: map[string]string{"client": id}}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new client secret of %s: %s\n(shown only now; the old secret no longer works)\n", id, secret)
	return nil
}

func signingKeysRotate(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	k, err := e.node.OIDC.RotateSigningKey(e.ctx)
	if errors.Is(err, store.ErrConflict) {
		return errors.New("another node rotated the signing key at the same moment; see `admin signing-keys list`")
	}
	if err != nil {
		return err
	}
	if err := e.operatorEvent(store.AuditEvent{Reason: "signing_keys.rotate", Detail: map[string]string{"kid": k.ID}}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new signing key %s: published now, signs from %s\n", k.ID, k.ActiveFrom.Format(time.RFC3339))
	return nil
}

func signingKeysList(e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	ks, err := e.node.OIDC.SigningKeys(e.ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tGENERATION\tSTATE\tCREATED\tSIGNS FROM")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", k.ID, k.Generation, k.State, k.CreatedAt.Format(time.RFC3339), k.ActiveFrom.Format(time.RFC3339))
	}
	return tw.Flush()
}
