package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// keysPage is My digital keys: every key with its status, dates and cause.
type keysPage struct {
	portalPage
	Keys []keyLine
	// LostKeyWait says from when a new key can be activated by e-mail after a key reported
	// lost from a logon below substantial (portal.Offers.LostKeyWaitUntil).
	LostKeyWait string
}

// keyLine is one key of the list.
type keyLine struct {
	portal.KeyView
	Name       string
	StatusName string
	CauseName  string
	// DeactivateURL, ReactivateURL and LostURL are set when the action is offered.
	DeactivateURL string
	ReactivateURL string
	LostURL       string
}

// keysShow serves GET /keys.
func (s *Server) keysShow(w http.ResponseWriter, r *http.Request) error {
	return s.renderKeys(w, r, http.StatusOK, nil)
}

func (s *Server) renderKeys(w http.ResponseWriter, r *http.Request, status int, errs FormErrors) error {
	st := stateOf(r)
	views, err := s.deps.Portal.Keys(r.Context(), *st.account)
	if err != nil {
		return err
	}
	p := &keysPage{portalPage: s.newPortalPage(w, r, sectionKeys, "/keys")}
	p.Errors = errs
	for _, v := range views {
		l := keyLine{KeyView: v, Name: kindName(p.BasePage, v.Kind), StatusName: p.T("portal.status." + string(v.Status))}
		if v.Cause != "" {
			l.CauseName = p.T("portal.cause." + v.Cause)
		}
		if v.ID != 0 && v.CanDeactivate && !v.LastKey {
			l.DeactivateURL = "/keys/" + strconv.FormatInt(v.ID, 10) + "/deactivate"
		}
		if v.CanReactivate {
			l.ReactivateURL = "/keys/" + strconv.FormatInt(v.ID, 10) + "/reactivate"
		}
		if v.ID != 0 && v.CanReportLost {
			l.LostURL = "/keys/" + strconv.FormatInt(v.ID, 10) + "/lost"
		}
		p.Keys = append(p.Keys, l)
	}
	offers, err := s.deps.Portal.OffersFor(r.Context(), *st.account, s.auth(r))
	if err != nil {
		return err
	}
	if !offers.LostKeyWaitUntil.IsZero() {
		p.LostKeyWait = p.T("portal.lost.wait", p.Instant(offers.LostKeyWaitUntil))
	}
	p.Title = p.T("portal.keys.title")
	return s.render(w, r, status, "keys", p)
}

// deactivatePage asks for confirmation before a key is deactivated.
type deactivatePage struct {
	portalPage
	Key     keyLine
	Action  string
	Refused string // why the key cannot be deactivated
}

// keyID reads the {id} of the path; anything but a positive number is not a key.
func keyID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

// keyDeactivateShow serves GET /keys/{id}/deactivate: the confirmation step.
func (s *Server) keyDeactivateShow(w http.ResponseWriter, r *http.Request) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	return s.renderDeactivate(w, r, id, nil)
}

func (s *Server) renderDeactivate(w http.ResponseWriter, r *http.Request, id int64, errs FormErrors) error {
	st := stateOf(r)
	v, err := s.deps.Portal.Key(r.Context(), *st.account, id, s.portalClient(r))
	if errors.Is(err, portal.ErrNoSuchKey) {
		return httpStatus(http.StatusNotFound, err)
	}
	if err != nil {
		return err
	}
	path := "/keys/" + strconv.FormatInt(id, 10) + "/deactivate"
	p := &deactivatePage{portalPage: s.newPortalPage(w, r, sectionKeys, path), Action: path}
	p.Errors = errs
	p.Key = keyLine{KeyView: v, Name: kindName(p.BasePage, v.Kind), StatusName: p.T("portal.status." + string(v.Status))}
	switch {
	case !v.CanDeactivate:
		p.Refused = p.T("portal.error.not_active")
	case v.LastKey:
		p.Refused = p.printer.Error(portal.LastKeyError(v.Kind))
	}
	p.Title = p.T("portal.deactivate.title")
	return s.render(w, r, http.StatusOK, "key_deactivate", p)
}

// keyDeactivate serves POST /keys/{id}/deactivate.
func (s *Server) keyDeactivate(w http.ResponseWriter, r *http.Request) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	st := stateOf(r)
	err = s.deps.Portal.Deactivate(r.Context(), *st.account, s.auth(r), id, s.portalClient(r))
	switch {
	case err == nil:
		s.redirectWithFlash(w, r, "/keys", flashKeyDeactivated)
		return nil
	case s.staleLogon(w, r, err):
		return nil
	case errors.Is(err, portal.ErrNoSuchKey):
		return httpStatus(http.StatusNotFound, err)
	}
	errs, ok := s.fieldErr(r, "", err)
	if !ok {
		return err
	}
	return s.renderDeactivate(w, r, id, errs)
}

// keyReactivate serves POST /keys/{id}/reactivate.
func (s *Server) keyReactivate(w http.ResponseWriter, r *http.Request) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	st := stateOf(r)
	err = s.deps.Portal.Reactivate(r.Context(), *st.account, s.auth(r), id, s.portalClient(r))
	switch {
	case err == nil:
		s.redirectWithFlash(w, r, "/keys", flashKeyReactivated)
		return nil
	case s.staleLogon(w, r, err):
		return nil
	case errors.Is(err, portal.ErrNoSuchKey):
		return httpStatus(http.StatusNotFound, err)
	}
	errs, ok := s.fieldErr(r, "", err)
	if !ok {
		return err
	}
	return s.renderKeys(w, r, http.StatusOK, errs)
}

// staleLogon answers a *portal.StaleLogonError by sending the citizen through the logon again
// and back to the page of the form; it reports whether it did.
func (s *Server) staleLogon(w http.ResponseWriter, r *http.Request, err error) bool {
	var stale *portal.StaleLogonError
	if !errors.As(err, &stale) {
		return false
	}
	s.toLogon(w, r, stale.Level)
	return true
}
