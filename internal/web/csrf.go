package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
)

const (
	// csrfCookie and csrfField carry the double-submit token: a POST is accepted only when
	// the form field equals the cookie. A cross-site page can make the browser send the cookie
	// but can neither read it nor set it, so it cannot fill in the field.
	csrfCookie = "csrf"
	csrfField  = "csrf"
	csrfBytes  = 32
)

// errCSRF is the cause logged when a POST fails the checks.
var errCSRF = errors.New("csrf check failed")

// checkCSRF makes sure the browser holds a CSRF token (for the forms the page will render) and
// refuses state-changing requests that do not prove they come from our own pages: the
// Sec-Fetch-Site/Origin check of net/http, a Referer from another host, or a missing or wrong
// token each give the localised 403 page.
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r)
		had := false
		if c, err := r.Cookie(csrfCookie); err == nil && validToken(c.Value, csrfBytes) {
			st.csrf, had = c.Value, true
		} else {
			tok, err := newToken(s.deps.Rand, csrfBytes)
			if err != nil {
				s.serveError(w, r, err)
				return
			}
			st.csrf = tok
			http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true,
				Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
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
		sent := r.PostForm.Get(csrfField)
		if !had || sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(st.csrf)) != 1 {
			s.serveError(w, r, httpStatus(http.StatusForbidden, errCSRF))
			return
		}
		next.ServeHTTP(w, r)
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
