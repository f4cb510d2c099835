package web

import (
	"errors"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// This file holds what the pages of My digital keys share: the portal navigation, the
// notices, and the form-error pattern (an error summary that takes the focus, each error linked
// to its field, the field marked aria-invalid and described by its message, the title prefixed
// with "Error:").

// Sections of the portal navigation.
const (
	sectionKeys    = "keys"
	sectionProfile = "profile"
	sectionInfo    = "info"
)

// fieldError is one problem of a submitted form. Field is the id of the input it belongs to;
// empty for a problem of the whole form.
type fieldError struct {
	Field   string
	Message string
}

// formErrors are the problems of a submitted form, in the order the fields appear.
type formErrors []fieldError

// For returns the message for field, or "".
func (fe formErrors) For(field string) string {
	for _, e := range fe {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// portalPage is the base of every page of My digital keys.
type portalPage struct {
	BasePage
	// Section is the navigation entry of the page (aria-current).
	Section string
	// Notice is informational (a key was deactivated); Errors are the form's problems.
	Notice string
	Errors formErrors
}

// setTitle sets the page title, prefixed with the localised "Error:" when the form has
// problems, so a screen reader hears it first.
func (p *portalPage) setTitle(title string) {
	if len(p.Errors) > 0 {
		title = p.T("portal.form.error_prefix") + " " + title
	}
	p.Title = title
}

// newPortalPage returns the base of a portal page in section; the language switch links path.
func (s *Server) newPortalPage(r *http.Request, section, path string) portalPage {
	return portalPage{BasePage: s.basePath(r, path, nil), Section: section}
}

// fieldErr turns err into the form error of field when it is a message for the citizen, and
// returns ok false for anything else (an internal error).
func (s *Server) fieldErr(r *http.Request, field string, err error) (formErrors, bool) {
	var le *i18n.LocalizedError
	if !errors.As(err, &le) {
		return nil, false
	}
	return formErrors{{Field: field, Message: s.printer(r).Error(le)}}, true
}

// portalError is a message of the web layer's own (a form left empty).
func portalError(key string) error { return i18n.NewError(key) }
