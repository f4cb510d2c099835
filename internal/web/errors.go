package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/login"
)

// statusError is an error with the HTTP status it should be answered with. err is the cause,
// for the log only.
type statusError struct {
	status int
	err    error
}

// httpStatus returns an error that serveError answers with status.
func httpStatus(status int, err error) error { return &statusError{status: status, err: err} }

func (e *statusError) Error() string {
	if e.err == nil {
		return http.StatusText(e.status)
	}
	return fmt.Sprintf("%s: %v", http.StatusText(e.status), e.err)
}

func (e *statusError) Unwrap() error { return e.err }

// errNotFound answers with the localised 404 page.
var errNotFound = &statusError{status: http.StatusNotFound}

// handlerFunc is an HTTP handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc: a returned error becomes an error page.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		switch {
		case err == nil:
		case errors.Is(err, errSessionGone):
			s.sessionGone(w, r)
		default:
			s.serveError(w, r, err)
		}
	})
}

// sessionGone answers a request whose session vanished while it ran (errSessionGone): the
// chooser of its logon, which says the logon was completed or ended elsewhere.
func (s *Server) sessionGone(w http.ResponseWriter, r *http.Request) {
	var tx *login.Transaction
	if st := stateOf(r); st.sess != nil {
		tx = st.sess.data.Login
	}
	s.setFlash(w, flashCompleted)
	http.Redirect(w, r, chooserURL(tx), http.StatusSeeOther)
}

// serveError maps err to a status and the localised error page:
//   - a statusError keeps its status and shows that status's message;
//   - a *i18n.LocalizedError is a 400 showing its own message;
//   - anything else is logged and shown as a 500 with the generic message.
func (s *Server) serveError(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	var le *i18n.LocalizedError
	switch {
	case errors.As(err, &se):
		level := slog.LevelInfo
		if se.status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request failed", slog.String("path", r.URL.Path),
			slog.Int("status", se.status), slog.String("error", err.Error()))
		msg := ""
		if errors.As(se.err, &le) {
			msg = s.printer(r).Error(le)
		}
		s.renderError(w, r, se.status, msg)
	case errors.As(err, &le):
		s.renderError(w, r, http.StatusBadRequest, s.printer(r).Error(le))
	default:
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		s.renderError(w, r, http.StatusInternalServerError, "")
	}
}

// errorKey returns the status whose title and message the catalogue holds
// (web.error.<status>.title, web.error.<status>.text); other statuses use the 500 texts.
func errorKey(status int) int {
	switch status {
	case 400, 403, 404, 405, 413, 429, 500, 503:
		return status
	}
	return 500
}

type errorPage struct {
	BasePage
	Status  int
	Message string
}

// renderError writes the error page for status; msg, when set, replaces the status's message.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	key := errorKey(status)
	base := s.base(r)
	base.Title = base.T(fmt.Sprintf("web.error.%d.title", key))
	if msg == "" {
		msg = base.T(fmt.Sprintf("web.error.%d.text", key))
	}
	s.render(w, r, status, "error", &errorPage{BasePage: base, Status: status, Message: msg})
}
