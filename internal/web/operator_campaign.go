package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/campaign"
)

// campaignPage is a kind's campaign: its policy, the citizens with an active key by last use,
// those at risk, the pop-up's funnel, the migrations per day (an SVG chart with a table
// alternative) and the reminder rounds.
type campaignPage struct {
	operatorPage
	Kind, KindName string
	Report         *campaign.Report
	Generated      string
	Phase          string
	Dates          []labelValue
	Buckets        []labelCount
	AtRiskText     string
	Funnel         []funnelRow
	Chart          *chartView
	Table          migrationTable
	Round          *roundView
	// CanRemind: reminders can be sent (a policy whose switch-off is to come); OfferNewRound:
	// the latest round finished, so sending again needs "start a new round".
	CanRemind, OfferNewRound bool
	ReminderText             string
	// Continue is the number of the open round that the button continues (0: none).
	Continue int
}

type labelValue struct{ Label, Value string }

type labelCount struct {
	Label string
	Count int64
}

type funnelRow struct {
	Label            string
	Events, Citizens int64
	NoCitizens       bool // the row counts keys, not citizens
}

type roundView struct {
	Text, Finished string
	Open           bool
}

// migrationTable is the chart's table alternative: a row per day with migrations.
type migrationTable struct {
	Targets []string // names
	Rows    []migrationRow
}

type migrationRow struct {
	Day    string
	Counts []int64
	Total  int64
}

// operatorCampaign serves GET /operator/campaigns/{kind}.
func (s *Server) operatorCampaign(w http.ResponseWriter, r *http.Request) error {
	return s.renderCampaign(w, r, r.PathValue("kind"), nil)
}

// renderCampaign shows kind's campaign, with the errors of a refused reminder form.
func (s *Server) renderCampaign(w http.ResponseWriter, r *http.Request, kind string, errs FormErrors) error {
	rep, err := s.deps.Campaigns.Report(r.Context(), kind)
	if errors.Is(err, campaign.ErrUnknownKind) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	path := operatorPrefix + "/campaigns/" + kind
	p := &campaignPage{operatorPage: s.newOperatorPage(w, r, path), Kind: kind, Report: rep}
	b := p.BasePage
	p.Errors = errs
	p.KindName = kindName(b, kind)
	p.Title = b.T("operator.campaign.title", p.KindName)
	p.Generated = b.T("operator.campaign.generated", b.Date(rep.GeneratedAt))
	p.Phase = b.T("operator.campaign.phase", b.T("operator.phase."+rep.Phase))
	if rep.HasPolicy {
		day := func(t time.Time) string {
			if t.IsZero() {
				return b.T("operator.policy.unset")
			}
			return b.Date(t)
		}
		p.Dates = []labelValue{
			{b.T("operator.policy.activation_closed_from"), day(rep.Policy.ActivationClosedFrom)},
			{b.T("operator.policy.migration_prompt_from"), day(rep.Policy.MigrationPromptFrom)},
			{b.T("operator.policy.disabled_from"), day(rep.Policy.DisabledFrom)},
		}
	}
	for _, bucket := range rep.LastUse {
		p.Buckets = append(p.Buckets, labelCount{b.T("operator.bucket." + bucket.Name), bucket.Citizens})
	}
	var others []string
	for _, o := range rep.AtRiskOthers {
		others = append(others, kindName(b, o))
	}
	p.AtRiskText = b.T("operator.campaign.at_risk_text", rep.AtRisk, strings.Join(others, ", "))
	p.Funnel = append(p.Funnel, funnelRow{Label: b.T("operator.funnel.shown"), Events: rep.Funnel.PromptsShown, Citizens: rep.Funnel.PromptCitizens})
	for _, c := range rep.Funnel.Choices {
		p.Funnel = append(p.Funnel, funnelRow{Label: b.T("operator.funnel." + c.Choice), Events: c.Events, Citizens: c.Citizens})
	}
	p.Funnel = append(p.Funnel, funnelRow{Label: b.T("operator.funnel.migrated"), Events: rep.Funnel.Migrated, NoCitizens: true})
	p.Table = newMigrationTable(b, rep)
	p.Chart = newChart(b, rep, s.cfg.Location)

	p.CanRemind = rep.HasPolicy && !rep.Policy.DisabledFrom.IsZero() && rep.GeneratedAt.Before(rep.Policy.DisabledFrom)
	if p.CanRemind {
		p.ReminderText = b.T("operator.campaign.reminders_text", b.DayOf(rep.Policy.DisabledFrom))
	}
	if rd := rep.Round; rd != nil {
		p.Round = &roundView{Text: b.T("operator.campaign.round", rd.Number, b.Date(rd.StartedAt), rd.StartedBy, rd.Reminded),
			Open: rd.FinishedAt.IsZero()}
		if !rd.FinishedAt.IsZero() {
			p.Round.Finished = b.T("operator.campaign.round_finished", b.Date(rd.FinishedAt))
			p.OfferNewRound = true
		} else {
			p.Continue = rd.Number
		}
	}
	return s.render(w, r, http.StatusOK, "operator_campaign", p)
}

func targetName(b BasePage, target string) string {
	if target == "unknown" {
		return b.T("operator.target.unknown")
	}
	return kindName(b, target)
}

func newMigrationTable(b BasePage, rep *campaign.Report) migrationTable {
	var t migrationTable
	for _, target := range rep.Targets {
		t.Targets = append(t.Targets, targetName(b, target))
	}
	for _, m := range rep.Migrations {
		if len(t.Rows) == 0 || t.Rows[len(t.Rows)-1].Day != m.Day {
			t.Rows = append(t.Rows, migrationRow{Day: m.Day, Counts: make([]int64, len(rep.Targets))})
		}
		row := &t.Rows[len(t.Rows)-1]
		row.Counts[slices.Index(rep.Targets, m.Target)] += m.Count
		row.Total += m.Count
	}
	return t
}

// chartView is the geometry of the migrations chart: stacked bars per day and target kind,
// drawn by templates/operator_campaign.html as inline SVG (no script, no external file).
type chartView struct {
	Width, Height     int
	Title, Desc       string
	Range             string // "the last N days", when days were left out
	PlotLeft, PlotTop int
	PlotRight         int
	PlotBottom        int
	Bars              []chartBar
	YTicks            []chartTick
	XTicks            []chartTick
	Legend            []chartLegend
}

type chartBar struct {
	X, Y, W, H int
	Fill       string
	Label      string
}

type chartTick struct {
	X, Y  int
	Label string
}

type chartLegend struct {
	X, Y  int
	Fill  string
	Label string
}

// chartDays is how many days the chart shows at most (the table has them all).
const chartDays = 92

// chartColours are the Okabe–Ito colours, told apart with every common colour blindness.
var chartColours = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"}

// newChart lays out the chart of rep's migrations, nil when there are none.
func newChart(b BasePage, rep *campaign.Report, loc *time.Location) *chartView {
	if len(rep.Migrations) == 0 {
		return nil
	}
	first, err := time.ParseInLocation(time.DateOnly, rep.Migrations[0].Day, loc)
	if err != nil {
		return nil
	}
	last, err := time.ParseInLocation(time.DateOnly, rep.Migrations[len(rep.Migrations)-1].Day, loc)
	if err != nil {
		return nil
	}
	var days []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	c := &chartView{Width: 760, Height: 300, PlotLeft: 56, PlotTop: 16, PlotRight: 744, PlotBottom: 240}
	if len(days) > chartDays {
		days = days[len(days)-chartDays:]
		c.Range = b.T("operator.chart.range", chartDays)
	}
	index := map[string]int{}
	for i, d := range days {
		index[d] = i
	}
	stack := make([][]int64, len(days)) // per day, per target
	var total, peak int64
	for i := range stack {
		stack[i] = make([]int64, len(rep.Targets))
	}
	for _, m := range rep.Migrations {
		i, ok := index[m.Day]
		if !ok {
			continue
		}
		stack[i][slices.Index(rep.Targets, m.Target)] += m.Count
		total += m.Count
	}
	for _, s := range stack {
		var sum int64
		for _, n := range s {
			sum += n
		}
		peak = max(peak, sum)
	}
	top := niceCeiling(peak)
	plotH := c.PlotBottom - c.PlotTop
	slot := float64(c.PlotRight-c.PlotLeft) / float64(len(days))
	barW := max(1, int(slot*0.8))
	y := func(v int64) int { return c.PlotBottom - int(float64(v)*float64(plotH)/float64(top)+0.5) }
	for i, s := range stack {
		x := c.PlotLeft + int(float64(i)*slot+(slot-float64(barW))/2)
		var base int64
		for t, n := range s {
			if n == 0 {
				continue
			}
			y0, y1 := y(base), y(base+n)
			c.Bars = append(c.Bars, chartBar{X: x, Y: y1, W: barW, H: max(1, y0-y1), Fill: chartColours[t%len(chartColours)],
				Label: days[i] + ": " + strconv.FormatInt(n, 10) + " → " + targetName(b, rep.Targets[t])})
			base += n
		}
	}
	for _, v := range []int64{0, top / 2, top} {
		c.YTicks = append(c.YTicks, chartTick{X: c.PlotLeft - 8, Y: y(v), Label: strconv.FormatInt(v, 10)})
	}
	for _, i := range uniqueInts(0, len(days)/2, len(days)-1) {
		c.XTicks = append(c.XTicks, chartTick{X: c.PlotLeft + int(float64(i)*slot+slot/2), Y: c.PlotBottom + 18, Label: days[i]})
	}
	for t, target := range rep.Targets {
		c.Legend = append(c.Legend, chartLegend{X: c.PlotLeft + t*200, Y: c.Height - 24, Fill: chartColours[t%len(chartColours)],
			Label: targetName(b, target)})
	}
	c.Title = b.T("operator.chart.title")
	c.Desc = b.T("operator.chart.desc", total, days[0], days[len(days)-1], peak)
	return c
}

// niceCeiling is the smallest of 1, 2, 5 × 10ⁿ (and 2 at least, so the middle tick is whole)
// at or above v.
func niceCeiling(v int64) int64 {
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if n := m * p; n >= v && n >= 2 {
				return n
			}
		}
	}
}

func uniqueInts(vs ...int) []int {
	var out []int
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
