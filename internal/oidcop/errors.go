package oidcop

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// Error codes of OAuth 2.0 (RFC 6749 §4.1.2.1, §5.2), OpenID Connect Core §3.1.2.6 and
// OpenID Connect Unmet Authentication Requirements.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrServerError             = "server_error"
	ErrLoginRequired           = "login_required"
	ErrRequestNotSupported     = "request_not_supported"
	ErrRequestURINotSupported  = "request_uri_not_supported"
	ErrRegistrationNotSupp     = "registration_not_supported"
	ErrUnmetAuthentication     = "unmet_authentication_requirements"
	ErrInvalidToken            = "invalid_token"
	// ErrTemporarilyUnavailable (RFC 6749 §4.1.2.1): the address has made too many
	// authorization requests lately.
	ErrTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is a protocol error answered to an online service: in the redirect to its redirect
// URI, or as the JSON body of a token endpoint answer.
type Error struct {
	Code        string
	Description string
	// Status is the HTTP status of a token endpoint answer (400 when zero).
	Status int
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// protocolError returns an Error with code and a description (printf-style). The description
// keeps to the characters RFC 6749 allows in error_description.
func protocolError(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: cleanDescription(fmt.Sprintf(format, args...))}
}

// cleanDescription replaces what error_description may not hold (RFC 6749 §5.2: %x20-21 /
// %x23-5B / %x5D-7E): quotes, backslashes, control and non-ASCII characters.
func cleanDescription(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// quoteParam shows a caller's value in a description, shortened and cleaned.
func quoteParam(v string) string {
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return "'" + cleanDescription(v) + "'"
}

// asProtocolError converts an error of the op package (an *oidc.Error) to an Error; anything
// else is a server error.
func asProtocolError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType != oidc.ServerError {
		return &Error{Code: string(oe.ErrorType), Description: cleanDescription(oe.Description)}
	}
	return &Error{Code: ErrServerError, Description: "the request could not be handled; try again later", Status: http.StatusInternalServerError}
}

// writeJSONError answers a machine endpoint with a protocol error.
func writeJSONError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// writeJSON writes v as JSON with status. Answers carrying tokens or personal data must not be
// cached (RFC 6749 §5.1); the callers that may be cached set their own Cache-Control first.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// PageError is an error the citizen sees on a Sleutelbos page, in their language, instead of
// being sent back to the online service: the request names no client, an unknown one, or a
// redirect URI the client did not register, so there is nowhere trustworthy to send them.
type PageError struct {
	Status  int
	Message *i18n.LocalizedError
	// Cause is for the log only.
	Cause error
	// ClientID, when known, is the online service the request came from (for a request that
	// can no longer be used): the page can offer a way back to it (Provider.ServiceLink).
	ClientID string
}

func (e *PageError) Error() string {
	if e.Cause != nil {
		return e.Message.Key + ": " + e.Cause.Error()
	}
	return e.Message.Key
}

func (e *PageError) Unwrap() error { return e.Cause }

// pageError returns a 400 PageError with message key and a cause for the log.
func pageError(key string, cause error) *PageError {
	return &PageError{Status: http.StatusBadRequest, Message: i18n.NewError(key), Cause: cause}
}
