package oidcop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/oidcop/acr"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// The provider's endpoints. The issuer is the service's base URL; discovery sits where OpenID
// Connect Discovery says, everything else under /oidc/ (the citizen's portal owns /keys).
const (
	DiscoveryPath  = "/.well-known/openid-configuration"
	AuthorizePath  = "/oidc/authorize"
	TokenPath      = "/oidc/token"
	UserinfoPath   = "/oidc/userinfo"
	JWKSPath       = "/oidc/jwks"
	EndSessionPath = "/oidc/end_session"
	// LoginPath is where an authorization request's citizen is sent to log on (the web layer
	// serves it): LoginPath?id=<request id>.
	LoginPath = "/oidc/login"
)

// APIPaths are the endpoints Handler serves: machine-to-machine, no session, no CSRF.
var APIPaths = []string{DiscoveryPath, JWKSPath, TokenPath, UserinfoPath}

// Store is the storage the provider works with.
type Store interface {
	store.AuthRequests
	GetClient(ctx context.Context, id string) (store.Client, error)
	store.SigningKeys
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	audit.Appender
	// Transactor runs a change and its audit event in one transaction (store.InTx).
	store.Transactor
}

var _ Store = store.Store(nil)

// txStore is what the provider writes in one transaction — an authorization request's change
// and the audit event that goes with it — entered with store.InTx like every consumer's, so
// the transaction's rules (AfterCommit hooks, ErrNoTransaction, joining a caller's) are the
// same here as everywhere.
type txStore interface {
	store.AuthRequests
	audit.Appender
}

var _ txStore = store.Store(nil)

// Sealer encrypts the signing keys' private halves and the access tokens (internal/secrets
// Keyring).
type Sealer interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
	Decrypt(blob, aad []byte) ([]byte, error)
}

// Hasher computes keyed hashes (internal/secrets Hasher): subject identifiers.
type Hasher interface {
	Sum(domain string, parts ...string) []byte
}

// Auditor records audit events (internal/audit).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

// Config is the provider's configuration.
type Config struct {
	// Issuer is the service's public base URL (https://login.example.be), without a path.
	Issuer string
	// ACR maps acr values to levels.
	ACR acr.Table
	// CodeLifetime, TokenLifetime and RequestLifetime bound an authorization code, the ID
	// and access tokens, and the time between an authorization request and its logon.
	CodeLifetime    time.Duration
	TokenLifetime   time.Duration
	RequestLifetime time.Duration
	// KeyRotation is the age at which the sweeper makes a new signing key; 0 leaves rotation
	// to the operator.
	KeyRotation time.Duration
	// JWKSMaxAge is how long online services may cache the published keys. A new key is
	// published twice this long before it signs, so every cache has seen it.
	JWKSMaxAge time.Duration
	// KeyRetention is how long a key stays published after a newer key took over: at least
	// TokenLifetime, so every token it signed can be verified until it expires (and the
	// id_token_hint of a logout still can).
	KeyRetention time.Duration
}

// Validate reports every invalid value.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("issuer %q: want http(s)://host[:port] without a path", c.Issuer))
	}
	if len(c.ACR.Values()) == 0 {
		errs = append(errs, errors.New("acr table: empty"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"code lifetime", c.CodeLifetime}, {"token lifetime", c.TokenLifetime}, {"request lifetime", c.RequestLifetime}, {"JWKS max-age", c.JWKSMaxAge}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", d.name, d.v))
		}
	}
	if c.KeyRetention < c.TokenLifetime {
		errs = append(errs, fmt.Errorf("key retention %s: must be at least the token lifetime %s", c.KeyRetention, c.TokenLifetime))
	}
	if c.KeyRotation < 0 || (c.KeyRotation > 0 && c.KeyRotation <= c.publishAhead()) {
		errs = append(errs, fmt.Errorf("key rotation %s: 0, or longer than a key's publication ahead of use (%s)", c.KeyRotation, c.publishAhead()))
	}
	return errors.Join(errs...)
}

// publishAhead is how long a new key is published before it signs.
func (c Config) publishAhead() time.Duration { return 2 * c.JWKSMaxAge }

// Deps are the provider's collaborators.
type Deps struct {
	Store  Store
	Sealer Sealer
	Hasher Hasher
	Audit  Auditor
	// Reachable reports whether some key kind offered for logon reaches a level.
	Reachable func(keys.Level) bool
	Now       func() time.Time
	// Rand is the source of request ids, codes and tokens (crypto/rand.Reader in production).
	Rand io.Reader
	// Log receives what goes wrong without changing an answer (nil: discarded).
	Log *slog.Logger
	// Quota bounds the authorization requests (each a stored row) one client address may
	// make in a window, as the logon pages bound the logons it starts (attempts.Quota, with
	// the same limit). Take returns an *attempts.ThrottledError when the address is over it.
	Quota Quota
}

// Quota counts uses per scope within a window (attempts.Quota).
type Quota interface {
	Take(ctx context.Context, scope attempts.Scope) error
}

// Provider is the OpenID provider. It is safe for concurrent use.
type Provider struct {
	cfg     Config
	st      Store
	sealer  Sealer
	hasher  Hasher
	audit   Auditor
	reach   func(keys.Level) bool
	quota   Quota
	now     func() time.Time
	rand    io.Reader
	log     *slog.Logger
	op      *op.Provider
	keys    *keyCache
	handler http.Handler
}

// New returns a Provider.
func New(cfg Config, d Deps) (*Provider, error) {
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	if d.Store == nil || d.Sealer == nil || d.Hasher == nil || d.Audit == nil || d.Reachable == nil || d.Now == nil || d.Rand == nil || d.Quota == nil {
		return nil, errors.New("oidc provider: every dependency must be set")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Provider{cfg: cfg, st: d.Store, sealer: d.Sealer, hasher: d.Hasher, audit: d.Audit, reach: d.Reachable,
		quota: d.Quota, now: d.Now, rand: d.Rand, log: log}
	p.keys = newKeyCache(p)
	opts := []op.Option{op.WithCrypto(tokenCrypto{p.sealer})}
	if strings.HasPrefix(cfg.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	var err error
	p.op, err = op.NewProvider(&op.Config{CodeMethodS256: true, AuthMethodPost: true}, &storage{p: p}, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, p.serveDiscovery)
	mux.HandleFunc("GET "+JWKSPath, p.serveJWKS)
	mux.HandleFunc(TokenPath, p.serveToken)
	mux.HandleFunc(UserinfoPath, p.serveUserinfo)
	p.handler = cors(mux)
	return p, nil
}

// Issuer returns the issuer identifier.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// Handler serves the machine endpoints (APIPaths): discovery, JWKS, token and userinfo. The
// browser endpoints (authorization, logon, end of session) belong to the web layer, which
// calls Authorize, Request, Decide, Complete, Deny and EndSession.
func (p *Provider) Handler() http.Handler { return p.handler }

// ctx returns ctx with the issuer the op package reads from it.
func (p *Provider) ctx(ctx context.Context) context.Context {
	return op.ContextWithIssuer(ctx, p.cfg.Issuer)
}

// cors lets browser applications (public clients) call the machine endpoints: they use no
// cookies, so any origin may read their answers.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h := w.Header()
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the client's address, for the audit log. The web layer
// decides what the address is (it knows whether to trust a proxy).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// record writes an audit event in st; a failure to audit is logged by the recorder.
func (p *Provider) record(ctx context.Context, st audit.Appender, e store.AuditEvent) error {
	if e.IP == "" {
		e.IP = clientIP(ctx)
	}
	return p.audit.Record(ctx, st, e)
}
