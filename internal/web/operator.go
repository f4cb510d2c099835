package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/sleutelbos/sleutelbos/internal/campaign"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// This file holds the operator pages (SPEC §1 and §5, issue 9): /operator/…, for accounts with
// the operator role (store.RoleOperator) logged on at level substantial. guard (access.go)
// sends every route under operatorPrefix through checkOperator first, so a handler here never
// checks the role itself; the role is read from the store on every request, so a revocation
// acts at once.

// operatorPrefix is the path under which every operator page lives.
const operatorPrefix = "/operator"

// Roles tells whether an account holds a role (store.Roles).
type Roles interface {
	HasRole(ctx context.Context, accountID int64, role string) (bool, error)
}

var _ Roles = store.Store(nil)

// operatorLevel is the level of assurance the operator pages need.
const operatorLevel = keys.LevelSubstantial

// webRemindBatches bounds the batches of reminders one request sends (500 holders each, some
// seconds on a busy machine): a request must end within the server's write timeout (30 s), and
// the round stays open for the next request.
const webRemindBatches = 10

// isOperatorRoute reports whether pattern is an operator page.
func isOperatorRoute(pattern string) bool { return underPrefix(pattern, operatorPrefix) }

// operatorRoutes registers the operator pages.
//
//	GET  /operator                                    the campaigns: every key kind and its phase
//	GET  /operator/campaigns/{kind}                   a kind's campaign report, chart and reminders
//	GET  /operator/campaigns/{kind}/at-risk.csv       the citizens at risk (audited download)
//	POST /operator/campaigns/{kind}/remind            send (or continue) a reminder round (audited)
func (s *Server) operatorRoutes(route func(string, handlerFunc)) {
	route("GET /operator", s.operatorIndex)
	route("GET /operator/campaigns/{kind}", s.operatorCampaign)
	route("GET /operator/campaigns/{kind}/at-risk.csv", s.operatorAtRisk)
	route("POST /operator/campaigns/{kind}/remind", s.operatorRemind)
}

// checkOperator lets the request through when its citizen holds the operator role and logged
// on at operatorLevel (checkRole).
func (s *Server) checkOperator(w http.ResponseWriter, r *http.Request) bool {
	return s.checkRole(w, r, store.RoleOperator, s.deps.Campaigns != nil, operatorLevel, "operator.forbidden")
}

// operator is the request's operator, for the audit log.
func (s *Server) operator(r *http.Request) campaign.Operator {
	a := stateOf(r).account
	return campaign.Operator{AccountID: a.ID, Name: a.Username, IP: s.clientIP(r)}
}

// operatorPage is the base of every operator page.
type operatorPage struct {
	BasePage
	Notice *Notice
}

// operatorNotices are the flashes the operator pages show.
var operatorNotices = map[string]struct {
	key     string
	warning bool
}{
	flashRemindersSent:    {"operator.notice.sent", false},
	flashRemindersPartial: {"operator.notice.partial", true},
}

func (s *Server) newOperatorPage(w http.ResponseWriter, r *http.Request, path string) operatorPage {
	p := operatorPage{BasePage: s.basePath(r, path, nil)}
	if n, ok := operatorNotices[s.takeFlash(w, r)]; ok {
		p.Notice = &Notice{Text: p.T(n.key), Warning: n.warning}
	}
	return p
}

// operatorIndexPage lists the kinds a campaign can be about.
type operatorIndexPage struct {
	operatorPage
	Kinds []operatorKind
}

type operatorKind struct {
	Kind, Name, Phase, URL string
}

// operatorIndex serves GET /operator.
func (s *Server) operatorIndex(w http.ResponseWriter, r *http.Request) error {
	p := &operatorIndexPage{operatorPage: s.newOperatorPage(w, r, operatorPrefix)}
	for _, kind := range s.deps.Campaigns.Kinds() {
		phase, err := s.deps.Campaigns.Phase(r.Context(), kind)
		if err != nil {
			return err
		}
		p.Kinds = append(p.Kinds, operatorKind{Kind: kind, Name: kindName(p.BasePage, kind), Phase: p.T("operator.phase." + phase),
			URL: operatorPrefix + "/campaigns/" + kind})
	}
	p.Title = p.T("operator.title")
	return s.render(w, r, http.StatusOK, "operator", p)
}

// operatorAtRisk serves GET /operator/campaigns/{kind}/at-risk.csv: the download is personal
// data leaving the service, so it is audited before the first byte.
func (s *Server) operatorAtRisk(w http.ResponseWriter, r *http.Request) error {
	kind := r.PathValue("kind")
	if !slices.Contains(s.deps.Campaigns.Kinds(), kind) {
		return errNotFound
	}
	if err := s.deps.Campaigns.Record(r.Context(), s.operator(r), "at_risk_csv", kind, nil); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="at-risk-%s.csv"`, kind))
	h.Set("Cache-Control", "no-store")
	if err := s.deps.Campaigns.WriteAtRiskCSV(r.Context(), kind, w); err != nil {
		// The status is sent; the log says what is missing from the file.
		s.log.LogAttrs(r.Context(), slog.LevelError, "at-risk csv", slog.String("kind", kind), slog.String("error", err.Error()))
	}
	return nil
}

// operatorRemind serves POST /operator/campaigns/{kind}/remind: a reminder round, started or
// continued, as far as webRemindBatches takes it.
func (s *Server) operatorRemind(w http.ResponseWriter, r *http.Request) error {
	kind := r.PathValue("kind")
	if !slices.Contains(s.deps.Campaigns.Kinds(), kind) {
		return errNotFound
	}
	res, err := s.deps.Campaigns.Remind(r.Context(), kind, campaign.RemindOptions{
		NewRound: r.PostForm.Get("new_round") == "1", Operator: s.operator(r), MaxBatches: webRemindBatches})
	var le *i18n.LocalizedError
	if errors.As(err, &le) {
		field := ""
		var fin *campaign.RoundFinishedError
		if errors.As(err, &fin) {
			field = "new_round"
		}
		return s.renderCampaign(w, r, kind, fieldError(field, s.printer(r).Error(le)))
	}
	if err != nil {
		return err
	}
	flash := flashRemindersSent
	if !res.Finished {
		flash = flashRemindersPartial
	}
	s.redirectWithFlash(w, r, operatorPrefix+"/campaigns/"+kind+"#reminders", flash)
	return nil
}
