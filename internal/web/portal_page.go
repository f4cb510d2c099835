package web

import (
	"errors"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// This file holds what the pages of My digital keys share: the portal navigation and the
// notices. Form errors use the site's one pattern (BasePage.Errors, templates/partials.html).

// Sections of the portal navigation.
const (
	sectionKeys    = "keys"
	sectionProfile = "profile"
	sectionInfo    = "info"
)

// portalPage is the base of every page of My digital keys.
type portalPage struct {
	BasePage
	// Section is the navigation entry of the page (aria-current).
	Section string
	// Notice reports what the step before did (a key deactivated, a new code sent): a
	// one-time flash, or a state the page is in.
	Notice *Notice
}

// newPortalPage returns the base of a portal page in section; the language switch links
// path. It shows the notice a flash carries for the portal, and clears it.
func (s *Server) newPortalPage(w http.ResponseWriter, r *http.Request, section, path string) portalPage {
	p := portalPage{BasePage: s.basePath(r, path, nil), Section: section}
	if n, ok := portalNotices[s.takeFlash(w, r)]; ok {
		p.Notice = &Notice{Text: p.T(n.key), Warning: n.warning}
	}
	return p
}

// portalNotices are the flashes the portal's pages show: the message and whether it warns.
var portalNotices = map[string]struct {
	key     string
	warning bool
}{
	flashKeyDeactivated:  {"portal.keys.notice.deactivated", false},
	flashKeyReactivated:  {"portal.keys.notice.reactivated", false},
	flashLanguage:        {"portal.profile.notice.language", false},
	flashEmail:           {"portal.profile.notice.email", false},
	flashCodeResent:      {"portal.activate.resent", false},
	flashEmailCodeResent: {"portal.email_code.resent", false},
	flashWizardExpired:   {"portal.error.expired", true},
	flashOutOfOrder:      {"portal.error.out_of_order", true},
	flashKeyLost:         {"portal.lost.done", true},
}

// redirectWithFlash sends the citizen to target (POST → 303 → GET), whose page shows the
// notice of flash once.
func (s *Server) redirectWithFlash(w http.ResponseWriter, r *http.Request, target, flash string) {
	s.setFlash(w, flash)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// fieldErr turns err into the form error of control field when it is a message for the
// citizen, and returns ok false for anything else (an internal error). An empty field is an
// error of the whole form (the summary shows it without a link).
func (s *Server) fieldErr(r *http.Request, field string, err error) (FormErrors, bool) {
	var le *i18n.LocalizedError
	if !errors.As(err, &le) {
		return nil, false
	}
	return fieldError(field, s.printer(r).Error(le)), true
}

// portalError is a message of the web layer's own (a form left empty).
func portalError(key string) error { return i18n.NewError(key) }
