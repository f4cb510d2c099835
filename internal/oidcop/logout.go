package oidcop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Logout is a validated RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0).
type Logout struct {
	// ClientID is the online service that asked, when it said (client_id or the hint's azp).
	ClientID   string
	ClientName string
	// SessionID is the sid of a valid id_token_hint: when it is the session in this browser,
	// the online service has proved which session it means, and no confirmation is needed.
	SessionID string
	// RedirectURI is where to send the citizen afterwards (the registered
	// post_logout_redirect_uri with state), or "" to stay here.
	RedirectURI string
}

// EndSession validates a logout request's parameters. A problem (a forged id_token_hint, a
// post_logout_redirect_uri the client did not register, an unknown client) is a *PageError:
// the citizen is never sent to an address the online service did not register.
func (p *Provider) EndSession(ctx context.Context, params url.Values) (Logout, error) {
	ctx = p.ctx(ctx)
	if len(params) > maxParams {
		return Logout{}, pageError("oidc.error.bad_logout", fmt.Errorf("%d parameters", len(params)))
	}
	for name, vs := range params {
		if len(vs) > 1 {
			return Logout{}, pageError("oidc.error.bad_logout", fmt.Errorf("%s given more than once", name))
		}
		if (name == "id_token_hint" && len(vs[0]) > maxHintLen) || (name != "id_token_hint" && len(vs[0]) > maxParamLen) {
			return Logout{}, pageError("oidc.error.bad_logout", fmt.Errorf("%s too long", name))
		}
	}
	var l Logout
	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
			return Logout{}, pageError("oidc.error.bad_logout", fmt.Errorf("id_token_hint: %w", err))
		}
		azp := claims.GetAuthorizedParty()
		if azp == "" && len(claims.GetAudience()) == 1 {
			azp = claims.GetAudience()[0]
		}
		if clientID != "" && clientID != azp {
			return Logout{}, pageError("oidc.error.bad_logout", errors.New("client_id is not the id_token_hint's client"))
		}
		clientID = azp
		l.SessionID = claims.SessionID
	}
	if clientID != "" {
		c, err := p.st.GetClient(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return Logout{}, pageError("oidc.error.unknown_client", fmt.Errorf("client_id %q", clientID))
		}
		if err != nil {
			return Logout{}, fmt.Errorf("end session: %w", err)
		}
		l.ClientID, l.ClientName = c.ID, c.Name
		if uri := params.Get("post_logout_redirect_uri"); uri != "" {
			if !slices.Contains(c.PostLogoutRedirectURIs, uri) {
				return Logout{}, pageError("oidc.error.logout_redirect", fmt.Errorf("client %s: post_logout_redirect_uri %q is not registered", c.ID, uri))
			}
			u, err := url.Parse(uri)
			if err != nil {
				return Logout{}, pageError("oidc.error.logout_redirect", err)
			}
			if state := params.Get("state"); state != "" {
				if len(state) > maxStateLen {
					return Logout{}, pageError("oidc.error.bad_logout", errors.New("state too long"))
				}
				q := u.Query()
				q.Set("state", state)
				u.RawQuery = q.Encode()
			}
			l.RedirectURI = u.String()
		}
	} else if params.Get("post_logout_redirect_uri") != "" {
		// Without a client there is nothing the address could be registered with.
		return Logout{}, pageError("oidc.error.logout_redirect", errors.New("post_logout_redirect_uri without client_id or id_token_hint"))
	}
	return l, nil
}

// RecordLogout audits the end of a citizen's session at an online service's request.
func (p *Provider) RecordLogout(ctx context.Context, l Logout, accountID int64, ip string) error {
	return p.record(ctx, p.st, store.AuditEvent{Type: audit.OIDCLogout, AccountID: accountID, IP: ip,
		Detail: map[string]string{"client": l.ClientID}})
}

// RevokeRequests revokes what was issued from the authorization requests ids (a session's, at
// its logout): their access tokens no longer answer, and a code not yet exchanged gives none.
// Requests already swept are skipped.
func (p *Provider) RevokeRequests(ctx context.Context, ids []string) error {
	now := p.now()
	for _, id := range ids {
		if err := p.st.RevokeAuthRequest(ctx, id, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("revoke auth request: %w", err)
		}
	}
	return nil
}
