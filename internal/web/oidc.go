package web

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
)

// This file mounts the OpenID provider (internal/oidcop). Its machine endpoints (discovery,
// JWKS, token, userinfo) are served as they are, outside the session and CSRF chain; its
// browser endpoints are pages of this site:
//
//	GET  /oidc/authorize     an online service's authorization request → /oidc/login
//	POST /oidc/authorize     the same, as a form: redirected to the GET
//	GET  /oidc/login         log on for a request, or complete it from the session
//	GET  /oidc/continue      after the logon: complete the request
//	GET  /oidc/end_session   RP-initiated logout (POST: redirected to the GET)
//	POST /oidc/logout        the citizen confirms a logout the online service did not prove

// OIDCProvider is the OpenID provider as the web layer uses it (*oidcop.Provider).
type OIDCProvider interface {
	Handler() http.Handler
	Authorize(ctx context.Context, params url.Values, boundAccountID int64) (string, error)
	Request(ctx context.Context, id string) (oidcop.Request, error)
	Decide(r oidcop.Request, s oidcop.Session) oidcop.Decision
	Complete(ctx context.Context, id string, a oidcop.Authentication) (string, error)
	Deny(ctx context.Context, id, code, description string) (string, error)
	EndSession(ctx context.Context, params url.Values) (oidcop.Logout, error)
	RecordLogout(ctx context.Context, l oidcop.Logout, accountID int64, ip string) error
	ServiceLink(ctx context.Context, clientID string) (name, href string, ok bool)
	RevokeRequests(ctx context.Context, ids []string) error
}

const (
	oidcContinuePath = "/oidc/continue"
	oidcLogoutPath   = "/oidc/logout"
	// maxRedirectQuery bounds the GET a POSTed authorization or logout request becomes.
	maxRedirectQuery = 8 << 10
)

// oidcPending is kept in the session while a logon for an authorization request runs: which
// request, and the session's logon time when it started. A different logon time afterwards
// means the citizen logged on for this request — decided without comparing clocks of nodes.
type oidcPending struct {
	Request        string    `json:"request"`
	AuthTimeBefore time.Time `json:"auth_time_before"`
}

// oidcRoutes mounts the provider when there is one: its machine endpoints with outer (no
// session, no CSRF), its browser endpoints as pages with route (publicRoutes lists them all).
func (s *Server) oidcRoutes(outer func(string, http.Handler), route func(string, handlerFunc)) {
	if s.deps.OIDC == nil {
		return
	}
	api := s.deps.OIDC.Handler()
	withIP := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(w, r.WithContext(oidcop.WithClientIP(r.Context(), s.clientIP(r))))
	})
	for _, p := range oidcop.APIPaths {
		outer(p, withIP)
	}
	// A POSTed request comes from the online service's page, without our CSRF token: it is
	// turned into the GET it is equivalent to, which then runs with the session.
	outer("POST "+oidcop.AuthorizePath, s.handle(s.oidcPostAsGet))
	outer("POST "+oidcop.EndSessionPath, s.handle(s.oidcPostAsGet))
	route("GET "+oidcop.AuthorizePath, s.oidcAuthorize)
	route("GET "+oidcop.LoginPath, s.oidcLogin)
	route("GET "+oidcContinuePath, s.oidcContinue)
	route("GET "+oidcop.EndSessionPath, s.oidcEndSession)
	route("POST "+oidcLogoutPath, s.oidcLogout)
}

// oidcPageError turns the provider's *oidcop.PageError into the localised error page.
func oidcPageError(err error) error {
	var pe *oidcop.PageError
	if errors.As(err, &pe) {
		return httpStatus(pe.Status, &i18n.LocalizedError{Key: pe.Message.Key, Args: pe.Message.Args, Err: pe.Cause})
	}
	return err
}

// oidcPostAsGet answers a POSTed authorization or logout request with a redirect to the same
// path with the parameters in the query.
func (s *Server) oidcPostAsGet(w http.ResponseWriter, r *http.Request) error {
	bad := httpStatus(http.StatusBadRequest, i18n.NewError("oidc.error.bad_request"))
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return bad
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return httpStatus(http.StatusRequestEntityTooLarge, err)
		}
		return bad
	}
	q := r.Form.Encode()
	if len(q) > maxRedirectQuery {
		return httpStatus(http.StatusRequestEntityTooLarge, errors.New("request too large for a redirect"))
	}
	http.Redirect(w, r, r.URL.Path+"?"+q, http.StatusSeeOther)
	return nil
}

// oidcAuthorize serves GET /oidc/authorize.
func (s *Server) oidcAuthorize(w http.ResponseWriter, r *http.Request) error {
	var bound int64 // the logged-on citizen: only they may answer the request (a step-up)
	if sess := stateOf(r).sess; sess.loggedOn() {
		bound = sess.row.AccountID
	}
	target, err := s.deps.OIDC.Authorize(oidcop.WithClientIP(r.Context(), s.clientIP(r)), r.URL.Query(), bound)
	if err != nil {
		return oidcPageError(err)
	}
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}
