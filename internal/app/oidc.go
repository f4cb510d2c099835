package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/oidcop/acr"
)

// wireOIDC builds the OpenID provider.
func (n *Node) wireOIDC() error {
	cfg := n.Config
	table, err := acr.Parse(cfg.ACRValues)
	if err != nil {
		return fmt.Errorf("--acr-values: %w", err)
	}
	// The same per-address bound as the logons started on the chooser, in a scope of its
	// own: a logon for an online service takes one of each.
	quota, err := attempts.NewQuota(n.Store, cfg.LogonStarts, cfg.LogonLifetime, n.Now)
	if err != nil {
		return fmt.Errorf("authorization request quota: %w", err)
	}
	n.OIDC, err = oidcop.New(oidcop.Config{
		Issuer:          cfg.PublicURL(),
		ACR:             table,
		CodeLifetime:    cfg.OIDCCodeLifetime,
		TokenLifetime:   cfg.OIDCTokenLifetime,
		RequestLifetime: cfg.OIDCRequestLifetime,
		KeyRotation:     cfg.OIDCKeyRotation,
		JWKSMaxAge:      cfg.OIDCJWKSMaxAge,
		// A logout's id_token_hint may be as old as the session it ends: keep retired keys
		// published for a whole session, and at least for a token's lifetime.
		KeyRetention: max(cfg.OIDCTokenLifetime, cfg.SessionAbsolute),
	}, oidcop.Deps{
		Store: n.Store, Sealer: n.Keyring, Hasher: n.Hasher, Audit: n.Audit,
		Reachable: func(l keys.Level) bool { return len(n.Login.Choices(n.Login.Start(l, ""))) > 0 },
		Now:       n.Now, Rand: n.Rand, Log: n.Log, Quota: quota,
	})
	return err
}

// demoParts holds the demo online service of a node, when it runs one, and the node's own
// handler, which the demo service calls in-process.
type demoParts struct {
	mu      sync.Mutex
	service *demo.Service
	handler http.Handler
}

func (n *Node) setHandler(h http.Handler) {
	n.demo.mu.Lock()
	n.demo.handler = h
	n.demo.mu.Unlock()
}

func (n *Node) ownHandler() http.Handler {
	n.demo.mu.Lock()
	defer n.demo.mu.Unlock()
	return n.demo.handler
}

// demoHandler returns the demo online service, or nil when the node runs none.
func (n *Node) demoHandler() http.Handler {
	n.demo.mu.Lock()
	defer n.demo.mu.Unlock()
	if n.demo.service == nil {
		return nil
	}
	return n.demo.service
}

// EnableDemoService registers the demo online service as a client (idempotently, with a secret
// derived from the hash key, so every node agrees) and builds it; handlers made afterwards
// serve it at demo.ServicePath. It returns the service's URL.
func (n *Node) EnableDemoService(ctx context.Context) (string, error) {
	base := n.Config.PublicURL()
	secret := demo.ClientSecret(n.Hasher)
	if err := oidcop.PutClient(ctx, n.Store, n.Now(), demo.ClientSpec(base), secret); err != nil {
		return "", fmt.Errorf("demo online service: %w", err)
	}
	svc, err := demo.NewService(demo.ServiceConfig{Issuer: base, ClientSecret: secret, Bundle: n.Bundle,
		Backend: n.ownHandler, Now: n.Now, Rand: n.Rand, Log: n.Log})
	if err != nil {
		return "", err
	}
	n.demo.mu.Lock()
	n.demo.service = svc
	n.demo.mu.Unlock()
	return base + demo.ServicePath, nil
}
