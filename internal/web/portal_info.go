package web

import (
	"net/http"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

// infoPage is Info: every key kind, its level of assurance in plain words, and the dates of
// any kind being phased out.
type infoPage struct {
	portalPage
	Kinds  []kindInfo
	Levels []levelInfo
}

// kindInfo is one kind on the Info page.
type kindInfo struct {
	Name, Description, Level string
	ActivationClosed         bool
	// PhaseOut is the sentence with the phase-out dates, or "".
	PhaseOut string
}

// levelInfo explains one level of assurance.
type levelInfo struct {
	Name, Text string
}

// infoShow serves GET /info.
func (s *Server) infoShow(w http.ResponseWriter, r *http.Request) error {
	p := &infoPage{portalPage: s.newPortalPage(w, r, sectionInfo, "/info")}
	for _, ki := range s.deps.Portal.Info() {
		v := kindInfo{Name: kindName(p.BasePage, ki.Kind), Description: p.T("key." + ki.Kind + ".description"),
			Level: p.T("portal.level." + ki.Level.String()), ActivationClosed: !ki.ActivationOpen}
		if po := ki.PhaseOut; po != nil && !po.DisabledFrom.IsZero() {
			// Activation closes at the first instant the policy sets (each phase keeps the
			// restrictions of the ones before it).
			closed := po.DisabledFrom
			for _, t := range []time.Time{po.MigrationPromptFrom, po.ActivationClosedFrom} {
				if !t.IsZero() {
					closed = t
				}
			}
			if s.deps.Now().Before(po.DisabledFrom) {
				v.PhaseOut = p.T("portal.info.phaseout", p.DayOf(closed), p.DayOf(po.DisabledFrom))
			} else {
				v.PhaseOut = p.T("web.info.phaseout_disabled", p.DayOf(po.DisabledFrom))
			}
		}
		p.Kinds = append(p.Kinds, v)
	}
	p.Levels = levels(p.BasePage)
	p.Title = p.T("portal.info.title")
	return s.render(w, r, http.StatusOK, "info", p)
}

// levels explains low and substantial (the levels the enabled kinds reach).
func levels(b BasePage) []levelInfo {
	var out []levelInfo
	for _, l := range []keys.Level{keys.LevelLow, keys.LevelSubstantial} {
		out = append(out, levelInfo{Name: b.T("portal.level." + l.String()), Text: b.T("portal.level." + l.String() + ".text")})
	}
	return out
}

// whyPage is "Why?": why a security code is recommended (levels of assurance).
type whyPage struct {
	portalPage
	Levels []levelInfo
}

// infoWhy serves GET /info/why.
func (s *Server) infoWhy(w http.ResponseWriter, r *http.Request) error {
	p := &whyPage{portalPage: s.newPortalPage(w, r, sectionInfo, "/info/why")}
	p.Levels = levels(p.BasePage)
	p.Title = p.T("portal.why.title")
	return s.render(w, r, http.StatusOK, "info_why", p)
}
