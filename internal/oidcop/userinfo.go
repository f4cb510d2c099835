package oidcop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/text/language"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Claims supported, by scope: openid gives sub; profile gives name, locale and prefLanguage
// (the name FAS uses for the preferred language); email gives email and email_verified (every
// address is verified before it is stored).
var (
	supportedScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}
	supportedClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
		"at_hash", "c_hash", "name", "locale", "prefLanguage", "email", "email_verified"}
)

// errAccountGone is returned when a token's citizen no longer exists.
var errAccountGone = errors.New("the account no longer exists")

// fillUserinfo sets info's subject and the claims of scopes from the citizen's account.
func (p *Provider) fillUserinfo(ctx context.Context, info *oidc.UserInfo, accountID int64, subject string, scopes []string) error {
	info.Subject = subject
	if !slices.Contains(scopes, oidc.ScopeProfile) && !slices.Contains(scopes, oidc.ScopeEmail) {
		return nil
	}
	a, err := p.st.GetAccount(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return errAccountGone
	}
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = a.Name
		if a.Language != "" {
			info.Locale = oidc.NewLocale(language.Make(a.Language))
			info.AppendClaims("prefLanguage", a.Language)
		}
	}
	if slices.Contains(scopes, oidc.ScopeEmail) && a.Email != "" {
		info.Email = a.Email
		info.EmailVerified = true
	}
	return nil
}

// serveUserinfo answers GET and POST /oidc/userinfo (OpenID Connect Core §5.3) for a bearer
// access token in the Authorization header or, with POST, the access_token form field
// (RFC 6750 §2.1, §2.2). Problems with the token answer 401 with WWW-Authenticate.
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "use GET or POST", Status: http.StatusMethodNotAllowed})
		return
	}
	token, ok := bearerToken(w, r)
	if !ok {
		return
	}
	ctx := p.ctx(r.Context())
	info, err := p.userinfo(ctx, token)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="%s", error_description="%s"`, pe.Code, pe.Description))
			writeJSONError(w, &Error{Code: pe.Code, Description: pe.Description, Status: http.StatusUnauthorized})
			return
		}
		p.log.ErrorContext(ctx, "userinfo", "err", err)
		writeJSONError(w, asProtocolError(err))
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// bearerToken returns the request's access token; without one it answers 401 (or 400 for a
// malformed request) and returns false.
func bearerToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := r.Header.Values("Authorization")
	var token string
	switch {
	case len(h) > 1:
		writeBearerError(w, http.StatusBadRequest, ErrInvalidRequest, "more than one Authorization header")
		return "", false
	case len(h) == 1:
		scheme, t, found := strings.Cut(h[0], " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(t) == "" {
			writeBearerError(w, http.StatusUnauthorized, ErrInvalidToken, "want Authorization: Bearer <access token>")
			return "", false
		}
		token = strings.TrimSpace(t)
	case r.Method == http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			writeBearerError(w, http.StatusBadRequest, ErrInvalidRequest, "the form cannot be read")
			return "", false
		}
		if vs := r.PostForm["access_token"]; len(vs) > 1 {
			writeBearerError(w, http.StatusBadRequest, ErrInvalidRequest, "access_token given more than once")
			return "", false
		} else if len(vs) == 1 {
			token = vs[0]
		}
	}
	if token == "" {
		// RFC 6750 §3.1: a request without credentials gets no error code.
		w.Header().Set("WWW-Authenticate", `Bearer realm="userinfo"`)
		writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "no access token", Status: http.StatusUnauthorized})
		return "", false
	}
	return token, true
}

func writeBearerError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="%s", error_description="%s"`, code, desc))
	writeJSONError(w, &Error{Code: code, Description: desc, Status: status})
}

// userinfo returns the claims an access token gives access to.
func (p *Provider) userinfo(ctx context.Context, token string) (*oidc.UserInfo, error) {
	invalid := func(desc string) error { return protocolError(ErrInvalidToken, "%s", desc) }
	plain, err := tokenCrypto{p.sealer}.Decrypt(token)
	if err != nil {
		return nil, invalid("the access token is not one issued here")
	}
	id, subject, ok := strings.Cut(plain, ":")
	if !ok {
		return nil, invalid("the access token is not one issued here")
	}
	row, err := p.st.GetAuthRequestByToken(ctx, tokenHash(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid("the access token has expired")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !row.RevokedAt.IsZero():
		return nil, invalid("the access token was revoked")
	case !p.now().Before(row.TokenExpiresAt):
		return nil, invalid("the access token has expired")
	}
	d, err := decodeRequest(row)
	if err != nil {
		return nil, err
	}
	if d.Subject != subject {
		return nil, invalid("the access token is not one issued here")
	}
	info := new(oidc.UserInfo)
	if err := p.fillUserinfo(ctx, info, row.AccountID, d.Subject, d.Scopes); err != nil {
		if errors.Is(err, errAccountGone) {
			return nil, invalid("the citizen's account no longer exists")
		}
		return nil, err
	}
	return info, nil
}
