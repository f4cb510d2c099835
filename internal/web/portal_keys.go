package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/store"
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

// keyAction is one of the actions of My digital keys on a key of the logged-on citizen
// (deactivate, reactivate, "I lost this key"): what it does, and, for the actions asked for
// with a confirmation page first, that page. One description each keeps the three handlers
// alike: the same 404 for a key not the citizen's, the same logon again when the logon is not
// fresh enough, the same flash on My digital keys.
type keyAction struct {
	// name is the last segment of the path, /keys/{id}/<name>; the confirmation page's template
	// is key_<name>. Empty: no confirmation page, a refusal shows on My digital keys.
	name string
	// title is the catalogue key of the confirmation page's title.
	title string
	// refused says why the key cannot have the action (shown instead of the confirmation), or "".
	refused func(p *keyConfirmPage, v portal.KeyView) string
	// do is the portal's action.
	do func(*portal.Service, context.Context, store.Account, portal.Auth, int64, portal.Client) error
	// flash is what My digital keys says once the action is done.
	flash string
}

// The actions on one key; fixed descriptions, not state.
var (
	deactivateAction = keyAction{name: "deactivate", title: "portal.deactivate.title", do: (*portal.Service).Deactivate,
		flash: flashKeyDeactivated, refused: func(p *keyConfirmPage, v portal.KeyView) string {
			switch {
			case !v.CanDeactivate:
				return p.T("portal.error.not_active")
			case v.LastKey:
				return p.printer.Error(portal.LastKeyError(v.Kind))
			}
			return ""
		}}
	reactivateAction = keyAction{do: (*portal.Service).Reactivate, flash: flashKeyReactivated}
)

// keyConfirmPage asks for confirmation before an action on a key (keyAction.name).
type keyConfirmPage struct {
	portalPage
	Key     keyLine
	Action  string
	Refused string // why the key cannot have the action
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
	return s.keyConfirmShow(w, r, deactivateAction)
}

// keyDeactivate serves POST /keys/{id}/deactivate.
func (s *Server) keyDeactivate(w http.ResponseWriter, r *http.Request) error {
	return s.keyAct(w, r, deactivateAction)
}

// keyReactivate serves POST /keys/{id}/reactivate.
func (s *Server) keyReactivate(w http.ResponseWriter, r *http.Request) error {
	return s.keyAct(w, r, reactivateAction)
}

// keyConfirmShow serves the GET of a's confirmation page.
func (s *Server) keyConfirmShow(w http.ResponseWriter, r *http.Request, a keyAction) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	return s.renderKeyConfirm(w, r, a, id, nil)
}

// renderKeyConfirm shows a's confirmation page for the citizen's key id, with errs; a key that
// is not theirs is not found.
func (s *Server) renderKeyConfirm(w http.ResponseWriter, r *http.Request, a keyAction, id int64, errs FormErrors) error {
	st := stateOf(r)
	v, err := s.deps.Portal.Key(r.Context(), *st.account, id, s.portalClient(r))
	if errors.Is(err, portal.ErrNoSuchKey) {
		return httpStatus(http.StatusNotFound, err)
	}
	if err != nil {
		return err
	}
	path := "/keys/" + strconv.FormatInt(id, 10) + "/" + a.name
	p := &keyConfirmPage{portalPage: s.newPortalPage(w, r, sectionKeys, path), Action: path}
	p.Errors = errs
	p.Key = keyLine{KeyView: v, Name: kindName(p.BasePage, v.Kind), StatusName: p.T("portal.status." + string(v.Status))}
	p.Refused = a.refused(p, v)
	p.Title = p.T(a.title)
	return s.render(w, r, http.StatusOK, "key_"+a.name, p)
}

// keyAct serves the POST of a on the citizen's key of the path: done, My digital keys says so;
// a logon not fresh enough goes through the logon again; a refusal for the citizen shows on
// a's confirmation page (or My digital keys when it has none).
func (s *Server) keyAct(w http.ResponseWriter, r *http.Request, a keyAction) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	st := stateOf(r)
	err = a.do(s.deps.Portal, r.Context(), *st.account, s.auth(r), id, s.portalClient(r))
	switch {
	case err == nil:
		s.redirectWithFlash(w, r, "/keys", a.flash)
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
	if a.name == "" {
		return s.renderKeys(w, r, http.StatusOK, errs)
	}
	return s.renderKeyConfirm(w, r, a, id, errs)
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
