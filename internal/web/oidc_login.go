package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
)

// sidBytes is the randomness of a session's sid claim.
const sidBytes = 16

// maxIssued bounds the authorization requests a session remembers (sessionData.Issued): more
// than a citizen answers in one session, so the session's data stays small.
const maxIssued = 32

// oidcLogin serves GET /oidc/login?id=…: the session completes the request when it meets it
// (single sign-on); otherwise the citizen logs on — bound to the logged-on citizen, if any, so
// a step-up never becomes someone else — or, with prompt=none, the online service hears
// login_required.
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) error {
	req, err := s.deps.OIDC.Request(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		return s.oidcRequestGone(w, r, err)
	}
	switch s.deps.OIDC.Decide(req, s.oidcSession(r, req.ID)) {
	case oidcop.Complete, oidcop.OtherAccount:
		// Complete refuses another citizen than the request's, with a page saying so.
		return s.oidcComplete(w, r, req, false)
	case oidcop.LoginRequired:
		target, err := s.deps.OIDC.Deny(r.Context(), req.ID, oidcop.ErrLoginRequired,
			"the citizen has no session at the level asked, and prompt=none forbids a logon")
		if err != nil {
			return oidcPageError(err)
		}
		http.Redirect(w, r, target, http.StatusFound)
		return nil
	}
	return s.oidcStartLogon(w, r, req)
}

// oidcContinue serves GET /oidc/continue?id=…, where a logon started for a request returns.
// The answer to the online service is a page that moves on by itself: a redirect chain that
// began with a form (the logon's last step) may not leave the site (CSP form-action).
func (s *Server) oidcContinue(w http.ResponseWriter, r *http.Request) error {
	req, err := s.deps.OIDC.Request(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		return s.oidcRequestGone(w, r, err)
	}
	switch s.deps.OIDC.Decide(req, s.oidcSession(r, req.ID)) {
	case oidcop.Complete, oidcop.OtherAccount:
		// A logon that finished as another citizen than the one the request is bound to
		// (another tab, a forged return) is refused by Complete, with a page saying so.
		return s.oidcComplete(w, r, req, true)
	}
	// Not logged on (anymore): the citizen left the logon, or signed out meanwhile.
	return s.oidcStartLogon(w, r, req)
}

// oidcSession describes the request's session for the provider's decision.
func (s *Server) oidcSession(r *http.Request, requestID string) oidcop.Session {
	sess := stateOf(r).sess
	if !sess.loggedOn() {
		return oidcop.Session{}
	}
	level, err := keys.ParseLevel(sess.row.LoA)
	if err != nil {
		return oidcop.Session{}
	}
	o := oidcop.Session{AccountID: sess.row.AccountID, Level: level, AuthTime: sess.row.AuthTime}
	if p := sess.data.OIDC; p != nil && p.Request == requestID && !p.AuthTimeBefore.Equal(sess.row.AuthTime) {
		o.Fresh = true
	}
	return o
}

// oidcStartLogon starts the logon req needs and sends the citizen to the key chooser, which
// offers only the kinds that reach req's level. A browser without a session gets one, which
// counts against its address's logon starts like one started on the chooser.
func (s *Server) oidcStartLogon(w http.ResponseWriter, r *http.Request, req oidcop.Request) error {
	st := stateOf(r)
	if st.sess == nil {
		st.sess = s.sessions.New()
	}
	ret := oidcContinueURL(req.ID, req.ClientID)
	// The logon is bound to the citizen the request is bound to, or else to the one logged
	// on now: a step-up never becomes someone else's logon.
	bound := req.BoundAccountID
	if bound == 0 && st.sess.loggedOn() {
		bound = st.sess.row.AccountID
	}
	var tx *login.Transaction
	if bound != 0 {
		tx = s.deps.Login.StartFor(req.MinLevel, ret, bound)
	} else {
		tx = s.deps.Login.Start(req.MinLevel, ret)
	}
	st.sess.data.Login = tx
	st.sess.data.OIDC = &oidcPending{Request: req.ID, AuthTimeBefore: st.sess.row.AuthTime}
	if !st.sess.stored {
		// A new pre-logon session row, as on the chooser: within the address's quota.
		if refused, err := s.takeStart(w, r); refused || err != nil {
			return err
		}
	}
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	target := "/login"
	for _, l := range req.UILocales {
		if base, _, _ := strings.Cut(strings.ToLower(l), "-"); i18n.Supported(base) {
			target += "?" + url.Values{"lang": {base}}.Encode()
			break
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// oidcGonePage says an authorization request can no longer be used, with a way back to the
// online service it came from when that is known.
type oidcGonePage struct {
	BasePage
	Message    string
	ClientName string
	BackURL    string
}

// oidcRequestGone answers a request for /oidc/login or /oidc/continue whose authorization
// request cannot be used (unknown, answered already — a second tab, the Back button — or
// expired): a page saying so that leads back to the online service — the request's, or the
// one the continue address names (only a registered client's own address is linked) — or,
// when none is known, to the start page. Other errors are answered as usual.
func (s *Server) oidcRequestGone(w http.ResponseWriter, r *http.Request, err error) error {
	var pe *oidcop.PageError
	if !errors.As(err, &pe) || pe.Message.Key != "oidc.error.unknown_request" {
		return oidcPageError(err)
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "authorization request gone", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	p := &oidcGonePage{BasePage: s.basePath(r, "/", nil)}
	p.Title = p.T("oidc.gone.title")
	p.Message = s.printer(r).Error(pe.Message)
	client := pe.ClientID
	if client == "" {
		client = r.URL.Query().Get("client")
	}
	status := http.StatusNotFound
	if name, href, ok := s.deps.OIDC.ServiceLink(r.Context(), client); ok {
		p.ClientName, p.BackURL, status = name, href, http.StatusGone
	}
	return s.render(w, r, status, "oidc_gone", p)
}

// oidcContinuePage moves the citizen on to the online service.
type oidcContinuePage struct {
	BasePage
	ClientName string
	Target     string
}

// oidcComplete answers req with the session's logon and sends the citizen back to the online
// service: by redirect, or with interstitial by a page that moves on by itself.
func (s *Server) oidcComplete(w http.ResponseWriter, r *http.Request, req oidcop.Request, interstitial bool) error {
	st := stateOf(r)
	sess := st.sess
	changed := false
	if sess.data.SID == "" {
		// A session logged on before sids were given at logon (Rotate): give it one now.
		sid, err := newToken(s.deps.Rand, sidBytes)
		if err != nil {
			return err
		}
		sess.data.SID, changed = sid, true
	}
	if sess.data.OIDC != nil && sess.data.OIDC.Request == req.ID {
		sess.data.OIDC, changed = nil, true
	}
	if sess.data.After == oidcContinueURL(req.ID, req.ClientID) {
		sess.data.After, changed = "", true // a registration's way back, now taken
	}
	if !slices.Contains(sess.data.Issued, req.ID) {
		// Recorded before the request completes: a request that then does not complete is
		// revoked for nothing at the logout, one that completes unrecorded would outlive it.
		sess.data.Issued, changed = append(sess.data.Issued, req.ID), true
		if n := len(sess.data.Issued); n > maxIssued {
			sess.data.Issued = sess.data.Issued[n-maxIssued:]
		}
	}
	if changed {
		if err := s.sessions.Save(r.Context(), w, sess); err != nil {
			return err
		}
	}
	level, _ := keys.ParseLevel(sess.row.LoA) // Decide parsed it already
	target, err := s.deps.OIDC.Complete(r.Context(), req.ID, oidcop.Authentication{
		AccountID: sess.row.AccountID, Level: level, AMR: sess.row.AMR, AuthTime: sess.row.AuthTime,
		SessionID: sess.data.SID, IP: s.clientIP(r),
	})
	if err != nil {
		return oidcPageError(err)
	}
	if !interstitial {
		http.Redirect(w, r, target, http.StatusFound)
		return nil
	}
	return s.renderContinue(w, r, req.ClientName, target)
}

// renderContinue shows the page that sends the citizen on to target (an online service's
// registered address): the Refresh header moves on at once, the link is there if it does not.
func (s *Server) renderContinue(w http.ResponseWriter, r *http.Request, clientName, target string) error {
	p := &oidcContinuePage{BasePage: s.basePath(r, "/", nil), ClientName: clientName, Target: target}
	p.Title = p.T("oidc.continue.title")
	w.Header().Set("Refresh", "0; url="+target)
	return s.render(w, r, http.StatusOK, "oidc_continue", p)
}

// oidcContinueURL is where the logon for request id returns.
// The client rides along, so that should the request be gone by the time the logon returns
// (answered in another tab, expired, swept), the page still leads back to it.
func oidcContinueURL(id, clientID string) string {
	return oidcContinuePath + "?" + url.Values{"id": {id}, "client": {clientID}}.Encode()
}
