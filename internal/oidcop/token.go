package oidcop

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// maxTokenBody bounds a token request: a code, a verifier, a redirect URI and credentials.
const maxTokenBody = 16 << 10

// serveToken answers POST /oidc/token: the authorization code grant (RFC 6749 §4.1.3) with
// client_secret_basic, client_secret_post, or no secret for a public client, and PKCE S256.
//
// Unlike the op package's token endpoint, the client is authenticated before the code is
// looked at, so a stranger holding a stolen code cannot spend it; the code is consumed when it
// is looked up, so it is presented once whatever follows; and a code presented again revokes
// the access token issued from it (RFC 6749 §4.1.2).
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	ctx := p.ctx(r.Context())
	r = r.WithContext(ctx)
	resp, err := p.token(w, r)
	if err != nil {
		pe := asProtocolError(err)
		if pe.Code == ErrServerError {
			p.log.ErrorContext(ctx, "token endpoint", "err", err)
		}
		if pe.Code == ErrInvalidClient && pe.Status == http.StatusUnauthorized {
			if _, _, basic := r.BasicAuth(); basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
			}
		}
		writeJSONError(w, pe)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return nil, &Error{Code: ErrInvalidRequest, Description: "the token endpoint takes POST", Status: http.StatusMethodNotAllowed}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, protocolError(ErrInvalidRequest, "send the parameters as application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, protocolError(ErrInvalidRequest, "send the parameters in the request body, not in the URL")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Code: ErrInvalidRequest, Description: "the request is too large", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, protocolError(ErrInvalidRequest, "the form cannot be read")
	}
	for name, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, protocolError(ErrInvalidRequest, "the parameter %s is given more than once", quoteParam(name))
		}
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "":
		return nil, protocolError(ErrInvalidRequest, "grant_type is missing")
	case "authorization_code":
	default:
		return nil, protocolError(ErrUnsupportedGrantType, "only the authorization_code grant is supported, not %s", quoteParam(gt))
	}
	req, err := op.ParseAccessTokenRequest(r, p.op.Decoder())
	if err != nil {
		return nil, err
	}
	if req.ClientAssertion != "" || req.ClientAssertionType != "" {
		return nil, &Error{Code: ErrInvalidClient, Description: "private_key_jwt is not supported; use client_secret_basic or client_secret_post", Status: http.StatusUnauthorized}
	}
	c, err := p.authenticateClient(r.Context(), req.ClientID, req.ClientSecret)
	if err != nil {
		return nil, err
	}
	if req.Code == "" {
		return nil, protocolError(ErrInvalidRequest, "code is missing")
	}
	if req.CodeVerifier == "" {
		return nil, protocolError(ErrInvalidRequest, "code_verifier is missing (PKCE is required)")
	}
	ar, err := p.consumeCode(r.Context(), c, req.Code)
	if err != nil {
		return nil, err
	}
	switch {
	case req.RedirectURI != ar.d.RedirectURI:
		return nil, protocolError(ErrInvalidGrant, "redirect_uri does not match the authorization request")
	case !verifierMatches(req.CodeVerifier, ar.d.CodeChallenge):
		return nil, protocolError(ErrInvalidGrant, "the code_verifier does not match the code_challenge")
	}
	return op.CreateTokenResponse(r.Context(), ar, c, p.op, true, req.Code, "")
}

// authenticateClient checks the client's credentials: a confidential client's secret (compared
// as hashes, in constant time), nothing for a public client.
func (p *Provider) authenticateClient(ctx context.Context, id, secret string) (client, error) {
	unauthorized := &Error{Code: ErrInvalidClient, Description: "client authentication failed", Status: http.StatusUnauthorized}
	if id == "" {
		return client{}, &Error{Code: ErrInvalidClient, Description: "no client_id and no client credentials", Status: http.StatusUnauthorized}
	}
	c, err := p.client(ctx, id)
	var pe *Error
	if errors.As(err, &pe) {
		// The same answer as a wrong secret: nothing says which client ids exist.
		SecretMatches(secret, dummyHash)
		return client{}, unauthorized
	}
	if err != nil {
		return client{}, err
	}
	if c.c.Public {
		return c, nil
	}
	if secret == "" || !SecretMatches(secret, c.c.SecretHash) {
		return client{}, unauthorized
	}
	return c, nil
}

// dummyHash keeps an unknown client's answer as costly as a known one's.
var dummyHash = make([]byte, sha256.Size)

// HashSecret is what the store keeps of a client secret. Secrets are 256 random bits made by
// the provider, so a fast hash is enough: there is nothing to guess.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte("sleutelbos client secret\x00" + secret))
	return sum[:]
}

// SecretMatches compares secret with a stored hash in constant time.
func SecretMatches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(HashSecret(secret), hash) == 1
}

// verifierMatches checks a PKCE S256 code verifier (RFC 7636 §4.6) in constant time.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// consumeCode spends an authorization code of client c and returns its request. A code seen
// before revokes what was issued from it. A code of another client is unknown to c: it is
// neither spent nor revoked, so presenting someone else's code (as a public client needs no
// secret to) takes nothing from its owner.
func (p *Provider) consumeCode(ctx context.Context, c client, code string) (*authRequest, error) {
	now := p.now()
	row, err := p.st.ConsumeAuthCode(ctx, tokenHash(code), c.c.ID, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocolError(ErrInvalidGrant, "the code is unknown, was issued to another client, or has expired")
	}
	if err != nil {
		return nil, err
	}
	if !row.CodeUsedAt.IsZero() {
		err := store.InTx(ctx, p.st, func(tx txStore) error {
			if err := tx.RevokeAuthRequest(ctx, row.ID, now); err != nil {
				return err
			}
			return p.record(ctx, tx, store.AuditEvent{Type: audit.OIDCCodeReplayed, AccountID: row.AccountID, Actor: audit.ActorSystem,
				Detail: map[string]string{"client": row.ClientID}})
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, protocolError(ErrInvalidGrant, "the code was already used; the access token issued from it is revoked")
	}
	if !now.Before(row.ExpiresAt) {
		return nil, protocolError(ErrInvalidGrant, "the code has expired")
	}
	d, err := decodeRequest(row)
	if err != nil {
		return nil, err
	}
	return &authRequest{row: row, d: d}, nil
}
