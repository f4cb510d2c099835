package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// contentSecurityPolicy allows only our own scripts, styles and forms: no inline script or
// style, no framing, no plugins.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// langCookie remembers a language chosen with ?lang= (its name gets the __Host- prefix on
// https).
const langCookie = "lang"

// reqState is what the middleware learns about a request, for handlers and error pages.
type reqState struct {
	sess    *session
	account *store.Account // the logged-on citizen; nil before logon
	lang    string         // empty until negotiated
	browser string         // the csrf cookie's value; empty until checkCSRF ran
	// expiredLogon is the logon transaction of a session that expired with this request, so
	// the chooser can say the logon expired (and keep its level and return path).
	expiredLogon *login.Transaction
	// sessionGone: the request named a session that no longer exists (rotated by a parallel
	// request that completed the logon, ended, or swept).
	sessionGone bool
	// route is the pattern of the route that served the request (metrics label by it).
	route string
}

type stateKey struct{}

// routed wraps h, the handler of pattern, so the request records which route served it.
func routed(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateOf(r).route = pattern
		h.ServeHTTP(w, r)
	})
}

// stateOf returns the request's state; a request that bypassed logRequests gets an empty one.
func stateOf(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{}
}

// statusWriter remembers the status and size of a response for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests creates the request state and logs one line per request. It logs the method and
// path only: never the query, cookies, form values or codes.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		st := &reqState{}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		if s.deps.Requests != nil {
			s.deps.Requests.ObserveRequest(st.route, r.Method, sw.status, time.Since(start))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", sw.bytes))
	})
}

// securityHeaders sets the headers of SPEC §8 on every response.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.cfg.Secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged error and the localised 500 page.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Any("panic", rec), slog.String("stack", string(debug.Stack())))
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // too late for an error page
			}
			s.renderError(w, r, http.StatusInternalServerError, "")
		}()
		next.ServeHTTP(w, r)
	})
}

// loadSession finds the request's session and, after a logon, the citizen's account.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r)
		sess, err := s.sessions.Load(r.Context(), w, r)
		if errors.Is(err, errSessionGone) {
			st.sessionGone, err = true, nil
		}
		if err != nil {
			s.serveError(w, r, err)
			return
		}
		if sess.loggedOn() {
			acct, err := s.deps.Store.GetAccount(r.Context(), sess.row.AccountID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				// The account is gone: so is the session.
				if err := s.sessions.Destroy(r.Context(), w, sess); err != nil {
					s.serveError(w, r, err)
					return
				}
				sess = nil
			case err != nil:
				s.serveError(w, r, fmt.Errorf("load session account: %w", err))
				return
			default:
				st.account = &acct
			}
		}
		st.sess = sess
		next.ServeHTTP(w, r)
	})
}

// negotiateLanguage picks the page language; an explicit ?lang= choice is remembered in the
// lang cookie.
func (s *Server) negotiateLanguage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r)
		st.lang = s.language(r, st)
		if q := strings.ToLower(r.URL.Query().Get("lang")); i18n.Supported(q) {
			if c, err := r.Cookie(s.cookies.lang); err != nil || c.Value != q {
				http.SetCookie(w, s.cookie(s.cookies.lang, q, 365*24*3600))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// language negotiates the language of r: ?lang=, the lang cookie, the account's language,
// Accept-Language, then Config.DefaultLanguage.
func (s *Server) language(r *http.Request, st *reqState) string {
	var cookie, account string
	if c, err := r.Cookie(s.cookies.lang); err == nil {
		cookie = c.Value
	}
	if st.account != nil {
		account = st.account.Language
	}
	accept := r.Header.Get("Accept-Language")
	if def := s.cfg.DefaultLanguage; def != "" {
		if accept == "" {
			accept = def
		} else {
			accept += "," + def + ";q=0.01"
		}
	}
	return s.deps.Bundle.Negotiate(r.URL.Query().Get("lang"), cookie, account, accept)
}

// limitBody bounds the request body, parses the form and refuses invalid UTF-8 in any form or
// query value.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.serveError(w, r, httpStatus(http.StatusRequestEntityTooLarge, nil))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.serveError(w, r, httpStatus(http.StatusRequestEntityTooLarge, err))
				return
			}
			// The parser's message may quote part of a value (a password): log none of it.
			s.serveError(w, r, httpStatus(http.StatusBadRequest, errors.New("malformed form or query")))
			return
		}
		for k, vs := range r.Form {
			if !utf8.ValidString(k) {
				s.serveError(w, r, httpStatus(http.StatusBadRequest, errors.New("form key is not UTF-8")))
				return
			}
			for _, v := range vs {
				if !utf8.ValidString(v) {
					s.serveError(w, r, httpStatus(http.StatusBadRequest, fmt.Errorf("form value %q is not UTF-8", k)))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address throttling and the audit log see: the connection's address, or with
// Config.TrustProxy the last X-Forwarded-For entry (the one our own proxy appended; earlier
// entries are whatever the client claimed).
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
