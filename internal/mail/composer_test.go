package mail

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of every test composer.
var fixedNow = time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC)

// zeroReader yields zero bytes, so Message-IDs are predictable in golden files.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func testBundle(t testing.TB) *i18n.Bundle {
	t.Helper()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testConfig() ComposerConfig {
	return ComposerConfig{
		ServiceName: "Sleutelbos",
		BaseURL:     "https://login.example.be",
		From:        "Sleutelbos <noreply@example.be>",
		Now:         func() time.Time { return fixedNow },
	}
}

func newTestComposer(t testing.TB, mod func(*ComposerConfig)) *Composer {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewComposer(testBundle(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// disabledFrom is the seed's token phase-out instant: 31 January 2024 00:00 in Brussels.
var disabledFrom = time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC)

// codeExpiry is when the sample codes stop being valid.
var codeExpiry = time.Date(2024, 1, 15, 9, 35, 0, 0, time.UTC)

// sampleData is valid data for every template.
var sampleData = map[string]map[string]any{
	TemplateLogonCode:        {"Code": "482913", "Minutes": 5, "ExpiresAt": codeExpiry},
	TemplateRegistrationCode: {"Code": "105728", "Minutes": 5, "ExpiresAt": codeExpiry},
	TemplateEmailChange:      {"Code": "730016", "Minutes": 5, "ExpiresAt": codeExpiry, "NewAddress": "jan.nieuw@example.be"},
	TemplateEmailChanged:     {"MaskedAddress": "j•••@example.be"},
	TemplateKeyActivated:     {"Kind": "emailcode", "Replaces": "tokencard", "Reactivated": false},
	TemplateKeyDeactivated:   {"Kind": "tokencard", "Cause": "migration"},
	TemplatePhaseoutReminder: {"Kind": "tokencard", "DisabledFrom": disabledFrom, "ActivateURL": "https://login.example.be/keys/activate?from=tokencard"},
	TemplateKeyUnusedWarning: {"Kind": "tokencard", "Deadline": disabledFrom, "LogonURL": "https://login.example.be/keys"},
	TemplateSignupCode:       {"Code": "619204", "Minutes": 5, "ExpiresAt": codeExpiry},
	TemplateSignupInUse:      {},
	TemplateWelcome:          {"Username": "jan.peeters"},
	TemplateForgotUsername:   {"Username": "jan.peeters"},
	TemplatePasswordReset:    {"Token": "42.c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I", "Minutes": 30, "ExpiresAt": codeExpiry},
	TemplatePasswordChanged:  {},
	TemplateHelpdeskAction:   {"Action": "lift_code", "Kind": "tokencard"},
}

func recipient(lang string) Recipient {
	return Recipient{AccountID: 42, Name: "Jan Peeters", Address: "jan@example.be", Language: lang}
}

// TestRenderGolden pins subject, text and HTML of every template in every language. Run
// `go test ./internal/mail -update` after changing a template or a catalogue, and read the diff.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, func(cfg *ComposerConfig) { cfg.Rand = zeroReader{} })
	for _, name := range TemplateNames() {
		for _, lang := range i18n.Languages() {
			t.Run(name+"/"+lang, func(t *testing.T) {
				t.Parallel()
				m, err := c.Render(recipient(lang), name, sampleData[name])
				if err != nil {
					t.Fatal(err)
				}
				got := fmt.Sprintf("Message-ID: %s\nSubject: %s\n\n%s\n==== HTML ====\n%s", m.MessageID, m.Subject, m.TextBody, m.HTMLBody)
				path := filepath.Join("testdata", name+"."+lang+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("%s differs (-golden +got):\n%s", path, diff)
				}
			})
		}
	}
}

// TestRenderEveryVariant renders every kind and cause in every language: no catalogue key may
// be missing, subjects are one line and differ per language, and the HTML names its language.
func TestRenderEveryVariant(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, nil)
	kinds := []string{"password", "tokencard", "emailcode", "totp"}
	causes := keys.Causes()
	type variant struct {
		name string
		data map[string]any
	}
	var variants []variant
	for _, name := range TemplateNames() {
		switch name {
		case TemplateKeyActivated:
			for _, k := range kinds {
				variants = append(variants, variant{name, map[string]any{"Kind": k, "Replaces": "", "Reactivated": false}})
				variants = append(variants, variant{name, map[string]any{"Kind": k, "Replaces": "tokencard", "Reactivated": false}})
			}
		case TemplateKeyDeactivated:
			for _, k := range kinds {
				for _, cause := range causes {
					variants = append(variants, variant{name, map[string]any{"Kind": k, "Cause": cause}})
				}
			}
		default:
			variants = append(variants, variant{name, sampleData[name]})
		}
	}
	for _, v := range variants {
		subjects := map[string]string{}
		for _, lang := range i18n.Languages() {
			m, err := c.Render(recipient(lang), v.name, v.data)
			if err != nil {
				t.Errorf("Render(%s, %s, %v): %v", lang, v.name, v.data, err)
				continue
			}
			if strings.ContainsAny(m.Subject, "\r\n") || m.Subject == "" {
				t.Errorf("%s/%s subject %q: want one non-empty line", v.name, lang, m.Subject)
			}
			if strings.Contains(m.TextBody+m.HTMLBody, "[mail.") {
				t.Errorf("%s/%s shows a missing catalogue key", v.name, lang)
			}
			if !strings.Contains(m.HTMLBody, `<html lang="`+lang+`">`) {
				t.Errorf("%s/%s HTML lacks <html lang=%q>", v.name, lang, lang)
			}
			if m.Language != lang || m.Template != v.name || m.AccountID != 42 || m.ToAddress != "jan@example.be" || m.ToName != "Jan Peeters" {
				t.Errorf("%s/%s: message fields %+v", v.name, lang, m)
			}
			if m.State != store.MessagePending || !m.NextAttemptAt.Equal(fixedNow) || !m.CreatedAt.Equal(fixedNow) {
				t.Errorf("%s/%s: state %s, next %v, created %v", v.name, lang, m.State, m.NextAttemptAt, m.CreatedAt)
			}
			for other, s := range subjects {
				if s == m.Subject {
					t.Errorf("%s: subject %q is the same in %s and %s", v.name, s, other, lang)
				}
			}
			subjects[lang] = m.Subject
		}
	}
}

func TestRenderContent(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, nil)
	tests := []struct {
		name, lang, template string
		data                 map[string]any
		want                 []string // in both bodies
		wantText             []string
		notWant              []string
	}{
		{"code shown", "nl", TemplateLogonCode, sampleData[TemplateLogonCode],
			[]string{"482913", "Beste Jan Peeters,", "slechts 5 minuten"}, []string{"\n    482913\n"}, nil},
		{"new address shown", "fr", TemplateEmailChange, sampleData[TemplateEmailChange],
			[]string{"jan.nieuw@example.be", "730016", "Bonjour Jan Peeters,"}, nil, nil},
		{"kind hint for totp", "en", TemplateKeyDeactivated, map[string]any{"Kind": "totp", "Cause": "citizen"},
			[]string{"remove the Sleutelbos entry", "You deactivated this key yourself", "Contact the helpdesk"}, nil, nil},
		{"no hint after lockout", "en", TemplateKeyDeactivated, map[string]any{"Kind": "tokencard", "Cause": "lockout"},
			[]string{"too many failed attempts"}, nil, []string{"paper card", "Contact the helpdesk"}},
		{"phase-out", "de", TemplateKeyDeactivated, map[string]any{"Kind": "tokencard", "Cause": "phase-out"},
			[]string{"abgeschafft", "Papierkarte", "https://login.example.be/keys"}, nil, []string{"Helpdesk"}},
		{"per-kind activation", "nl", TemplateKeyActivated, map[string]any{"Kind": "totp", "Replaces": "", "Reactivated": false},
			[]string{"Beveiligingscode via mobiele app", "authenticatie-app", "Mijn digitale sleutels", "https://login.example.be/keys"},
			nil, []string{"vervangt"}},
		{"activation replacing a key", "en", TemplateKeyActivated, map[string]any{"Kind": "emailcode", "Replaces": "tokencard", "Reactivated": false},
			[]string{"It replaces your digital key “Security code via token”"}, nil, nil},
		{"reactivation", "de", TemplateKeyActivated, map[string]any{"Kind": "totp", "Replaces": "", "Reactivated": true},
			[]string{"war gesperrt und"}, nil, []string{"erfolgreich einen neuen"}},
		{"old address told, new one masked", "fr", TemplateEmailChanged, map[string]any{"MaskedAddress": MaskAddress("jan.nieuw@example.be")},
			[]string{"j•••@example.be", "helpdesk"}, nil, []string{"jan.nieuw"}},
		{"date in Brussels time, Dutch", "nl", TemplatePhaseoutReminder, sampleData[TemplatePhaseoutReminder],
			[]string{"31 januari 2024", "https://login.example.be/keys/activate?from=tokencard"}, nil, []string{"30 januari", "2024 om"}},
		{"date German", "de", TemplatePhaseoutReminder, sampleData[TemplatePhaseoutReminder],
			[]string{"31. Januar 2024"}, nil, nil},
		{"time of day when not midnight", "fr", TemplatePhaseoutReminder,
			map[string]any{"Kind": "totp", "DisabledFrom": time.Date(2025, 8, 1, 12, 15, 0, 0, time.UTC), "ActivateURL": "https://x.example.be"},
			[]string{"1 août 2025 à 14:15"}, nil, nil},
		{"no name", "en", TemplateLogonCode, sampleData[TemplateLogonCode], []string{"Hello,"}, nil, []string{"Dear"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			to := recipient(tt.lang)
			if tt.name == "no name" {
				to.Name = " \r\n "
			}
			m, err := c.Render(to, tt.template, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			flatText := strings.Join(strings.Fields(m.TextBody), " ") // the text body is wrapped at 72 columns
			for _, w := range tt.want {
				if !strings.Contains(flatText, w) {
					t.Errorf("text body lacks %q:\n%s", w, m.TextBody)
				}
				if e := htmlText(t, w); !strings.Contains(m.HTMLBody, e) {
					t.Errorf("HTML body lacks %q (as HTML: %q):\n%s", w, e, m.HTMLBody)
				}
			}
			for _, w := range tt.wantText {
				if !strings.Contains(m.TextBody, w) {
					t.Errorf("text body lacks %q:\n%s", w, m.TextBody)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(m.TextBody, w) || strings.Contains(m.HTMLBody, w) {
					t.Errorf("body contains %q:\n%s", w, m.TextBody)
				}
			}
		})
	}
}

// htmlText returns s as html/template writes a string into HTML text: the exact form the HTML
// body must contain.
func htmlText(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	if err := htmltemplate.Must(htmltemplate.New("").Parse("{{.}}")).Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRenderHeaderInjection(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, func(cfg *ComposerConfig) { cfg.ServiceName = "Sleutel\r\nBcc: evil@x.be" })
	to := recipient("en")
	to.Name = "Jan\r\nBcc: evil@x.be"
	m, err := c.Render(to, TemplateLogonCode, sampleData[TemplateLogonCode])
	if err != nil {
		t.Fatal(err)
	}
	for field, v := range map[string]string{"ToName": m.ToName, "Subject": m.Subject, "MessageID": m.MessageID} {
		if strings.ContainsAny(v, "\r\n") {
			t.Errorf("%s = %q contains a line break", field, v)
		}
	}
	if m.ToName != "Jan Bcc: evil@x.be" {
		t.Errorf("ToName = %q, want the flattened name", m.ToName)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, nil)
	to := recipient("en")
	to.Name = `<script>alert("x")</script>`
	m, err := c.Render(to, TemplatePhaseoutReminder, map[string]any{
		"Kind": "tokencard", "DisabledFrom": disabledFrom, "ActivateURL": "javascript:alert(1)",
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTMLBody, "<script>") || !strings.Contains(m.HTMLBody, "&lt;script&gt;") {
		t.Errorf("the name is not escaped in HTML:\n%s", m.HTMLBody)
	}
	if strings.Contains(m.HTMLBody, `href="javascript:`) {
		t.Errorf("a javascript: URL reached an href:\n%s", m.HTMLBody)
	}
	if !strings.Contains(m.TextBody, `Dear <script>alert("x")</script>,`) {
		t.Errorf("the text body should show the name as written:\n%s", m.TextBody)
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, func(cfg *ComposerConfig) { cfg.MaxBytes = 8 << 10 })
	tests := []struct {
		name     string
		to       Recipient
		template string
		data     map[string]any
		is       error
		contains string
	}{
		{"invalid address", Recipient{Address: "jan@localhost"}, TemplateLogonCode, sampleData[TemplateLogonCode], ErrInvalidAddress, "invalid_address"},
		{"header in address", Recipient{Address: "jan@example.be\r\nBcc: x@y.be"}, TemplateLogonCode, sampleData[TemplateLogonCode], ErrInvalidAddress, ""},
		{"unknown template", recipient("en"), "birthday_card", nil, nil, "no such template"},
		{"missing data", recipient("en"), TemplateLogonCode, map[string]any{"Code": "1", "ExpiresAt": codeExpiry}, nil, "Minutes"},
		{"code without its expiry", recipient("en"), TemplateLogonCode, map[string]any{"Code": "1", "Minutes": 5}, nil, "needs ExpiresAt"},
		{"code with a zero expiry", recipient("en"), TemplateRegistrationCode, map[string]any{"Code": "1", "Minutes": 5, "ExpiresAt": time.Time{}}, nil, "needs ExpiresAt"},
		{"unknown kind", recipient("en"), TemplateKeyActivated, map[string]any{"Kind": "carrier-pigeon", "Replaces": "", "Reactivated": false}, nil, `unknown key kind "carrier-pigeon"`},
		{"unknown cause", recipient("nl"), TemplateKeyDeactivated, map[string]any{"Kind": "totp", "Cause": "boredom"}, nil, "mail.key_deactivated.cause.boredom"},
		{"date not a time", recipient("en"), TemplatePhaseoutReminder, map[string]any{"Kind": "totp", "DisabledFrom": "tomorrow", "ActivateURL": "https://x.be"}, nil, "want a time.Time"},
		{"reserved key", recipient("en"), TemplateLogonCode, map[string]any{"Code": "1", "Minutes": 5, "ExpiresAt": codeExpiry, "Name": "x"}, nil, `"Name" is reserved`},
		{"too large", Recipient{AccountID: 7, Name: strings.Repeat("x", 10<<10), Address: "jan@example.be"}, TemplateLogonCode, sampleData[TemplateLogonCode], ErrTooLarge, "the limit is 8192"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Render(tt.to, tt.template, tt.data)
			if err == nil {
				t.Fatal("Render: want an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Render error %v, want errors.Is %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Render error %q, want it to mention %q", err, tt.contains)
			}
		})
	}
}

func TestRenderFallbackLanguage(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, nil)
	m, err := c.Render(recipient("es"), TemplateLogonCode, sampleData[TemplateLogonCode])
	if err != nil {
		t.Fatal(err)
	}
	if m.Language != "en" || !strings.HasPrefix(m.Subject, "Your security code") {
		t.Errorf("language %q subject %q, want the English fallback", m.Language, m.Subject)
	}
}

var messageIDRE = regexp.MustCompile(`^<[a-z2-7]{26}@example\.be>$`)

func TestMessageID(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, nil)
	seen := map[string]bool{}
	for range 100 {
		m, err := c.Render(recipient("en"), TemplateLogonCode, sampleData[TemplateLogonCode])
		if err != nil {
			t.Fatal(err)
		}
		if !messageIDRE.MatchString(m.MessageID) {
			t.Fatalf("Message-ID %q does not match %s", m.MessageID, messageIDRE)
		}
		if seen[m.MessageID] {
			t.Fatalf("Message-ID %q drawn twice", m.MessageID)
		}
		seen[m.MessageID] = true
	}
	c = newTestComposer(t, func(cfg *ComposerConfig) { cfg.MessageIDDomain = "mail.sleutelbos.example" })
	m, err := c.Render(recipient("en"), TemplateLogonCode, sampleData[TemplateLogonCode])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.MessageID, "@mail.sleutelbos.example>") {
		t.Errorf("Message-ID %q ignores MessageIDDomain", m.MessageID)
	}
	c = newTestComposer(t, func(cfg *ComposerConfig) { cfg.Rand = bytes.NewReader(nil) })
	if _, err := c.Render(recipient("en"), TemplateLogonCode, sampleData[TemplateLogonCode]); err == nil {
		t.Error("Render with exhausted randomness: want an error")
	}
}

func TestNewComposerErrors(t *testing.T) {
	t.Parallel()
	sub, err := fs.Sub(embeddedTemplates, "templates")
	if err != nil {
		t.Fatal(err)
	}
	without := func(drop string) fs.FS {
		m := fstest.MapFS{}
		entries, _ := fs.ReadDir(sub, ".")
		for _, e := range entries {
			if e.Name() == drop {
				continue
			}
			data, _ := fs.ReadFile(sub, e.Name())
			m[e.Name()] = &fstest.MapFile{Data: data}
		}
		return m
	}
	noSubject := without("")
	noSubject.(fstest.MapFS)["key_activated.txt.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "body"}}x{{end}}`)}
	broken := without("")
	broken.(fstest.MapFS)["logon_code.html.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "body"}}{{.Code{{end}}`)}
	tests := []struct {
		name     string
		mod      func(*ComposerConfig)
		contains []string
	}{
		{"missing html template", func(c *ComposerConfig) { c.Templates = without("phaseout_reminder.html.tmpl") }, []string{"phaseout_reminder.html.tmpl"}},
		{"missing text layout", func(c *ComposerConfig) { c.Templates = without("layout.txt.tmpl") }, []string{"layout.txt.tmpl"}},
		{"no subject", func(c *ComposerConfig) { c.Templates = noSubject }, []string{`defines no "subject"`}},
		{"parse error", func(c *ComposerConfig) { c.Templates = broken }, []string{"logon_code.html.tmpl"}},
		{"every config problem at once", func(c *ComposerConfig) {
			c.ServiceName, c.BaseURL, c.From, c.MaxBytes = "", "login.example.be", "noreply", -1
		}, []string{"service name", "base URL", "from address", "message-ID domain", "max bytes"}},
		{"from with line break", func(c *ComposerConfig) { c.From = "noreply@example.be\r\nBcc: x@y.be" }, []string{"control character"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			tt.mod(&cfg)
			_, err := NewComposer(testBundle(t), cfg)
			if err == nil {
				t.Fatal("NewComposer: want an error")
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("NewComposer error %q, want it to mention %q", err, c)
				}
			}
		})
	}
	if _, err := NewComposer(nil, testConfig()); err == nil {
		t.Error("NewComposer(nil bundle): want an error")
	}
}

// recordingOutbox is an Outbox that records Enqueue calls.
type recordingOutbox struct {
	enqueued []store.Message
	err      error
}

// AfterCommit runs fn at once, as a store outside a transaction does.
func (o *recordingOutbox) AfterCommit(fn func()) { fn() }

func (o *recordingOutbox) Enqueue(_ context.Context, m *store.Message) error {
	if o.err != nil {
		return o.err
	}
	m.ID = int64(len(o.enqueued) + 1)
	o.enqueued = append(o.enqueued, *m)
	return nil
}

func TestEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		hold      bool
		wantState store.MessageState
	}{
		{"smtp configured", false, store.MessagePending},
		{"no smtp: held for the development mailbox", true, store.MessageHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wakes := 0
			c := newTestComposer(t, func(cfg *ComposerConfig) {
				cfg.Hold = tt.hold
				cfg.Wake = func() { wakes++ }
			})
			ob := &recordingOutbox{}
			if err := c.Enqueue(ctx, ob, recipient("de"), TemplateRegistrationCode, sampleData[TemplateRegistrationCode]); err != nil {
				t.Fatal(err)
			}
			if len(ob.enqueued) != 1 || wakes != 1 {
				t.Fatalf("enqueued %d messages, woke %d times; want 1 and 1", len(ob.enqueued), wakes)
			}
			m := ob.enqueued[0]
			if m.State != tt.wantState || m.Language != "de" || !strings.Contains(m.TextBody, "105728") || !messageIDRE.MatchString(m.MessageID) {
				t.Errorf("enqueued %+v", m)
			}
		})
	}

	c := newTestComposer(t, nil)
	ob := &recordingOutbox{}
	bad := recipient("en")
	bad.Address = "Jan <jan@example.be>"
	if err := c.Enqueue(ctx, ob, bad, TemplateLogonCode, sampleData[TemplateLogonCode]); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("Enqueue to %q = %v, want ErrInvalidAddress", bad.Address, err)
	}
	big := recipient("en")
	big.Name = strings.Repeat("n", DefaultMaxBytes)
	if err := c.Enqueue(ctx, ob, big, TemplateLogonCode, sampleData[TemplateLogonCode]); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Enqueue of an oversized message = %v, want ErrTooLarge", err)
	}
	if len(ob.enqueued) != 0 {
		t.Errorf("refused messages reached the outbox: %d", len(ob.enqueued))
	}
	ob.err = errors.New("database is down")
	if err := c.Enqueue(ctx, ob, recipient("en"), TemplateLogonCode, sampleData[TemplateLogonCode]); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Errorf("Enqueue with a failing outbox = %v, want the store error wrapped", err)
	}
}

// BenchmarkRender measures rendering one message (subject, text and HTML) in the composer.
func BenchmarkRender(b *testing.B) {
	c := newTestComposer(b, nil)
	data := sampleData[TemplatePhaseoutReminder]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Render(recipient("fr"), TemplatePhaseoutReminder, data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestWakeAfterCommit: the worker is woken once the message is committed — visible on another
// connection, as a worker on another node sees the outbox — and not at all when the change the
// message is about rolls back.
func TestWakeAfterCommit(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		var seen []int // messages visible outside the transaction at each wake
		c := newTestComposer(t, func(cfg *ComposerConfig) {
			cfg.Wake = func() {
				msgs, err := db.ListMessages(ctx, 10)
				if err != nil {
					t.Errorf("list outbox at wake: %v", err)
				}
				seen = append(seen, len(msgs))
			}
		})
		enqueue := func(tx store.Store) error {
			return c.Enqueue(ctx, tx, recipient("nl"), TemplateLogonCode, sampleData[TemplateLogonCode])
		}
		if err := db.Tx(ctx, enqueue); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 || seen[0] != 1 {
			t.Fatalf("woken %d times seeing %v messages, want once seeing the 1 committed", len(seen), seen)
		}
		changeFailed := errors.New("the change failed")
		err := db.Tx(ctx, func(tx store.Store) error {
			if err := enqueue(tx); err != nil {
				return err
			}
			return changeFailed
		})
		if !errors.Is(err, changeFailed) {
			t.Fatalf("Tx = %v, want the change's error", err)
		}
		if len(seen) != 1 {
			t.Errorf("a rolled-back message woke the worker (wakes saw %v)", seen)
		}
	})
}

// TestCodeMessagesKnowWhenTheirCodeExpires: a message of a template that carries a code gets the
// code's (or reset link's) expiry as SecretUntil (the outbox drops its text then); other
// messages carry none.
func TestCodeMessagesKnowWhenTheirCodeExpires(t *testing.T) {
	t.Parallel()
	c := newTestComposer(t, nil)
	for _, name := range TemplateNames() {
		m, err := c.Render(recipient("nl"), name, sampleData[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := time.Time{}
		if _, code := sampleData[name]["Code"]; code {
			want = codeExpiry
		}
		if _, link := sampleData[name]["Token"]; link {
			want = codeExpiry // a reset link is a secret like a code
		}
		if !m.SecretUntil.Equal(want) {
			t.Errorf("%s: SecretUntil %v, want %v", name, m.SecretUntil, want)
		}
	}
}
