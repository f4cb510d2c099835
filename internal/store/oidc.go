package store

import (
	"context"
	"time"
)

// The aggregates of the OpenID provider (internal/oidcop): authorization requests with the code
// and access token issued from them, registered online services (clients), and the keys that
// sign ID tokens.

// AuthRequest is one authorization request of an online service, from the moment it arrives
// until the last thing issued from it expires. Its life: pending → done (the citizen logged on;
// a code is issued) → code consumed (exchanged at the token endpoint; an access token is
// issued) → expired. Data is owned by the provider (the request's parameters and, once done,
// the logon's result); the store never interprets it.
type AuthRequest struct {
	ID        string
	ClientID  string
	Data      []byte
	CreatedAt time.Time
	// ExpiresAt is when the row is no longer needed: the deadline of the logon while pending,
	// the code's expiry once done, the access token's expiry once one is issued. The sweeper
	// removes rows past it.
	ExpiresAt time.Time
	// AccountID, DoneAt and CodeHash are set when the request is completed.
	AccountID int64
	DoneAt    time.Time
	CodeHash  []byte
	// CodeUsedAt is when the code was presented at the token endpoint; zero until then.
	CodeUsedAt time.Time
	// TokenHash and TokenExpiresAt describe the access token issued from the code.
	TokenHash      []byte
	TokenExpiresAt time.Time
	// RevokedAt is set when what was issued from the request was revoked (a replayed code).
	RevokedAt time.Time
}

// AuthCompletion is what completing an authorization request records.
type AuthCompletion struct {
	AccountID int64
	// Data replaces the request's data (the provider adds the logon's result).
	Data []byte
	// CodeHash is the hash of the authorization code; CodeExpiresAt its expiry, which becomes
	// the row's ExpiresAt.
	CodeHash      []byte
	CodeExpiresAt time.Time
}

// AuthRequests stores authorization requests.
type AuthRequests interface {
	// CreateAuthRequest inserts r; ErrConflict when its ID exists.
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// GetAuthRequest returns the request with id, or ErrNotFound.
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// CompleteAuthRequest records the logon of a pending request that has not expired at now.
	// It reports false when the request is already done, expired or missing: a request is
	// completed at most once, on every node.
	CompleteAuthRequest(ctx context.Context, id string, c AuthCompletion, now time.Time) (bool, error)
	// ConsumeAuthCode finds the request of clientID whose code hashes to codeHash and marks
	// the code used at now. The request is returned as it was: a zero CodeUsedAt means this
	// call consumed the code; a set one means the code had been presented before (a replay).
	// ErrNotFound when no request of clientID has the code: a code presented by another
	// client is left as it was, so whoever learnt a code cannot spend it for its owner. Of
	// concurrent calls with one code, exactly one consumes it.
	ConsumeAuthCode(ctx context.Context, codeHash []byte, clientID string, now time.Time) (AuthRequest, error)
	// SetAuthRequestToken records the access token issued from a consumed code, and makes
	// its expiry the row's. It reports false when a token was already recorded or the request
	// was revoked meanwhile (a replay raced the exchange).
	SetAuthRequestToken(ctx context.Context, id string, tokenHash []byte, expiresAt time.Time) (bool, error)
	// GetAuthRequestByToken returns the request whose access token hashes to tokenHash, or
	// ErrNotFound.
	GetAuthRequestByToken(ctx context.Context, tokenHash []byte) (AuthRequest, error)
	// RevokeAuthRequest marks the request revoked at at (kept when already revoked): its
	// token no longer answers and no token is recorded for it any more. ErrNotFound when
	// missing.
	RevokeAuthRequest(ctx context.Context, id string, at time.Time) error
	// DeleteAuthRequest removes the request; a missing one is not an error.
	DeleteAuthRequest(ctx context.Context, id string) error
	// DeleteAuthRequestsBefore removes requests whose ExpiresAt is before cutoff and returns
	// how many.
	DeleteAuthRequestsBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// Client is an online service registered with the OpenID provider.
type Client struct {
	ID   string
	Name string
	// Public clients (apps that cannot keep a secret) have no SecretHash.
	Public     bool
	SecretHash []byte
	// RedirectURIs and PostLogoutRedirectURIs are matched exactly.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Scopes are the scopes the client may request.
	Scopes []string
	// DefaultLevel is the level of assurance asked when a request names none (low,
	// substantial, high).
	DefaultLevel string
	// Pairwise gives this client its own subject identifier for each citizen.
	Pairwise  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Clients stores the registered online services.
type Clients interface {
	// CreateClient inserts c (CreatedAt and UpdatedAt default to now); ErrConflict when the ID
	// is taken.
	CreateClient(ctx context.Context, c *Client) error
	// GetClient returns the client with id, or ErrNotFound.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns every client, ordered by ID.
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient overwrites every field but ID and CreatedAt; ErrNotFound when missing.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client; ErrNotFound when missing.
	DeleteClient(ctx context.Context, id string) error
}

// SigningKey is a key that signs ID tokens. Keys are published (JWKS) from CreatedAt and sign
// from ActiveFrom; the current key is the one of the highest generation that is active.
type SigningKey struct {
	ID string // the JWK key id (kid)
	// Generation orders the keys; it is unique, so two nodes rotating at once cannot both
	// add a key.
	Generation int64
	Algorithm  string // RS256
	// PrivateKey is the PKCS #8 private key, sealed with the encryption keyring.
	PrivateKey []byte
	// PublicKey is the PKIX public key.
	PublicKey  []byte
	CreatedAt  time.Time
	ActiveFrom time.Time
}

// SigningKeys stores the ID token signing keys.
type SigningKeys interface {
	// CreateSigningKey inserts k; ErrConflict when its ID or Generation is taken.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every key, lowest generation first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteSigningKey removes the key; a missing one is not an error.
	DeleteSigningKey(ctx context.Context, id string) error
}
