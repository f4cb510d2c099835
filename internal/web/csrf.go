package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

const (
	// csrfCookie names the browser cookie (a random value) that the CSRF token of a browser
	// without a session is bound to; csrfField is the form field carrying the token.
	csrfCookie = "csrf"
	csrfField  = "csrf"
	csrfBytes  = 32
	// csrfKeyBytes is the size of a generated CSRF key.
	csrfKeyBytes = 32
)

// errCSRF is the cause logged when a POST fails the checks.
var errCSRF = errors.New("csrf check failed")

// The CSRF token of a form is an HMAC, under a server key, of what identifies the browser: its
// session id when it has a session, else the random value of its csrf cookie (pages before a
// logon starts have no session row, and GET never writes one). A cross-site page can make the
// browser send its cookies but can read none of them, so it cannot compute the token; and a
// token copied from one session is worthless in another, even when an attacker can plant
// cookies, because it is bound to the session id itself.
const (
	bindSession = "session"
	bindBrowser = "browser"
)

// csrfFor returns the token bound to value (a session id or a csrf cookie) of kind.
func (s *Server) csrfFor(kind, value string) string {
	mac := hmac.New(sha256.New, s.csrfKey)
	mac.Write([]byte("sleutelbos csrf\x00" + kind + "\x00"))
	mac.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// A form's token can outlive its session: the session expires, is swept, ends in another
// window, or is rotated by a logon completed in another tab, while a page with a form stays
// open. Such a form is no attack, and its citizen should hear what happened rather than get a
// 403. So a token bound to a session also carries, after a dot, the token of the browser's csrf
// cookie — which a cross-site page cannot compute either. A POST whose session part does not
// match (the session it was bound to is gone, or is no longer the browser's) but whose browser
// part does comes from one of our own pages in this very browser: it is answered with where
// the citizen stands now and a notice (staleForm), never acted on. Only a POST that proves
// neither is refused with the 403.

// csrfToken returns the token the forms of the page answering r carry: bound to the session
// the response leaves the browser with (and to its csrf cookie), or to its csrf cookie alone
// when it has no session.
func (s *Server) csrfToken(r *http.Request) string {
	st := stateOf(r)
	browser := st.browser
	if browser == "" {
		// An error page shown before checkCSRF ran.
		if c, err := r.Cookie(s.cookies.csrf); err == nil && validToken(c.Value, csrfBytes) {
			browser = c.Value
		}
	}
	if st.sess != nil && st.sess.stored {
		tok := s.csrfFor(bindSession, st.sess.id)
		if browser != "" {
			tok += "." + s.csrfFor(bindBrowser, browser)
		}
		return tok
	}
	if browser == "" {
		return ""
	}
	return s.csrfFor(bindBrowser, browser)
}

// expectedCSRF is the token a POST must carry: bound to the session cookie the request came
// with — even one that has expired meanwhile, which only this browser knows — or else to its
// csrf cookie. ok is false when the request carries neither.
func (s *Server) expectedCSRF(r *http.Request, browser string, hadBrowser bool) (string, bool) {
	if c, err := r.Cookie(s.cookies.session); err == nil && validToken(c.Value, sessionIDBytes) {
		return s.csrfFor(bindSession, c.Value), true
	}
	if hadBrowser {
		return s.csrfFor(bindBrowser, browser), true
	}
	return "", false
}

// checkCSRF makes sure the browser holds a csrf cookie (for the forms the page will render
// before a session exists) and refuses state-changing requests that do not prove they come
// from our own pages: the Sec-Fetch-Site/Origin check of net/http, a Referer from another
// host, or a missing or wrong token each give the localised 403 page.
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r)
		had := false
		if c, err := r.Cookie(s.cookies.csrf); err == nil && validToken(c.Value, csrfBytes) {
			st.browser, had = c.Value, true
		} else {
			tok, err := newToken(s.deps.Rand, csrfBytes)
			if err != nil {
				s.serveError(w, r, err)
				return
			}
			st.browser = tok
			http.SetCookie(w, s.cookie(s.cookies.csrf, tok, 0))
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if err := s.origins.Check(r); err != nil {
			s.serveError(w, r, httpStatus(http.StatusForbidden, err))
			return
		}
		if !s.sameOriginReferer(r) {
			s.serveError(w, r, httpStatus(http.StatusForbidden, errors.New("referer from another host")))
			return
		}
		sent, fromBrowser, _ := strings.Cut(r.PostForm.Get(csrfField), ".")
		want, ok := s.expectedCSRF(r, st.browser, had)
		if ok && sent != "" && hmac.Equal([]byte(sent), []byte(want)) {
			next.ServeHTTP(w, r)
			return
		}
		// Not this session's token: a stale form of this browser's (see above), or a forgery.
		if had {
			mine := []byte(s.csrfFor(bindBrowser, st.browser))
			if hmac.Equal([]byte(fromBrowser), mine) || hmac.Equal([]byte(sent), mine) {
				s.staleForm(w, r)
				return
			}
		}
		s.serveError(w, r, httpStatus(http.StatusForbidden, errCSRF))
	})
}

// sameOriginReferer reports whether the Referer, when a browser that sends neither
// Sec-Fetch-Site nor Origin sent one, names this host (or the configured public host).
func (s *Server) sameOriginReferer(r *http.Request) bool {
	ref := r.Header.Get("Referer")
	if ref == "" || r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
		return true // no Referer to judge, or net/http already judged the stronger signals
	}
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	if u.Host == r.Host {
		return true
	}
	if s.cfg.BaseURL != "" {
		if b, err := url.Parse(s.cfg.BaseURL); err == nil && b.Host == u.Host {
			return true
		}
	}
	return false
}

// staleForm answers a form of one of our pages in this browser whose session is gone or is
// no longer the browser's (see csrfToken): nothing is done. A logged-on citizen goes to their
// page — told, after a logon form, that the logon was completed in another window, and after
// any other form that nothing was done — and anyone else to the key chooser, told the logon
// was completed or ended in another window, or expired (as when a session vanishes mid-request).
func (s *Server) staleForm(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r)
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "stale form", slog.String("path", r.URL.Path),
		slog.Bool("logged_on", st.sess.loggedOn()))
	switch {
	case st.sess.loggedOn() && strings.HasPrefix(r.URL.Path, "/login/"):
		s.redirectWithFlash(w, r, "/", flashCompletedHere)
	case st.sess.loggedOn():
		s.redirectWithFlash(w, r, "/", flashStaleForm)
	default:
		s.redirectWithFlash(w, r, "/login", flashCompleted)
	}
}
