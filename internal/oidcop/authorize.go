package oidcop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Limits on an authorization request's parameters, so nothing unbounded is stored.
const (
	maxParams       = 40
	maxParamLen     = 2048
	maxHintLen      = 8192 // an id_token_hint is a whole ID token
	maxStateLen     = 1024
	maxNonceLen     = 512
	challengeLen    = 43 // base64url of a SHA-256 hash (RFC 7636 §4.2)
	maxMaxAge       = 1 << 31
	maxScopeEntries = 10
	// maxACRValues and maxACRLen bound acr_values: a few URIs, as the table names them.
	maxACRValues = 10
	maxACRLen    = 256
	// maxLocaleLen bounds a ui_locales entry (a BCP 47 tag; 35 characters is RFC 5646's
	// longest useful one).
	maxLocaleLen = 35
	// maxClientIDLen bounds a client_id (registered ids are short).
	maxClientIDLen = 64
	// quotaAction names the per-address scope of authorization requests (attempts.IPScope).
	quotaAction = "oidc-authorize"
)

// uiLocales are the languages the pages speak.
var uiLocales = func() oidc.Locales {
	var out oidc.Locales
	for _, l := range i18n.Languages() {
		out = append(out, language.Make(l))
	}
	return out
}()

// Authorize handles an authorization request (OpenID Connect Core §3.1.2.1) with its
// parameters (the query of a GET, or the form of a POST). On success the request is stored and
// the returned URL is where the citizen logs on (LoginPath?id=…). A request that names no
// known client or a redirect URI the client did not register returns a *PageError: there is
// nowhere trustworthy to send the citizen. Any other problem is answered to the online service:
// the returned URL is its redirect URI with error, error_description, state and iss.
//
// Beyond what the op package checks, every client must use PKCE with S256 (OAuth 2.1), the
// only response type is code, acr_values must name a level of the configured table, and
// prompt and max_age are kept for the logon to honour.
//
// boundAccountID is the citizen logged on in the browser that brings the request (0 when
// nobody is): the request is bound to them, and only their logon completes it (Complete).
func (p *Provider) Authorize(ctx context.Context, params url.Values, boundAccountID int64) (string, error) {
	ctx = p.ctx(ctx)
	if len(params) > maxParams {
		return "", pageError("oidc.error.bad_request", fmt.Errorf("%d parameters", len(params)))
	}
	one := func(name string) string {
		if vs := params[name]; len(vs) == 1 {
			return vs[0]
		}
		return ""
	}
	clientID, redirectURI := one("client_id"), one("redirect_uri")
	switch {
	case len(params["client_id"]) != 1 || clientID == "" || len(clientID) > maxClientIDLen:
		return "", pageError("oidc.error.no_client", errors.New("client_id missing or repeated"))
	case len(params["redirect_uri"]) != 1 || redirectURI == "":
		return "", pageError("oidc.error.redirect_uri", errors.New("redirect_uri missing or repeated"))
	}
	c, err := p.client(ctx, clientID)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return "", pageError("oidc.error.unknown_client", fmt.Errorf("client_id %q", clientID))
		}
		return "", err
	}
	if !slices.Contains(c.c.RedirectURIs, redirectURI) {
		return "", pageError("oidc.error.redirect_uri", fmt.Errorf("client %s: redirect_uri %q is not registered", clientID, redirectURI))
	}

	// From here the redirect URI is trusted: problems go back to the online service.
	state := one("state")
	if len(state) > maxStateLen {
		state = ""
	}
	fail := func(code, format string, args ...any) (string, error) {
		return p.errorRedirect(redirectURI, state, protocolError(code, format, args...)), nil
	}
	for name, vs := range params {
		switch {
		case len(vs) > 1:
			return fail(ErrInvalidRequest, "the parameter %s is given more than once", quoteParam(name))
		case name == "id_token_hint" && len(vs[0]) > maxHintLen, name != "id_token_hint" && len(vs[0]) > maxParamLen:
			return fail(ErrInvalidRequest, "the parameter %s is too long", quoteParam(name))
		}
	}
	switch {
	case params.Has("request"):
		return fail(ErrRequestNotSupported, "request objects are not supported")
	case params.Has("request_uri"):
		return fail(ErrRequestURINotSupported, "request_uri is not supported")
	case params.Has("registration"):
		return fail(ErrRegistrationNotSupp, "the registration parameter is not supported")
	}
	switch rt := one("response_type"); rt {
	case "":
		return fail(ErrInvalidRequest, "response_type is missing")
	case string(oidc.ResponseTypeCode):
	default:
		return fail(ErrUnsupportedResponseType, "only response_type=code is supported, not %s", quoteParam(rt))
	}
	if rm := one("response_mode"); rm != "" && rm != string(oidc.ResponseModeQuery) {
		return fail(ErrInvalidRequest, "only response_mode=query is supported, not %s", quoteParam(rm))
	}
	d := requestData{RedirectURI: redirectURI, State: state, Nonce: one("nonce"), MaxAge: -1, BoundAccount: boundAccountID}
	if len(one("state")) > maxStateLen {
		return fail(ErrInvalidRequest, "state is longer than %d characters", maxStateLen)
	}
	if len(d.Nonce) > maxNonceLen {
		return fail(ErrInvalidRequest, "nonce is longer than %d characters", maxNonceLen)
	}

	var perr *Error
	if d.Scopes, perr = checkScopes(c, one("scope")); perr != nil {
		return p.errorRedirect(redirectURI, state, perr), nil
	}
	if err := checkPKCE(one("code_challenge"), one("code_challenge_method")); err != nil {
		return p.errorRedirect(redirectURI, state, err), nil
	}
	d.CodeChallenge = one("code_challenge")
	if err := checkPrompt(&d, one("prompt"), one("max_age")); err != nil {
		return p.errorRedirect(redirectURI, state, err), nil
	}

	level, err := keys.ParseLevel(c.c.DefaultLevel)
	if err != nil {
		level = keys.LevelSubstantial
	}
	if v := one("acr_values"); v != "" {
		d.ACRValues = strings.Fields(v)
		if len(d.ACRValues) > maxACRValues || slices.ContainsFunc(d.ACRValues, func(a string) bool { return len(a) > maxACRLen }) {
			return fail(ErrInvalidRequest, "acr_values names more than %d values, or one longer than %d characters", maxACRValues, maxACRLen)
		}
		l, ok := p.cfg.ACR.MinLevel(d.ACRValues)
		if !ok {
			return fail(ErrInvalidRequest, "none of the acr_values is supported; see acr_values_supported in the discovery document")
		}
		level = l
	}
	if !p.reach(level) {
		return fail(ErrUnmetAuthentication, "no digital key offered for logon reaches the level of assurance %s", level)
	}
	d.MinLevel = level.String()
	for _, l := range strings.Fields(one("ui_locales")) {
		if len(l) > maxLocaleLen {
			return fail(ErrInvalidRequest, "a ui_locales entry is longer than %d characters", maxLocaleLen)
		}
		if len(d.UILocales) < 5 {
			d.UILocales = append(d.UILocales, l)
		}
	}
	if hint := one("id_token_hint"); hint != "" {
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
			return fail(ErrLoginRequired, "the id_token_hint is not an ID token issued here")
		}
		d.HintSubject = claims.GetSubject()
	}

	// Every request that gets this far is a stored row: one address may make only so many.
	// Counted last, so a request refused for its parameters costs nothing of the quota.
	if err := p.quota.Take(ctx, attempts.IPScope(quotaAction, clientIP(ctx))); err != nil {
		var te *attempts.ThrottledError
		if errors.As(err, &te) {
			return fail(ErrTemporarilyUnavailable, "too many logon requests from this address; try again in %d minutes", te.Minutes())
		}
		return "", fmt.Errorf("authorize: %w", err)
	}
	id, err := p.random(24)
	if err != nil {
		return "", err
	}
	now := p.now()
	row := store.AuthRequest{ID: id, ClientID: c.c.ID, Data: encodeRequest(d), CreatedAt: now, ExpiresAt: now.Add(p.cfg.RequestLifetime)}
	if err := p.st.CreateAuthRequest(ctx, &row); err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	return LoginPath + "?id=" + url.QueryEscape(id), nil
}

// checkScopes returns the requested scopes, which must include openid and be allowed for the
// client (offline_access never is: no refresh tokens are issued).
func checkScopes(c client, raw string) ([]string, *Error) {
	scopes := strings.Fields(raw)
	if len(scopes) == 0 {
		return nil, protocolError(ErrInvalidScope, "scope is missing; an OpenID Connect request needs at least 'openid'")
	}
	if len(scopes) > maxScopeEntries {
		return nil, protocolError(ErrInvalidScope, "too many scopes")
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil, protocolError(ErrInvalidScope, "the openid scope is required")
	}
	var out []string
	for _, s := range scopes {
		switch {
		case s == oidc.ScopeOfflineAccess:
			return nil, protocolError(ErrInvalidScope, "offline_access is not offered: this provider issues no refresh tokens")
		case !slices.Contains(supportedScopes, s):
			return nil, protocolError(ErrInvalidScope, "the scope %s is not supported", quoteParam(s))
		case !c.IsScopeAllowed(s):
			return nil, protocolError(ErrInvalidScope, "the scope %s is not allowed for this client", quoteParam(s))
		case !slices.Contains(out, s):
			out = append(out, s)
		}
	}
	return out, nil
}

// checkPKCE requires a code challenge with method S256 (OAuth 2.1 §4.1.1, for every client).
func checkPKCE(challenge, method string) *Error {
	switch {
	case challenge == "":
		return protocolError(ErrInvalidRequest, "PKCE is required: send code_challenge and code_challenge_method=S256")
	case method != string(oidc.CodeChallengeMethodS256):
		return protocolError(ErrInvalidRequest, "code_challenge_method must be S256")
	case len(challenge) != challengeLen || !isBase64URL(challenge):
		return protocolError(ErrInvalidRequest, "code_challenge must be the base64url SHA-256 of the code verifier (43 characters)")
	}
	return nil
}

// checkPrompt reads prompt and max_age into d. prompt=consent is accepted and needs nothing:
// the operator registered the online service on the citizens' behalf.
func checkPrompt(d *requestData, prompt, maxAge string) *Error {
	values := strings.Fields(prompt)
	for _, v := range values {
		switch v {
		case oidc.PromptNone:
			if len(values) > 1 {
				return protocolError(ErrInvalidRequest, "prompt=none cannot be combined with another prompt value")
			}
			d.PromptNone = true
		case oidc.PromptLogin:
			d.PromptLogin = true
		case oidc.PromptConsent:
		default:
			return protocolError(ErrInvalidRequest, "the prompt value %s is not supported (supported: none, login, consent)", quoteParam(v))
		}
	}
	if maxAge != "" {
		n, err := strconv.ParseInt(maxAge, 10, 64)
		if err != nil || n < 0 || n > maxMaxAge {
			return protocolError(ErrInvalidRequest, "max_age must be a whole number of seconds")
		}
		d.MaxAge = n
		if n == 0 {
			// OpenID Connect Core §3.1.2.1: max_age=0 is prompt=login.
			d.PromptLogin = true
		}
	}
	return nil
}

func isBase64URL(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	})
}

// errorRedirect returns the client's redirect URI with the error response (RFC 6749
// §4.1.2.1), the request's state and the issuer (RFC 9207).
func (p *Provider) errorRedirect(redirectURI, state string, e *Error) string {
	v := url.Values{"error": {e.Code}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	return p.responseURL(redirectURI, state, v)
}

// responseURL adds params, state and iss to the query of redirectURI (a registered URI,
// which parses).
func (p *Provider) responseURL(redirectURI, state string, params url.Values) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI // not reached: registered URIs are checked when registered
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", p.cfg.Issuer)
	u.RawQuery = q.Encode()
	return u.String()
}
