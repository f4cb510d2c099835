package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/app"
	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// citizenSet describes the seeded citizens: citizen i is "load" + i, with one password for
// all (one argon2id hash, computed once), a token card and an authenticator app secret derived
// from the run's seed (so the driver knows every code without storing any), and a security
// code by e-mail to username@loadtest.example.org.
type citizenSet struct {
	n        int
	seed     []byte
	password string
}

var seedLanguages = []string{"nl", "fr", "de", "en"}

func (s citizenSet) username(i int) string { return fmt.Sprintf("load%06d", i) }
func (s citizenSet) email(i int) string    { return s.username(i) + "@loadtest.example.org" }
func (s citizenSet) serial(i int) string   { return fmt.Sprintf("LOAD-%06d", i) }

// cardCodes returns citizen i's 24 token card codes.
func (s citizenSet) cardCodes(i int) [tokencard.Positions]string {
	return tokencard.DemoCodes(s.seed, s.serial(i))
}

// totpSecret returns citizen i's authenticator app secret.
func (s citizenSet) totpSecret(i int) []byte { return totp.NewSecretForDemo(s.seed, s.username(i)) }

// newCitizenSet makes a set of n citizens with fresh secrets.
func newCitizenSet(n int) (citizenSet, error) {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return citizenSet{}, err
	}
	return citizenSet{n: n, seed: seed, password: "load " + rand.Text()}, nil
}

// seedBatch is how many citizens one transaction creates.
const seedBatch = 500

// seedStore is what seeding takes inside a transaction.
type seedStore interface {
	CreateAccount(ctx context.Context, a *store.Account) error
	CreateKey(ctx context.Context, k *store.Key) error
}

var _ seedStore = store.Store(nil)

// rpRedirect is where the load test's online service is registered: never reached, the
// driver's browser stops at the redirect to it.
const rpRedirect = "http://127.0.0.1:9/loadtest/callback"

// seedResult is what seeding made.
type seedResult struct {
	took time.Duration
	// passwordHash is the PHC string every citizen's password has: the hash-only runs verify it.
	passwordHash string
	// clientID and clientSecret are the registered online service's.
	clientID, clientSecret string
}

// seed opens the database with cfg (migrating it), creates the citizens of set with every key
// kind through the store's own methods, batched in transactions, and registers the online
// service the OIDC flow logs on to.
func seed(ctx context.Context, cfg config.Config, set citizenSet, progress io.Writer) (seedResult, error) {
	start := time.Now()
	node, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return seedResult{}, fmt.Errorf("seed: open the database: %w", err)
	}
	defer node.Close()
	// One hash with the nodes' own parameters: a hash made with others would be upgraded at
	// every citizen's first logon, which costs a second hash.
	hash, err := node.Passwords.Hash(ctx, set.password)
	if err != nil {
		return seedResult{}, fmt.Errorf("seed: %w", err)
	}
	now := node.Now()
	for from := 0; from < set.n; from += seedBatch {
		to := min(from+seedBatch, set.n)
		err := store.InTx(ctx, node.Store, func(tx seedStore) error {
			for i := from; i < to; i++ {
				if err := seedOne(ctx, tx, node, set, i, hash, now); err != nil {
					return fmt.Errorf("citizen %s: %w", set.username(i), err)
				}
			}
			return nil
		})
		if err != nil {
			return seedResult{}, fmt.Errorf("seed: %w", err)
		}
		if progress != nil && to%(20*seedBatch) == 0 && to < set.n {
			fmt.Fprintf(progress, "  seeded %d of %d citizens…\n", to, set.n)
		}
	}
	c, secret, err := oidcop.AddClient(ctx, node.Store, rand.Reader, now, oidcop.ClientSpec{
		ID: "loadtest", Name: "Load test", RedirectURIs: []string{rpRedirect},
	})
	if err != nil {
		return seedResult{}, fmt.Errorf("seed: register the online service: %w", err)
	}
	return seedResult{took: time.Since(start), passwordHash: hash, clientID: c.ID, clientSecret: secret}, nil
}

// seedOne creates citizen i with a password, a token card, a security code by e-mail and an
// authenticator app.
func seedOne(ctx context.Context, tx seedStore, node *app.Node, set citizenSet, i int, hash string, now time.Time) error {
	a := store.Account{Username: set.username(i), Name: fmt.Sprintf("Load Citizen %d", i), Email: set.email(i),
		Language: seedLanguages[i%len(seedLanguages)], PasswordHash: hash}
	if err := tx.CreateAccount(ctx, &a); err != nil {
		return err
	}
	card, err := tokencard.NewKey(node.Hasher, a.ID, set.serial(i), set.cardCodes(i), now)
	if err != nil {
		return err
	}
	authApp, err := node.TOTP.NewKey(a.ID, set.totpSecret(i), now)
	if err != nil {
		return err
	}
	mail := store.Key{AccountID: a.ID, Kind: keys.EmailCode, Status: store.KeyActive, CreatedAt: now, ActivatedAt: now}
	for _, k := range []*store.Key{&card, &mail, &authApp} {
		if err := tx.CreateKey(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
