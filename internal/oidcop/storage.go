package oidcop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// storage is the op package's view of the provider (op.Storage). The provider serves its own
// endpoints and calls the op package for the token response (ID token claims and signing,
// through CreateAccessToken, SigningKey and SetUserinfoFromRequest) and for id_token_hint
// verification (KeySet). What the provider does not offer — refresh tokens, token revocation
// and introspection, client credentials, JWT profile — answers "not supported", so nothing
// reaches it by accident.
type storage struct {
	p *Provider
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

var errNotSupported = errors.New("not supported by this provider")

// client adapts a registered client to op.Client.
type client struct {
	c             store.Client
	tokenLifetime time.Duration
}

var _ op.Client = client{}

func (c client) GetID() string                    { return c.c.ID }
func (c client) RedirectURIs() []string           { return slices.Clone(c.c.RedirectURIs) }
func (c client) PostLogoutRedirectURIs() []string { return slices.Clone(c.c.PostLogoutRedirectURIs) }
func (c client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c client) LoginURL(id string) string    { return LoginPath + "?id=" + id }
func (c client) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeBearer
}
func (c client) IDTokenLifetime() time.Duration { return c.tokenLifetime }
func (c client) DevMode() bool                  { return false }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) IsScopeAllowed(scope string) bool { return slices.Contains(c.c.Scopes, scope) }

// IDTokenUserinfoClaimsAssertion puts the scopes' claims (name, e-mail, locale) in the ID
// token itself, as SPEC §6 asks, and not only at the userinfo endpoint.
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }

// tokenCrypto wraps the access tokens the op package builds ("token id:subject") in the
// encryption keyring: opaque to the online service, unforgeable without the key.
type tokenCrypto struct{ s Sealer }

var tokenAAD = []byte("oidc.access-token")

func (c tokenCrypto) Encrypt(plain string) (string, error) {
	b, err := c.s.Encrypt([]byte(plain), tokenAAD)
	if err != nil {
		return "", fmt.Errorf("seal access token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (c tokenCrypto) Decrypt(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", errors.New("access token: not base64url")
	}
	plain, err := c.s.Decrypt(b, tokenAAD)
	if err != nil {
		return "", fmt.Errorf("access token: %w", err)
	}
	return string(plain), nil
}

// tokenHash is what the store keeps of a code or an access token id.
func tokenHash(v string) []byte {
	sum := sha256.Sum256([]byte(v))
	return sum[:]
}

// CreateAccessToken records the access token of a consumed code (token endpoint).
func (s *storage) CreateAccessToken(ctx context.Context, tr op.TokenRequest) (string, time.Time, error) {
	ar, ok := tr.(*authRequest)
	if !ok {
		return "", time.Time{}, fmt.Errorf("create access token for %T: %w", tr, errNotSupported)
	}
	p := s.p
	id, err := p.random(32)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := p.now().Add(p.cfg.TokenLifetime)
	err = store.InTx(ctx, p.st, func(tx txStore) error {
		ok, err := tx.SetAuthRequestToken(ctx, ar.row.ID, tokenHash(id), exp)
		if err != nil {
			return err
		}
		if !ok {
			return protocolError(ErrInvalidGrant, "the code was revoked while it was exchanged")
		}
		return p.record(ctx, tx, store.AuditEvent{Type: audit.OIDCTokenIssued, AccountID: ar.row.AccountID,
			Detail: map[string]string{"client": ar.row.ClientID}})
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create access token: %w", err)
	}
	return id, exp, nil
}

// SetUserinfoFromRequest fills the ID token's subject, the scopes' claims and the session id.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	ar, ok := r.(*authRequest)
	if !ok {
		return fmt.Errorf("ID token for %T: %w", r, errNotSupported)
	}
	if err := s.p.fillUserinfo(ctx, info, ar.row.AccountID, ar.d.Subject, scopes); err != nil {
		return err
	}
	if ar.d.SessionID != "" {
		info.AppendClaims("sid", ar.d.SessionID)
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in the op package; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// DeleteAuthRequest is called by the op package once tokens are issued. The request stays:
// it holds the access token, and a replay of its code must still find it to revoke that token
// (RFC 6749 §4.1.2). The sweeper removes it when the token expires.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// SigningKey returns the key every node signs with now.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.p.keys.current(ctx)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// SignatureAlgorithms lists RS256, the one algorithm every relying party supports.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet returns every published key (id_token_hint verification).
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ks, err := s.p.keys.all(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(ks))
	for i := range ks {
		out[i] = publicKey{ks[i]}
	}
	return out, nil
}

// GetClientByClientID returns a registered client.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.client(ctx, id)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Health reports whether the store answers.
func (s *storage) Health(ctx context.Context) error {
	_, err := s.p.st.ListSigningKeys(ctx)
	return err
}

// The rest is not offered. AuthRequestByID, AuthRequestByCode, SaveAuthCode and
// CreateAuthRequest belong to the op package's own endpoints, which the provider replaces.

func (s *storage) CreateAuthRequest(context.Context, *oidc.AuthRequest, string) (op.AuthRequest, error) {
	return nil, errNotSupported
}
func (s *storage) AuthRequestByID(context.Context, string) (op.AuthRequest, error) {
	return nil, errNotSupported
}
func (s *storage) AuthRequestByCode(context.Context, string) (op.AuthRequest, error) {
	return nil, errNotSupported
}
func (s *storage) SaveAuthCode(context.Context, string, string) error { return errNotSupported }
func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNotSupported
}
func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}
func (s *storage) TerminateSession(context.Context, string, string) error { return errNotSupported }
func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrUnsupportedGrantType().WithDescription("token revocation is not supported")
}
func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}
func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errNotSupported
}
func (s *storage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return errNotSupported
}
func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotSupported
}
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotSupported
}
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotSupported
}

// random returns n random bytes, base64url-encoded.
func (p *Provider) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(p.rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// subject is the citizen's stable identifier for a client: a keyed hash of the account id,
// the same for every client, or its own per client when the client asked for pairwise
// identifiers. It depends on the hash key, which must therefore never change.
func (p *Provider) subject(c store.Client, accountID int64) string {
	var sum []byte
	if c.Pairwise {
		sum = p.hasher.Sum("oidc.sub.pairwise", c.ID, strconv.FormatInt(accountID, 10))
	} else {
		sum = p.hasher.Sum("oidc.sub", strconv.FormatInt(accountID, 10))
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// client returns the registered client id as the op package sees it; an *Error
// (invalid_client) when there is none.
func (p *Provider) client(ctx context.Context, id string) (client, error) {
	c, err := p.st.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return client{}, &Error{Code: ErrInvalidClient, Description: "unknown client", Status: 401}
	}
	if err != nil {
		return client{}, fmt.Errorf("load client: %w", err)
	}
	return client{c: c, tokenLifetime: p.cfg.TokenLifetime}, nil
}
