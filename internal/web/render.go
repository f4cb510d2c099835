package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticAssets embed.FS

// pageNames lists every page template (templates/<name>.html, defining "main"). New fails when
// one is missing, so a typo is found at start-up rather than by the first visitor. Every page
// is parsed with templates/layout.html and the shared pieces of templates/partials.html.
func pageNames() []string {
	return []string{"login", "login_prompt", "login_password", "login_code", "home", "help_forgot", "privacy", "accessibility", "error",
		"oidc_continue", "oidc_logout", "oidc_gone",
		"keys", "key_deactivate", "wizard_email", "wizard_email_code", "wizard_select", "wizard_prepare",
		"wizard_activate", "wizard_done", "profile", "info", "info_why",
		"register", "register_code", "register_username",
		"operator", "operator_campaign",
		"forgot_username", "forgot_password", "forgot_sent", "reset_key", "reset_password", "reset_invalid",
		"key_lost", "helpdesk", "helpdesk_citizen", "helpdesk_code", "recover"}
}

// pageSet holds one parsed template per page, each combined with the layout.
type pageSet struct {
	pages map[string]*template.Template
}

func parsePages() (*pageSet, error) {
	ps := &pageSet{pages: make(map[string]*template.Template)}
	for _, name := range pageNames() {
		t, err := template.New("layout.html").ParseFS(templateFiles, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse page %s: %w", name, err)
		}
		if t.Lookup("main") == nil {
			return nil, fmt.Errorf("web: page %s defines no \"main\" template", name)
		}
		ps.pages[name] = t
	}
	return ps, nil
}

// BasePage is what every page shows: the header (language switch, service name, the citizen's
// name and "Sign out") and the document's language and title. Page structs embed it.
type BasePage struct {
	// Lang is the page language (nl, fr, de, en), used for <html lang>.
	Lang string
	// Title is the page's own title; the layout appends the service name.
	Title       string
	ServiceName string
	// UserName is the logged-on citizen's name; empty before logon.
	UserName string
	// CSRF is the token every form carries in its hidden "csrf" field.
	CSRF string
	// Path is the page's path, kept by the language switch.
	Path string
	// Langs are the language switch's links.
	Langs []LangLink
	// Contact is the helpdesk (nil when none is configured); PrivacyURL and AccessibilityURL
	// are the footer's links to the statements (empty: none).
	Contact                      *contactView
	PrivacyURL, AccessibilityURL string
	// CSS is the stylesheet's versioned URL; JS the script's (it only moves focus to the
	// error summary — every page works without it).
	CSS string
	JS  string
	// Errors are the errors of the form the page answers, shown in the error summary at the
	// top and next to their fields; the title then starts with "Error: ".
	Errors FormErrors
	// ClosedNotes are the logon pages' side notes for kinds whose activation is closed ("Note!
	// You cannot activate a new token anymore…", SPEC §3), shown in the "More information" aside.
	ClosedNotes []string
	printer     *i18n.Printer
	loc         *time.Location
}

// Date shows t as a date and time of day in the page language and the service's time zone
// ("15 January 2024 at 10:30"); the zero time is "—".
func (b BasePage) Date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(b.loc)
	d := b.T("mail.date", t.Day(), b.T(fmt.Sprintf("mail.month.%d", int(t.Month()))), t.Year())
	return b.T("mail.datetime", d, t.Format("15:04"))
}

// Instant shows t as the helpdesk console writes instants: date, time of day and the zone's
// offset in the service's time zone (helpdesk.FormatInstant), the same form as the console's
// explanations, so an agent never guesses which zone a time is in.
func (b BasePage) Instant(t time.Time) string { return helpdesk.FormatInstant(t, b.loc) }

// DayOf shows the date of t only ("31 January 2024").
func (b BasePage) DayOf(t time.Time) string {
	t = t.In(b.loc)
	return b.T("mail.date", t.Day(), b.T(fmt.Sprintf("mail.month.%d", int(t.Month()))), t.Year())
}

// FormError is one error of a submitted form (the GOV.UK pattern of DESIGN.md): the error
// summary links to the control Field, which gets aria-invalid and aria-describedby pointing
// at the message next to it (id MessageID).
type FormError struct {
	// Field is the id of the form control the error is about.
	Field   string
	Message string
}

// MessageID is the id of the error message shown next to the field.
func (e FormError) MessageID() string { return e.Field + "-error" }

// FormErrors are the errors of a submitted form, in the order of their fields. The templates
// show them with the "error_summary" and "field_error" pieces of templates/partials.html.
type FormErrors []FormError

// For returns the error of the control field, or nil.
func (es FormErrors) For(field string) *FormError {
	for i := range es {
		if es[i].Field == field {
			return &es[i]
		}
	}
	return nil
}

// fieldErrorView is what templates/partials.html shows next to a field.
type fieldErrorView struct {
	ID, Label, Message string
}

// FieldError returns the error shown next to control field, or nil. Label is the visually
// hidden "Error:" that screen readers announce before the message.
func (b BasePage) FieldError(field string) *fieldErrorView {
	e := b.Errors.For(field)
	if e == nil {
		return nil
	}
	return &fieldErrorView{ID: e.MessageID(), Label: b.T("web.form.error_label"), Message: e.Message}
}

// fieldError returns the FormErrors of one message about control field.
func fieldError(field, msg string) FormErrors { return FormErrors{{Field: field, Message: msg}} }

// T translates key with args in the page language.
func (b BasePage) T(key string, args ...any) string { return b.printer.T(key, args...) }

// Notice is a message at the top of a page that is not an error of its form: a confirmation
// ("A new code has been sent", styled as success) or a warning ("Your logon took too long").
type Notice struct {
	Text    string
	Warning bool
}

// contactView is the helpdesk as pages show it.
type contactView struct {
	Email, Phone, URL string
	// Tel is the phone number as a tel: URL: only + and digits, so safe to mark trusted
	// (html/template would refuse the tel: scheme).
	Tel template.URL
}

func newContactView(c Contact) *contactView {
	if c.Email == "" && c.Phone == "" && c.URL == "" {
		return nil
	}
	v := &contactView{Email: c.Email, Phone: c.Phone, URL: c.URL}
	if c.Phone != "" {
		tel := strings.Map(func(r rune) rune {
			if r == '+' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, strings.Replace(c.Phone, "(0)", "", 1))
		v.Tel = template.URL("tel:" + tel)
	}
	return v
}

// LangLink is one entry of the language switch.
type LangLink struct {
	Code    string // nl
	Name    string // Nederlands
	URL     string // the current page in that language
	Current bool
}

// languageName is each language's name in itself.
func languageName(code string) string {
	switch code {
	case "nl":
		return "Nederlands"
	case "fr":
		return "Français"
	case "de":
		return "Deutsch"
	case "en":
		return "English"
	}
	return code
}

// lang returns the request's negotiated language (negotiating now when the middleware has not).
func (s *Server) lang(r *http.Request) string {
	st := stateOf(r)
	if st.lang == "" {
		return s.language(r, st)
	}
	return st.lang
}

func (s *Server) printer(r *http.Request) *i18n.Printer { return s.deps.Bundle.Printer(s.lang(r)) }

// base returns the BasePage of r. The language switch keeps the current path and query for GET
// requests; a page rendered in answer to a POST names the page to switch on with basePath.
func (s *Server) base(r *http.Request) BasePage {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return s.basePath(r, r.URL.Path, r.URL.Query())
	}
	return s.basePath(r, "/", nil)
}

// basePath returns the BasePage of r whose language switch links to p with query q. p often
// comes from the request ("/%2F%2Fhost/x" is the path "///host/x"), so the links are built
// only from a same-origin path — anything else links to "/" — and p is escaped again.
func (s *Server) basePath(r *http.Request, p string, q url.Values) BasePage {
	if safeReturn(p) != p {
		p = "/"
	}
	p = (&url.URL{Path: p}).EscapedPath()
	st := stateOf(r)
	lang := s.lang(r)
	b := BasePage{
		Lang:        lang,
		ServiceName: s.cfg.ServiceName,
		CSRF:        s.csrfToken(r),
		Path:        p,
		CSS:         s.static.url("style.css"),
		JS:          s.static.url("focus.js"),
		Contact:     newContactView(s.cfg.Operator),
		PrivacyURL:  s.cfg.PrivacyURL,

		AccessibilityURL: s.cfg.AccessibilityURL,
		printer:          s.deps.Bundle.Printer(lang),
		loc:              s.cfg.Location,
	}
	if st.account != nil && st.sess.loggedOn() {
		b.UserName = st.account.Name
	}
	for _, code := range i18n.Languages() {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("lang", code)
		b.Langs = append(b.Langs, LangLink{Code: code, Name: languageName(code), URL: p + "?" + v.Encode(), Current: code == lang})
	}
	return b
}

// render executes page template name with page and writes it with status. Pages are personal
// and carry CSRF tokens, so they are never cached.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, page any) error {
	t, ok := s.pages.pages[name]
	if !ok {
		return fmt.Errorf("render: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, page); err != nil {
		if name == "error" {
			s.log.LogAttrs(r.Context(), slog.LevelError, "render error page", slog.String("error", err.Error()))
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return nil
		}
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "write page", slog.String("error", err.Error()))
	}
	return nil
}

// staticFile is one embedded asset.
type staticFile struct {
	data []byte
	etag string // hex SHA-256 prefix of data
}

// staticFiles are the embedded assets (static/), served with long cache lifetimes under
// versioned URLs.
type staticFiles struct {
	files map[string]staticFile
}

func newStaticFiles() (*staticFiles, error) {
	sf := &staticFiles{files: make(map[string]staticFile)}
	err := fs.WalkDir(staticAssets, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticAssets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel := strings.TrimPrefix(p, "static/")
		sf.files[rel] = staticFile{data: data, etag: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: load static files: %w", err)
	}
	for _, name := range []string{"style.css", "focus.js"} {
		if _, ok := sf.files[name]; !ok {
			return nil, fmt.Errorf("web: static/%s is missing", name)
		}
	}
	return sf, nil
}

// url returns the versioned URL of asset name; a new release changes the URL, so the asset can
// be cached for a year.
func (sf *staticFiles) url(name string) string {
	return "/static/" + name + "?v=" + sf.files[name].etag
}

// serveStatic serves GET /static/{path...}.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) error {
	name := path.Clean(r.PathValue("path"))
	f, ok := s.static.files[name]
	if !ok {
		return errNotFound
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+f.etag+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
	return nil
}
