package oidcop

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Signing keys. RS256 (RSA 2048) is what every relying party library verifies. Keys live in the
// database, their private halves sealed with the encryption keyring, so that every node signs
// with the same key: the current key is the one of the highest generation whose ActiveFrom has
// come, a rule every node applies to the same rows. A new key is published (JWKS) twice the
// JWKS cache lifetime before it signs, so online services that cache the key set have fetched
// it before they meet a token it signed; an old key stays published for KeyRetention after its
// successor took over, so the tokens it signed verify until they expire.

const (
	rsaBits  = 2048
	alg      = jose.RS256
	keyUse   = "sig"
	maxCache = time.Minute
)

// signingKey is a parsed signing key (op.SigningKey).
type signingKey struct {
	row  store.SigningKey
	priv *rsa.PrivateKey // nil when only the public half could be read
	pub  *rsa.PublicKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return alg }
func (k *signingKey) Key() any                                    { return k.priv }
func (k *signingKey) ID() string                                  { return k.row.ID }

// publicKey is a published key (op.Key).
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.row.ID }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return alg }
func (p publicKey) Use() string                        { return keyUse }
func (p publicKey) Key() any                           { return p.k.pub }

// keyCache holds the parsed keys for a short while, so signing does not read and decrypt
// them for every token. It is shorter than a key's publication ahead of use, so a key another
// node adds is known here before it signs.
type keyCache struct {
	p      *Provider
	ttl    time.Duration
	mu     sync.Mutex
	loaded time.Time
	keys   []*signingKey // by generation
}

func newKeyCache(p *Provider) *keyCache {
	return &keyCache{p: p, ttl: min(maxCache, p.cfg.publishAhead()/4)}
}

// all returns every stored key, from the cache when it is fresh: the published keys (the
// sweeper removes those past their retention).
func (c *keyCache) all(ctx context.Context) ([]*signingKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.p.now()
	if c.keys != nil && now.Sub(c.loaded) < c.ttl && !now.Before(c.loaded) {
		return c.keys, nil
	}
	rows, err := c.p.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]*signingKey, 0, len(rows))
	for _, row := range rows {
		k, err := c.p.parseKey(row)
		if err != nil {
			// A key sealed under an encryption key this node lacks cannot sign here, but
			// its public half is still published.
			c.p.log.ErrorContext(ctx, "signing key", "kid", row.ID, "err", err)
			if k == nil {
				continue
			}
		}
		keys = append(keys, k)
	}
	c.keys, c.loaded = keys, now
	return keys, nil
}

// forget drops the cache (after this node changed the keys).
func (c *keyCache) forget() {
	c.mu.Lock()
	c.keys = nil
	c.mu.Unlock()
}

// current returns the key that signs now. With no key at all (a database serve never started
// on), it makes the first one.
func (c *keyCache) current(ctx context.Context) (*signingKey, error) {
	keys, err := c.all(ctx)
	if err == nil && len(keys) == 0 {
		if err = c.p.EnsureSigningKey(ctx); err == nil {
			// Read again whatever EnsureSigningKey found or made: another request or node may
			// have made the first key since this cache stored "none".
			c.forget()
			keys, err = c.all(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	if k := currentKey(keys, c.p.now()); k != nil {
		if k.priv == nil {
			return nil, fmt.Errorf("signing key %s: its private key cannot be opened on this node (is its encryption key in --encryption-keys?)", k.row.ID)
		}
		return k, nil
	}
	return nil, errors.New("no signing key is active (run serve once, or admin signing-keys rotate)")
}

// currentKey is the key of the highest generation active at now, or nil.
func currentKey(keys []*signingKey, now time.Time) *signingKey {
	var cur *signingKey
	for _, k := range keys {
		if !k.row.ActiveFrom.After(now) && (cur == nil || k.row.Generation > cur.row.Generation) {
			cur = k
		}
	}
	return cur
}

// parseKey opens a stored key. The public half is returned even when the private one cannot be
// opened.
func (p *Provider) parseKey(row store.SigningKey) (*signingKey, error) {
	pubAny, err := x509.ParsePKIXPublicKey(row.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := pubAny.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want RSA", pubAny)
	}
	k := &signingKey{row: row, pub: pub}
	der, err := p.sealer.Decrypt(row.PrivateKey, keyAAD(row.ID))
	if err != nil {
		return k, fmt.Errorf("open private key: %w", err)
	}
	privAny, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return k, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := privAny.(*rsa.PrivateKey)
	if !ok {
		return k, fmt.Errorf("private key is %T, want RSA", privAny)
	}
	k.priv = priv
	return k, nil
}

// keyAAD binds a sealed private key to its key id.
func keyAAD(kid string) []byte { return []byte("oidc.signing-key:" + kid) }

// newKey makes a signing key of generation gen that signs from activeFrom.
func (p *Provider) newKey(gen int64, activeFrom time.Time) (store.SigningKey, error) {
	priv, err := rsa.GenerateKey(p.rand, rsaBits)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	// The key id is the RFC 7638 thumbprint of the public key: stable and collision-free.
	thumb, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("signing key thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	sealed, err := p.sealer.Encrypt(der, keyAAD(kid))
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("seal signing key: %w", err)
	}
	return store.SigningKey{ID: kid, Generation: gen, Algorithm: string(alg), PrivateKey: sealed, PublicKey: pub,
		CreatedAt: p.now(), ActiveFrom: activeFrom}, nil
}

// EnsureSigningKey makes the first signing key when there is none; it signs at once (no
// online service can have cached a key set yet). serve calls it at start; two nodes starting
// together make one key (the generation is unique).
func (p *Provider) EnsureSigningKey(ctx context.Context) error {
	keys, err := p.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if len(keys) > 0 {
		return nil
	}
	k, err := p.newKey(1, p.now())
	if err != nil {
		return err
	}
	if err := p.st.CreateSigningKey(ctx, &k); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("signing keys: %w", err)
	}
	p.keys.forget()
	return nil
}

// RotateSigningKey adds a new signing key, published now and signing after publication ahead
// of use (twice the JWKS max-age). It returns the new key; store.ErrConflict when another node
// rotated at the same moment.
func (p *Provider) RotateSigningKey(ctx context.Context) (store.SigningKey, error) {
	keys, err := p.st.ListSigningKeys(ctx)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	gen, activeFrom := int64(1), p.now().Add(p.cfg.publishAhead())
	if n := len(keys); n > 0 {
		last := keys[n-1]
		gen = last.Generation + 1
		// Activation follows generation order, so "highest active generation" never goes
		// back to an older key.
		if !activeFrom.After(last.ActiveFrom) {
			activeFrom = last.ActiveFrom.Add(time.Second)
		}
	} else {
		activeFrom = p.now()
	}
	k, err := p.newKey(gen, activeFrom)
	if err != nil {
		return store.SigningKey{}, err
	}
	if err := p.st.CreateSigningKey(ctx, &k); err != nil {
		return store.SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	p.keys.forget()
	return k, nil
}

// SigningKeyState describes a stored key for `admin signing-keys list`.
type SigningKeyState struct {
	ID         string
	Generation int64
	CreatedAt  time.Time
	ActiveFrom time.Time
	// State is "next" (published, not yet signing), "current" or "retired".
	State string
}

// SigningKeys lists the stored keys and their state now.
func (p *Provider) SigningKeys(ctx context.Context) ([]SigningKeyState, error) {
	rows, err := p.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	now := p.now()
	keys := make([]*signingKey, len(rows))
	for i := range rows {
		keys[i] = &signingKey{row: rows[i]}
	}
	cur := currentKey(keys, now)
	out := make([]SigningKeyState, len(rows))
	for i, r := range rows {
		state := "retired"
		switch {
		case r.ActiveFrom.After(now):
			state = "next"
		case cur != nil && cur.row.ID == r.ID:
			state = "current"
		}
		out[i] = SigningKeyState{ID: r.ID, Generation: r.Generation, CreatedAt: r.CreatedAt, ActiveFrom: r.ActiveFrom, State: state}
	}
	return out, nil
}

// maintainKeys rotates when the newest key is KeyRotation old, and removes keys whose successor
// has signed for longer than KeyRetention.
func (p *Provider) maintainKeys(ctx context.Context) error {
	rows, err := p.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	now := p.now()
	if n := len(rows); n > 0 && p.cfg.KeyRotation > 0 && now.Sub(rows[n-1].CreatedAt) >= p.cfg.KeyRotation {
		k, err := p.RotateSigningKey(ctx)
		switch {
		case errors.Is(err, store.ErrConflict): // another node rotated
		case err != nil:
			return err
		default:
			p.log.InfoContext(ctx, "rotated the ID token signing key", "kid", k.ID, "active_from", k.ActiveFrom)
		}
	}
	changed := false
	for i := 0; i+1 < len(rows); i++ {
		if next := rows[i+1]; !now.Before(next.ActiveFrom.Add(p.cfg.KeyRetention)) {
			if err := p.st.DeleteSigningKey(ctx, rows[i].ID); err != nil {
				return err
			}
			changed = true
		}
	}
	if changed {
		p.keys.forget()
	}
	return nil
}

// serveJWKS answers GET /oidc/jwks with every published key. The answer may be cached for
// JWKSMaxAge: a new key is published twice that long before it signs.
func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	keys, err := p.keys.all(r.Context())
	if err != nil {
		p.log.ErrorContext(r.Context(), "jwks", "err", err)
		writeJSONError(w, asProtocolError(err))
		return
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.row.ID, Algorithm: string(alg), Use: keyUse})
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(p.cfg.JWKSMaxAge.Seconds())))
	writeJSON(w, http.StatusOK, set)
}
