package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// The helpdesk console (SPEC §1 and §10, issue 12): /helpdesk/…, for accounts with the
// helpdesk role (store.RoleHelpdesk) logged on at level substantial — guard (access.go) sends
// every route under helpdeskPrefix through checkHelpdesk, reading the role on every request.
// The agent finds a citizen, sees why a logon fails (internal/helpdesk, from the logon's own
// rules) and acts: each action needs a reason and is audited with the agent's username.

// helpdeskPrefix is the path under which every helpdesk page lives.
const helpdeskPrefix = "/helpdesk"

// helpdeskLevel is the level of assurance the console needs.
const helpdeskLevel = keys.LevelSubstantial

// isHelpdeskRoute reports whether pattern is a helpdesk page.
func isHelpdeskRoute(pattern string) bool { return underPrefix(pattern, helpdeskPrefix) }

// helpdeskRoutes registers the console.
//
//	GET  /helpdesk                          find a citizen (POST /helpdesk: by username or address)
//	GET  /helpdesk/citizens/{id}            the citizen: keys, throttles, logons, e-mails, audit,
//	                                        and ?kind=…&level=… why a logon fails
//	POST /helpdesk/citizens/{id}/actions    an action with its reason
func (s *Server) helpdeskRoutes(route func(string, handlerFunc)) {
	route("GET /helpdesk", s.helpdeskIndex)
	route("POST /helpdesk", s.helpdeskFind)
	route("GET /helpdesk/citizens/{id}", s.helpdeskCitizen)
	route("POST /helpdesk/citizens/{id}/actions", s.helpdeskAction)
}

// checkHelpdesk lets the request through when its citizen holds the helpdesk role and logged
// on at helpdeskLevel (checkRole).
func (s *Server) checkHelpdesk(w http.ResponseWriter, r *http.Request) bool {
	return s.checkRole(w, r, store.RoleHelpdesk, s.deps.Helpdesk != nil, helpdeskLevel, "helpdesk.forbidden")
}

// agent is the request's helpdesk agent.
func (s *Server) agent(r *http.Request) helpdesk.Agent {
	a := stateOf(r).account
	return helpdesk.Agent{AccountID: a.ID, Username: a.Username, IP: s.clientIP(r)}
}

// helpdeskNotices are the flashes the console shows.
var helpdeskNotices = map[string]string{flashHelpdeskDone: "helpdesk.notice.done"}

// helpdeskPage is the base of every console page.
type helpdeskPage struct {
	BasePage
	Notice *Notice
}

func (s *Server) newHelpdeskPage(w http.ResponseWriter, r *http.Request, path string) helpdeskPage {
	p := helpdeskPage{BasePage: s.basePath(r, path, nil)}
	if key, ok := helpdeskNotices[s.takeFlash(w, r)]; ok {
		p.Notice = &Notice{Text: p.T(key)}
	}
	return p
}

// helpdeskIndexPage is the search.
type helpdeskIndexPage struct {
	helpdeskPage
	Query string
}

// helpdeskIndex serves GET /helpdesk.
func (s *Server) helpdeskIndex(w http.ResponseWriter, r *http.Request) error {
	return s.renderHelpdeskIndex(w, r, "", nil)
}

func (s *Server) renderHelpdeskIndex(w http.ResponseWriter, r *http.Request, q string, errs FormErrors) error {
	p := &helpdeskIndexPage{helpdeskPage: s.newHelpdeskPage(w, r, helpdeskPrefix), Query: q}
	p.Errors = errs
	p.Title = p.T("helpdesk.title")
	return s.render(w, r, http.StatusOK, "helpdesk", p)
}

// helpdeskFind serves POST /helpdesk: the citizen's page, or the search with why not. (A POST,
// so what was typed stays out of addresses and logs.)
func (s *Server) helpdeskFind(w http.ResponseWriter, r *http.Request) error {
	q := r.PostForm.Get("q")
	acct, err := s.deps.Helpdesk.Find(r.Context(), s.agent(r), q)
	if errs, ok := s.fieldErr(r, "q", err); ok {
		return s.renderHelpdeskIndex(w, r, q, errs)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, citizenURL(acct.ID), http.StatusSeeOther)
	return nil
}

func citizenURL(id int64) string { return helpdeskPrefix + "/citizens/" + strconv.FormatInt(id, 10) }

// helpdeskCitizenPage is one citizen in the console.
type helpdeskCitizenPage struct {
	helpdeskPage
	View     helpdesk.View
	Own      bool // the agent's own account: no action is offered
	Keys     []helpdeskKey
	Password passwordThrottle
	Logons   []helpdeskEvent
	Audit    []helpdeskEvent
	Messages []helpdeskMessage
	// The explanation's form and answer.
	Kinds       []kindOption
	Levels      []kindOption
	Kind, Level string
	Explained   bool
	Reasons     []helpdeskReason
	OKText      string
	Action      string // the form's address
	// Reason is the reason typed, shown back after an error.
	Reason string
}

type helpdeskKey struct {
	helpdesk.KeyLine
	Name, StatusName, CauseName string
	Locked, Throttled, Active   bool
}

type passwordThrottle struct {
	Failures  int
	Throttled bool
	Until     time.Time
}

type helpdeskEvent struct {
	store.AuditEvent
	Outcome, KindName string
	// TypeName and ReasonText are the event's type and reason in the page's language (the
	// code itself only when the catalogue has no word for it; an agent's reason as typed).
	TypeName, ReasonText string
}

type helpdeskMessage struct {
	store.Message
	StateName string
	Failed    bool
}

type helpdeskReason struct {
	helpdesk.Reason
	Text, FixText string
}

// helpdeskCitizen serves GET /helpdesk/citizens/{id} (?kind=…&level=…: explain).
func (s *Server) helpdeskCitizen(w http.ResponseWriter, r *http.Request) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	return s.renderHelpdeskCitizen(w, r, id, nil, "")
}

func (s *Server) renderHelpdeskCitizen(w http.ResponseWriter, r *http.Request, id int64, errs FormErrors, reason string) error {
	v, err := s.deps.Helpdesk.Citizen(r.Context(), id)
	if errors.Is(err, helpdesk.ErrNotFound) {
		return httpStatus(http.StatusNotFound, err)
	}
	if err != nil {
		return err
	}
	p := &helpdeskCitizenPage{helpdeskPage: s.newHelpdeskPage(w, r, citizenURL(id)), View: v, Action: citizenURL(id) + "/actions",
		Reason: reason}
	p.Errors = errs
	p.Own = v.Account.ID == stateOf(r).account.ID
	now := s.deps.Now()
	p.Password = passwordThrottle{Failures: v.Password.Failures, Throttled: v.Password.ThrottledUntil.After(now),
		Until: v.Password.ThrottledUntil}
	for _, k := range v.Keys {
		hk := helpdeskKey{KeyLine: k, Name: kindName(p.BasePage, k.Kind), StatusName: p.T("portal.status." + string(k.Status)),
			Locked: k.Status == store.KeyLocked, Throttled: !k.ThrottledUntil.IsZero(), Active: k.Status == store.KeyActive}
		if k.DeactivationCause != "" && k.Status != store.KeyActive {
			hk.CauseName = p.T("portal.cause." + k.DeactivationCause)
		}
		p.Keys = append(p.Keys, hk)
	}
	for _, e := range v.Logons {
		p.Logons = append(p.Logons, s.helpdeskEvent(p.BasePage, e))
	}
	for _, e := range v.Audit {
		p.Audit = append(p.Audit, s.helpdeskEvent(p.BasePage, e))
	}
	for _, m := range v.Messages {
		p.Messages = append(p.Messages, helpdeskMessage{Message: m, StateName: p.T("helpdesk.mail.state." + string(m.State)),
			Failed: m.State == store.MessageFailed})
	}
	for _, k := range s.deps.Helpdesk.Kinds() {
		p.Kinds = append(p.Kinds, kindOption{Kind: k, Name: kindName(p.BasePage, k)})
	}
	for _, l := range []keys.Level{keys.LevelLow, keys.LevelSubstantial, keys.LevelHigh} {
		p.Levels = append(p.Levels, kindOption{Kind: l.String(), Name: p.T("helpdesk.level." + l.String())})
	}
	q := r.URL.Query()
	p.Kind, p.Level = q.Get("kind"), q.Get("level")
	if p.Kind != "" {
		if !slices.Contains(s.deps.Helpdesk.Kinds(), p.Kind) {
			return httpStatus(http.StatusBadRequest, i18n.NewError("helpdesk.error.kind"))
		}
		level, err := keys.ParseLevel(p.Level)
		if err != nil {
			return httpStatus(http.StatusBadRequest, i18n.NewError("helpdesk.error.kind"))
		}
		ex, err := s.deps.Helpdesk.Explain(r.Context(), id, p.Kind, level)
		if err != nil {
			return err
		}
		p.Explained = true
		for _, rs := range ex.Reasons {
			p.Reasons = append(p.Reasons, helpdeskReason{Reason: rs, Text: p.printer.Error(rs.Message), FixText: p.printer.Error(rs.Fix)})
		}
		if ex.OK() {
			p.OKText = p.T("helpdesk.explain.ok", i18n.Msg("key."+p.Kind+".short"), i18n.Msg("helpdesk.level."+level.String()))
		}
	}
	p.Title = p.T("helpdesk.citizen.title", v.Account.Username)
	return s.render(w, r, http.StatusOK, "helpdesk_citizen", p)
}

// helpdeskEvent words an audit event for the console.
func (s *Server) helpdeskEvent(b BasePage, e store.AuditEvent) helpdeskEvent {
	he := helpdeskEvent{AuditEvent: e}
	if e.KeyKind != "" {
		he.KindName = kindName(b, e.KeyKind)
	}
	he.TypeName = s.catalogued(b, "helpdesk.event.", e.Type)
	he.ReasonText = e.Reason
	if e.Type != helpdesk.Action { // an agent's reason is their own words
		he.ReasonText = s.catalogued(b, "helpdesk.reason.", e.Reason)
	}
	switch e.Type {
	case "logon.success":
		he.Outcome = b.T("helpdesk.logon.success")
	case "logon.failure":
		he.Outcome = b.T("helpdesk.logon.failure", he.ReasonText)
	case "logon.throttled":
		he.Outcome = b.T("helpdesk.logon.throttled")
	default:
		he.Outcome = he.TypeName
	}
	return he
}

// catalogued words code by the catalogue's key prefix+code in the page's language, or
// returns code when there is none (a value newer than the catalogue).
func (s *Server) catalogued(b BasePage, prefix, code string) string {
	if code == "" || !s.deps.Bundle.Has(b.Lang, prefix+code) {
		return code
	}
	return b.T(prefix + code)
}

// helpdeskCodePage shows a recovery code, once.
type helpdeskCodePage struct {
	helpdeskPage
	Code, Username, Back string
	Hours                int
}

// helpdeskAction serves POST /helpdesk/citizens/{id}/actions: action, its target (key,
// message) and the reason.
func (s *Server) helpdeskAction(w http.ResponseWriter, r *http.Request) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	ctx, agent, f := r.Context(), s.agent(r), r.PostForm
	reason := f.Get("reason")
	// The button names the action and its key or message: "unlock:42".
	action, arg, _ := strings.Cut(f.Get("action"), ":")
	target := func(string) int64 {
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n <= 0 {
			return 0
		}
		return n
	}
	switch action {
	case helpdesk.ActionLiftPassword:
		err = s.deps.Helpdesk.LiftPasswordThrottle(ctx, agent, id, reason)
	case helpdesk.ActionLiftCode:
		err = s.deps.Helpdesk.LiftCodeThrottle(ctx, agent, id, target("key"), reason)
	case helpdesk.ActionUnlock:
		err = s.deps.Helpdesk.UnlockKey(ctx, agent, id, target("key"), reason)
	case helpdesk.ActionDeactivate:
		err = s.deps.Helpdesk.DeactivateKey(ctx, agent, id, target("key"), reason)
	case helpdesk.ActionResend:
		err = s.deps.Helpdesk.Resend(ctx, agent, id, target("message"), reason)
	case helpdesk.ActionRecoveryCode:
		code, err := s.deps.Helpdesk.IssueRecoveryCode(ctx, agent, id, reason)
		if err == nil {
			return s.renderRecoveryCode(w, r, id, code)
		}
		return s.helpdeskActionError(w, r, id, reason, err)
	default:
		err = i18n.NewError("helpdesk.error.action")
	}
	if err != nil {
		return s.helpdeskActionError(w, r, id, reason, err)
	}
	s.redirectWithFlash(w, r, citizenURL(id), flashHelpdeskDone)
	return nil
}

// helpdeskActionError shows the citizen's page with why the action was refused (a forged
// citizen: 404).
func (s *Server) helpdeskActionError(w http.ResponseWriter, r *http.Request, id int64, reason string, err error) error {
	if errors.Is(err, helpdesk.ErrNotFound) {
		return httpStatus(http.StatusNotFound, err)
	}
	field := ""
	if errors.Is(err, helpdesk.ErrReasonMissing) || errors.Is(err, helpdesk.ErrReasonLong) {
		field = "reason"
	}
	errs, ok := s.fieldErr(r, field, err)
	if !ok {
		return err
	}
	return s.renderHelpdeskCitizen(w, r, id, errs, reason)
}

func (s *Server) renderRecoveryCode(w http.ResponseWriter, r *http.Request, id int64, code string) error {
	v, err := s.deps.Helpdesk.Citizen(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	p := &helpdeskCodePage{helpdeskPage: s.newHelpdeskPage(w, r, citizenURL(id)), Code: code, Username: v.Account.Username,
		Back: citizenURL(id), Hours: int(s.deps.Helpdesk.Config().RecoveryValidity / time.Hour)}
	p.Title = p.T("helpdesk.code.title")
	return s.render(w, r, http.StatusOK, "helpdesk_code", p)
}
