package devmailbox

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Path is where the mailbox is served.
const Path = "/dev/mailbox"

// listLimit is how many messages the list shows.
const listLimit = 200

//go:embed templates/mailbox.html.tmpl
var templateFS embed.FS

// tmpl is parsed once; it holds no state and is safe for concurrent use.
var tmpl = template.Must(template.ParseFS(templateFS, "templates/mailbox.html.tmpl"))

// Store is what the mailbox reads: the outbox's messages (store.Store implements it).
type Store interface {
	ListMessages(ctx context.Context, limit int) ([]store.Message, error)
	GetMessage(ctx context.Context, id int64) (store.Message, error)
}

var _ Store = store.Store(nil)

// Options connect the mailbox to the site it is mounted in.
type Options struct {
	// Lang picks the page language of a request; nil means the catalogue's fallback language.
	Lang func(*http.Request) string
	// Error writes the site's error page for status (404, 405 or 500) in the request's
	// language, so the mailbox answers errors like every other page; nil means a minimal
	// localised page of the mailbox's own.
	Error func(w http.ResponseWriter, r *http.Request, status int)
}

// handler serves the mailbox pages.
type handler struct {
	st     Store
	bundle *i18n.Bundle
	opts   Options
	mux    *http.ServeMux
}

// New returns the development mailbox handler for GET /dev/mailbox and GET /dev/mailbox/{id};
// any other path under /dev/mailbox/ is 404 and any other method 405.
func New(st Store, b *i18n.Bundle, opts Options) http.Handler {
	h := &handler{st: st, bundle: b, opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+Path, h.list)
	h.mux.HandleFunc("GET "+Path+"/{$}", h.list)
	h.mux.HandleFunc("GET "+Path+"/{id}", h.show)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.error(w, r, http.StatusNotFound) })
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.error(w, r, http.StatusMethodNotAllowed)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// page is the data of every mailbox page.
type page struct {
	p       *i18n.Printer
	Lang    string
	Title   string
	Rows    []row
	Message *message
	// Status is the error shown by the "error" page.
	Status int
}

// T translates a catalogue key in the page's language.
func (pg page) T(key string, args ...any) string { return pg.p.T(key, args...) }

type row struct {
	URL      string
	Created  stamp
	To       string
	Subject  string
	State    string
	Language string
}

type message struct {
	store.Message
	Created stamp
	Sent    stamp
	To      string
	State   string
	// CodeExpired: the message carried a code and its text is gone (the code expired).
	CodeExpired bool
}

// stamp is a time shown to people and to machines (<time datetime>).
type stamp struct {
	Text, ISO string
}

func newStamp(t time.Time) stamp {
	if t.IsZero() {
		return stamp{}
	}
	t = t.UTC()
	return stamp{Text: t.Format("2006-01-02 15:04:05 UTC"), ISO: t.Format(time.RFC3339)}
}

func (h *handler) newPage(r *http.Request) page {
	lang := ""
	if h.opts.Lang != nil {
		lang = h.opts.Lang(r)
	}
	p := h.bundle.Printer(lang)
	return page{p: p, Lang: p.Lang(), Title: p.T("mailbox.title")}
}

func (h *handler) state(p *i18n.Printer, s store.MessageState) string {
	if key := "mailbox.state." + string(s); h.bundle.Has(p.Lang(), key) {
		return p.T(key)
	}
	return string(s)
}

func recipient(name, addr string) string {
	if name == "" {
		return addr
	}
	return name + " <" + addr + ">"
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	pg := h.newPage(r)
	msgs, err := h.st.ListMessages(r.Context(), listLimit)
	if err != nil {
		h.error(w, r, http.StatusInternalServerError)
		return
	}
	for _, m := range msgs {
		pg.Rows = append(pg.Rows, row{
			URL:      Path + "/" + strconv.FormatInt(m.ID, 10),
			Created:  newStamp(m.CreatedAt),
			To:       recipient(m.ToName, m.ToAddress),
			Subject:  m.Subject,
			State:    h.state(pg.p, m.State),
			Language: m.Language,
		})
	}
	h.render(w, r, http.StatusOK, "list", pg)
}

func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	pg := h.newPage(r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.error(w, r, http.StatusNotFound)
		return
	}
	m, err := h.st.GetMessage(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.error(w, r, http.StatusNotFound)
		return
	}
	if err != nil {
		h.error(w, r, http.StatusInternalServerError)
		return
	}
	pg.Title = m.Subject + " – " + pg.Title
	pg.Message = &message{
		Message: m,
		Created: newStamp(m.CreatedAt),
		Sent:    newStamp(m.SentAt),
		To:      recipient(m.ToName, m.ToAddress),
		State:   h.state(pg.p, m.State),
		// Without SMTP every message is held, and a held one loses its text only when its
		// code expires.
		CodeExpired: !m.SecretUntil.IsZero() && m.TextBody == "" && m.HTMLBody == "",
	}
	h.render(w, r, http.StatusOK, "show", pg)
}

// error answers with the error page for status (404, 405 or 500); internal details never
// reach the page.
func (h *handler) error(w http.ResponseWriter, r *http.Request, status int) {
	if h.opts.Error != nil {
		h.opts.Error(w, r, status)
		return
	}
	pg := h.newPage(r)
	pg.Status = status
	pg.Title = pg.p.T(fmt.Sprintf("web.error.%d.title", status)) + " – " + pg.Title
	h.render(w, r, status, "error", pg)
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, pg page) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, pg); err != nil {
		if name == "error" {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		h.error(w, r, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
