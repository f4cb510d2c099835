package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// lostPage is "I lost this key": what deactivating it does and what comes next, then the
// confirmation.
type lostPage struct {
	portalPage
	Key     keyLine
	Action  string
	Refused string // why the key cannot be reported lost (it is not active nor locked)
}

// keyLostShow serves GET /keys/{id}/lost.
func (s *Server) keyLostShow(w http.ResponseWriter, r *http.Request) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	return s.renderLost(w, r, id, nil)
}

func (s *Server) renderLost(w http.ResponseWriter, r *http.Request, id int64, errs FormErrors) error {
	st := stateOf(r)
	v, err := s.deps.Portal.Key(r.Context(), *st.account, id, s.portalClient(r))
	if errors.Is(err, portal.ErrNoSuchKey) {
		return httpStatus(http.StatusNotFound, err)
	}
	if err != nil {
		return err
	}
	path := "/keys/" + strconv.FormatInt(id, 10) + "/lost"
	p := &lostPage{portalPage: s.newPortalPage(w, r, sectionKeys, path), Action: path}
	p.Errors = errs
	p.Key = keyLine{KeyView: v, Name: kindName(p.BasePage, v.Kind), StatusName: p.T("portal.status." + string(v.Status))}
	if !v.CanReportLost {
		p.Refused = p.T("portal.error.not_active")
	}
	p.Title = p.T("portal.lost.title")
	return s.render(w, r, http.StatusOK, "key_lost", p)
}

// keyLost serves POST /keys/{id}/lost: the key is deactivated at once, and the key list says
// what to do next.
func (s *Server) keyLost(w http.ResponseWriter, r *http.Request) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	st := stateOf(r)
	err = s.deps.Portal.ReportLost(r.Context(), *st.account, s.auth(r), id, s.portalClient(r))
	switch {
	case err == nil:
		s.redirectWithFlash(w, r, "/keys", flashKeyLost)
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
	return s.renderLost(w, r, id, errs)
}
