package devmailbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

var t0 = time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC)

func bundle(t *testing.T) *i18n.Bundle {
	t.Helper()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// langQuery picks the language from ?lang=, as the web layer's negotiation would.
func langQuery(r *http.Request) string { return r.URL.Query().Get("lang") }

// seeded returns a store holding two held messages composed by package mail (the second with a
// hostile name) and the handler over it.
func seeded(t *testing.T, db *sqlstore.DB) (http.Handler, []store.Message) {
	t.Helper()
	c, err := mail.NewComposer(bundle(t), mail.ComposerConfig{
		ServiceName: "Sleutelbos", BaseURL: "https://login.example.be", From: "noreply@example.be",
		Hold: true, Now: func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []store.Message
	for i, to := range []mail.Recipient{
		{AccountID: 1, Name: "Jan Peeters", Address: "jan@example.be", Language: "nl"},
		{AccountID: 2, Name: `<script>alert("x")</script>`, Address: "eve@example.be", Language: "en"},
	} {
		m, err := c.Render(to, mail.TemplateLogonCode, map[string]any{"Code": "48291" + string(rune('0'+i)), "Minutes": 5, "ExpiresAt": t0.Add(5 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Enqueue(context.Background(), &m); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return New(db, bundle(t), Options{Lang: langQuery}), msgs
}

func get(t *testing.T, h http.Handler, method, target string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Result().Header, string(body)
}

// checkPage asserts what every page needs for axe: a language, a title, one main landmark.
func checkPage(t *testing.T, body, lang string) {
	t.Helper()
	for _, want := range []string{"<!DOCTYPE html>", `<html lang="` + lang + `">`, "<title>", `<main id="main">`, "</main>", "<h1>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Count(body, "<main") != 1 || strings.Count(body, "<h1>") != 1 {
		t.Errorf("want exactly one <main> and one <h1>:\n%s", body)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	eachStore(t, testList)
}

func testList(t *testing.T, db *sqlstore.DB) {
	h, msgs := seeded(t, db)
	for _, target := range []string{"/dev/mailbox", "/dev/mailbox/"} {
		code, hdr, body := get(t, h, http.MethodGet, target)
		if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s = %d %v", target, code, hdr)
		}
		checkPage(t, body, "en")
		for _, want := range []string{
			"<caption>Messages, newest first</caption>", `<th scope="col">Subject</th>`, `<th scope="col">To</th>`,
			`<a href="/dev/mailbox/2">`, `<a href="/dev/mailbox/1">`, "held (not sent)",
			`<time datetime="2024-01-15T09:30:00Z">2024-01-15 09:30:00 UTC</time>`,
			"Jan Peeters &lt;jan@example.be&gt;", msgs[0].Subject,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %q", target, want)
			}
		}
		if strings.Index(body, "/dev/mailbox/2") > strings.Index(body, "/dev/mailbox/1") {
			t.Error("the list is not newest first")
		}
		if strings.Contains(body, "<script>") {
			t.Error("a name reached the page unescaped")
		}
	}
}

func TestListLanguageAndEmpty(t *testing.T) {
	t.Parallel()
	eachStore(t, testListLanguageAndEmpty)
}

func testListLanguageAndEmpty(t *testing.T, db *sqlstore.DB) {
	h := New(db, bundle(t), Options{Lang: langQuery})
	code, _, body := get(t, h, http.MethodGet, "/dev/mailbox?lang=nl")
	if code != http.StatusOK {
		t.Fatalf("GET = %d", code)
	}
	checkPage(t, body, "nl")
	if !strings.Contains(body, "<title>Ontwikkelingsmailbox</title>") || !strings.Contains(body, "De mailbox is leeg.") || strings.Contains(body, "<table") {
		t.Errorf("empty Dutch mailbox:\n%s", body)
	}
	// nil lang: the fallback language
	_, _, body = get(t, New(db, bundle(t), Options{}), http.MethodGet, "/dev/mailbox")
	checkPage(t, body, "en")
}

func TestShow(t *testing.T) {
	t.Parallel()
	eachStore(t, testShow)
}

func testShow(t *testing.T, db *sqlstore.DB) {
	h, msgs := seeded(t, db)
	code, _, body := get(t, h, http.MethodGet, "/dev/mailbox/1?lang=fr")
	if code != http.StatusOK {
		t.Fatalf("GET /dev/mailbox/1 = %d", code)
	}
	checkPage(t, body, "fr")
	m := msgs[0]
	for _, want := range []string{
		"<h1>" + m.Subject + "</h1>", "<title>" + m.Subject + " – Boîte aux lettres de développement</title>",
		"<code>" + strings.ReplaceAll(strings.ReplaceAll(m.MessageID, "<", "&lt;"), ">", "&gt;") + "</code>",
		"<pre>Beste Jan Peeters,", "482910", `<iframe sandbox="allow-scripts" srcdoc="&lt;!DOCTYPE html&gt;`,
		`title="Version HTML de l’e-mail"`, "<summary>Afficher le code source HTML</summary>",
		`<a href="/dev/mailbox">Retour à la boîte aux lettres</a>`, "logon_code",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("message page lacks %q:\n%s", want, body)
		}
	}
	// The e-mail's HTML never becomes part of the page's own markup.
	if strings.Contains(body, "<p>Beste") || strings.Count(body, "<html") != 1 {
		t.Error("the e-mail HTML leaked into the page unescaped")
	}
	_, _, body = get(t, h, http.MethodGet, "/dev/mailbox/2")
	if strings.Contains(body, "<script>") {
		t.Error("a hostile name reached the message page unescaped")
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	eachStore(t, testNotFound)
}

func testNotFound(t *testing.T, db *sqlstore.DB) {
	h, _ := seeded(t, db)
	tests := []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/dev/mailbox/99", http.StatusNotFound},
		{http.MethodGet, "/dev/mailbox/0", http.StatusNotFound},
		{http.MethodGet, "/dev/mailbox/abc", http.StatusNotFound},
		{http.MethodGet, "/dev/mailbox/1/raw", http.StatusNotFound},
		{http.MethodGet, "/somewhere", http.StatusNotFound},
		{http.MethodPost, "/dev/mailbox", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/dev/mailbox/1", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		code, hdr, body := get(t, h, tt.method, tt.target+"?lang=de")
		if code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.target, code, tt.want)
		}
		// Without a site around it, the mailbox's own page, localised.
		checkPage(t, body, "de")
		if want := map[int]string{404: "Seite nicht gefunden", 405: "Anfrage nicht erlaubt"}[tt.want]; !strings.Contains(body, want) {
			t.Errorf("%s %s: page lacks %q:\n%s", tt.method, tt.target, want, body)
		}
		if tt.want == http.StatusMethodNotAllowed && hdr.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow = %q", tt.method, tt.target, hdr.Get("Allow"))
		}
	}
}

// TestErrorsUseTheSitesPage: mounted in the site, every error answer is the site's own error
// page (Options.Error) for the request.
func TestErrorsUseTheSitesPage(t *testing.T) {
	t.Parallel()
	var got []int
	siteError := func(w http.ResponseWriter, r *http.Request, status int) {
		got = append(got, status)
		w.WriteHeader(status)
		io.WriteString(w, "site error page "+r.URL.Path)
	}
	db := sqltest.SQLite(t)
	for _, tt := range []struct {
		st             Store
		method, target string
		want           int
	}{
		{db, http.MethodGet, "/dev/mailbox/99", http.StatusNotFound},
		{db, http.MethodGet, "/dev/mailbox/1/raw", http.StatusNotFound},
		{db, http.MethodPost, "/dev/mailbox", http.StatusMethodNotAllowed},
		{brokenOutbox{}, http.MethodGet, "/dev/mailbox", http.StatusInternalServerError},
		{brokenOutbox{}, http.MethodGet, "/dev/mailbox/1", http.StatusInternalServerError},
	} {
		got = nil
		h := New(tt.st, bundle(t), Options{Lang: langQuery, Error: siteError})
		code, _, body := get(t, h, tt.method, tt.target)
		if code != tt.want || len(got) != 1 || got[0] != tt.want || body != "site error page "+tt.target {
			t.Errorf("%s %s: %d %q, site error page called with %v; want %d", tt.method, tt.target, code, body, got, tt.want)
		}
	}
}

// eachStore runs fn in parallel on SQLite and PostgreSQL, each with a fresh store.
func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		fn(t, db)
	})
}

// brokenOutbox fails every call.
type brokenOutbox struct{}

var _ Store = brokenOutbox{}

func (brokenOutbox) ListMessages(context.Context, int) ([]store.Message, error) {
	return nil, errors.New("database is down: secret detail")
}

func (brokenOutbox) GetMessage(context.Context, int64) (store.Message, error) {
	return store.Message{}, errors.New("database is down: secret detail")
}

func TestStoreError(t *testing.T) {
	t.Parallel()
	h := New(brokenOutbox{}, bundle(t), Options{Lang: langQuery})
	for _, target := range []string{"/dev/mailbox", "/dev/mailbox/1"} {
		code, _, body := get(t, h, http.MethodGet, target)
		if code != http.StatusInternalServerError || strings.Contains(body, "secret") || !strings.Contains(body, "Something went wrong") {
			t.Errorf("GET %s with a broken store = %d %q", target, code, body)
		}
	}
}
