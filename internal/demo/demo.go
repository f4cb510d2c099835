package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// SerialPrefix starts the serial of every demo token card; `admin tokencards print` only
// prints cards with it, since real cards' codes are never kept.
const SerialPrefix = "DEMO-"

// Hasher hashes passwords (internal/password).
type Hasher interface {
	Hash(ctx context.Context, plain string) (string, error)
}

// Deps are what demo needs from the node.
type Deps struct {
	Passwords Hasher
	Hasher    *secrets.Hasher
	TOTP      *totp.Kind
	Now       func() time.Time
}

// Citizen is the printable description of one demo citizen.
type Citizen struct {
	Username, Password, Name, Email, Language string
	// Kinds lists the key kinds the citizen has.
	Kinds      []string
	CardSerial string
	CardCodes  [tokencard.Positions]string
	TOTPSecret string // base32, grouped for reading; empty without a totp key
	// TOTPURI is the otpauth:// URI of the totp key, for an authenticator app (empty without).
	TOTPURI string
	// Role is a role the citizen holds besides being a citizen (store.RoleHelpdesk), or "".
	Role string
}

type spec struct {
	username, password, name, email, lang string
	card, email2, app                     bool
	role                                  string
}

// citizens: "demo" has every key; "token" has only a paper card, to walk the phase-out; "anna"
// (English), "bram" (Dutch) and "chloe" (French) have only a paper card too, to walk My
// digital keys without touching the others.
var citizens = []spec{
	{"demo", "demo-password-1", "Demo Citizen", "demo@example.org", "en", true, true, true, ""},
	{"token", "token-password-1", "Tessa Token", "token@example.org", "nl", true, false, false, ""},
	{"anna", "anna-password-1", "Anna Janssens", "anna@example.org", "en", true, false, false, ""},
	{"bram", "bram-password-1", "Bram Peeters", "bram@example.org", "nl", true, false, false, ""},
	{"chloe", "chloe-password-1", "Chloé Dubois", "chloe@example.org", "fr", true, false, false, ""},
	// "dora" (English) and "emile" (French) forget their password; "frank" (Dutch) locks himself
	// out, and "helga" of the helpdesk explains and fixes it (issue 12).
	{"dora", "dora-password-1", "Dora Dewulf", "dora@example.org", "en", true, false, false, ""},
	{"emile", "emile-password-1", "Émile Lambert", "emile@example.org", "fr", true, false, false, ""},
	{"frank", "frank-password-1", "Frank Maes", "frank@example.org", "nl", true, false, false, ""},
	{"helga", "helga-password-1", "Helga Helpdesk", "helga@example.org", "en", true, false, false, store.RoleHelpdesk},
}

// Store is the storage the demo uses: it looks the demo citizens up and creates those missing,
// each with its keys in one transaction.
type Store interface {
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	store.Transactor
}

// createStore is what creating one citizen takes, inside its transaction.
type createStore interface {
	CreateAccount(ctx context.Context, a *store.Account) error
	CreateKey(ctx context.Context, k *store.Key) error
	GrantRole(ctx context.Context, g store.RoleGrant) (bool, error)
}

var (
	_ Store       = store.Store(nil)
	_ createStore = store.Store(nil)
)

// Seed derives the demo seed from the node's hash key.
func Seed(h *secrets.Hasher) []byte { return h.Sum("demo-seed") }

// Ensure creates the demo citizens that do not exist yet and returns all of them.
func Ensure(ctx context.Context, st Store, d Deps) ([]Citizen, error) {
	seed := Seed(d.Hasher)
	var out []Citizen
	for _, c := range citizens {
		cz := Citizen{Username: c.username, Password: c.password, Name: c.name, Email: c.email, Language: c.lang, Role: c.role}
		if c.card {
			cz.Kinds = append(cz.Kinds, "tokencard")
			cz.CardSerial = SerialPrefix + strings.ToUpper(c.username)
			cz.CardCodes = tokencard.DemoCodes(seed, cz.CardSerial)
		}
		if c.email2 {
			cz.Kinds = append(cz.Kinds, "emailcode")
		}
		var secret []byte
		if c.app {
			cz.Kinds = append(cz.Kinds, "totp")
			secret = totp.NewSecretForDemo(seed, c.username)
			cz.TOTPSecret = totp.GroupedSecret(secret)
			uri, err := d.TOTP.URI(c.username, secret)
			if err != nil {
				return nil, fmt.Errorf("demo citizen %s: %w", c.username, err)
			}
			cz.TOTPURI = uri
		}
		if err := ensureOne(ctx, st, d, c, cz, secret); err != nil {
			return nil, fmt.Errorf("demo citizen %s: %w", c.username, err)
		}
		out = append(out, cz)
	}
	return out, nil
}

func ensureOne(ctx context.Context, st Store, d Deps, c spec, cz Citizen, secret []byte) error {
	if _, err := st.GetAccountByUsername(ctx, c.username); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	hash, err := d.Passwords.Hash(ctx, c.password)
	if err != nil {
		return err
	}
	now := d.Now()
	err = store.InTx(ctx, st, func(tx createStore) error {
		a := store.Account{Username: c.username, Name: c.name, Email: c.email, Language: c.lang, PasswordHash: hash}
		if err := tx.CreateAccount(ctx, &a); err != nil {
			return err
		}
		if c.card {
			k, err := tokencard.NewKey(d.Hasher, a.ID, cz.CardSerial, cz.CardCodes, now)
			if err != nil {
				return err
			}
			if err := tx.CreateKey(ctx, &k); err != nil {
				return err
			}
		}
		if c.email2 {
			k := store.Key{AccountID: a.ID, Kind: "emailcode", Status: store.KeyActive, CreatedAt: now, ActivatedAt: now}
			if err := tx.CreateKey(ctx, &k); err != nil {
				return err
			}
		}
		if secret != nil {
			k, err := d.TOTP.NewKey(a.ID, secret, now)
			if err != nil {
				return err
			}
			if err := tx.CreateKey(ctx, &k); err != nil {
				return err
			}
		}
		if c.role != "" {
			if _, err := tx.GrantRole(ctx, store.RoleGrant{AccountID: a.ID, Role: c.role, GrantedAt: now, GrantedBy: "demo"}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return nil // another node created it at the same moment
	}
	return err
}

// PrintOptions say what else Print shows.
type PrintOptions struct {
	// MailboxURL is the full address of the development mailbox; empty when it is not served.
	MailboxURL string
	// ANSI colours the QR codes dark on light, for a terminal whose own colours are unknown.
	// Without it, light modules are drawn as blocks: right on a dark terminal background.
	ANSI bool
}

// Print writes the demo credentials for a newcomer: usernames and passwords, each token
// card's codes, each authenticator app secret as base32, as otpauth:// URI and as a QR code to
// scan from the terminal, and where e-mailed codes can be read.
func Print(w io.Writer, cs []Citizen, opts PrintOptions) error {
	fmt.Fprintln(w, "Demo citizens (for trying Sleutelbos only — never use demo mode with real people):")
	for _, c := range cs {
		fmt.Fprintf(w, "  username %-6s password %-17s %s <%s>, language %s, keys: password, %s\n",
			c.Username, c.Password, c.Name, c.Email, c.Language, strings.Join(c.Kinds, ", "))
		if c.CardSerial != "" {
			fmt.Fprintf(w, "    token card %s:", c.CardSerial)
			for i, code := range c.CardCodes {
				if i%6 == 0 {
					fmt.Fprint(w, "\n     ")
				}
				fmt.Fprintf(w, " %2d:%s", i+1, code)
			}
			fmt.Fprintln(w)
		}
		if c.Role != "" {
			fmt.Fprintf(w, "    role %s (the %s pages need a logon at level substantial)\n", c.Role, c.Role)
		}
		if c.TOTPSecret != "" {
			fmt.Fprintf(w, "    authenticator app secret (base32): %s\n", c.TOTPSecret)
			fmt.Fprintf(w, "    authenticator app URI: %s\n", c.TOTPURI)
			qr, err := TerminalQR(c.TOTPURI, opts.ANSI)
			if err != nil {
				return fmt.Errorf("demo citizen %s: %w", c.Username, err)
			}
			fmt.Fprintln(w, "    authenticator app QR code (scan it with the app):")
			for _, line := range qr {
				fmt.Fprintf(w, "%s%s\n", QRIndent, line)
			}
		}
	}
	if opts.MailboxURL != "" {
		fmt.Fprintf(w, "  E-mailed codes appear in the development mailbox: %s\n", opts.MailboxURL)
	}
	return nil
}
