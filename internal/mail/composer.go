package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base32"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Template names, one per kind of e-mail. The data each expects is listed beside it; every
// template also gets the recipient's Name, the Service name, the BaseURL, the Lang and the
// Helpdesk's contact (a line, "" when none is configured).
const (
	// TemplateLogonCode: Code (the 6-digit code), Minutes (validity), ExpiresAt (a time.Time:
	// when the code stops being valid).
	TemplateLogonCode = "logon_code"
	// TemplateRegistrationCode: Code, Minutes, ExpiresAt — activation of an emailcode key.
	TemplateRegistrationCode = "registration_code"
	// TemplateEmailChange: Code, Minutes, ExpiresAt, NewAddress — sent to the new address.
	TemplateEmailChange = "email_change"
	// TemplateEmailChanged: MaskedAddress (the new address, masked) — sent to the old address
	// once the change is done.
	TemplateEmailChanged = "email_changed"
	// TemplateKeyActivated: Kind (password, tokencard, emailcode, totp), Replaces (the kind of
	// the key the new one replaced and deactivated, or ""; Kind itself when it replaced the
	// citizen's earlier key of the same kind, which gets no e-mail of its own), Reactivated (a
	// locked key made active again rather than a new one).
	TemplateKeyActivated = "key_activated"
	// TemplateKeyDeactivated: Kind, Cause (keys.Causes: citizen, migration, helpdesk, lockout,
	// unused, phase-out).
	TemplateKeyDeactivated = "key_deactivated"
	// TemplatePhaseoutReminder: Kind, DisabledFrom (a time.Time, formatted here in the
	// recipient's language and ComposerConfig.Location), ActivateURL.
	TemplatePhaseoutReminder = "phaseout_reminder"
	// TemplateKeyUnusedWarning: Kind, Deadline (a time.Time: when the key is deactivated for
	// lack of use, SPEC §5), LogonURL — sent 14 days before.
	TemplateKeyUnusedWarning = "key_unused_warning"
	// TemplateSignupCode: Code, Minutes, ExpiresAt — the code of a self-registration, sent to
	// the address typed. It names nobody: the name typed with it is not proven (the recipient
	// is addressed without one).
	TemplateSignupCode = "signup_code"
	// TemplateSignupInUse: no data — sent instead of a code when someone registers with the
	// address of an existing account (the recipient): someone tried, and how to recover.
	TemplateSignupInUse = "signup_in_use"
	// TemplateWelcome: Username — the account a self-registration created.
	TemplateWelcome = "welcome"
	// TemplateForgotUsername: Username — asked for on the forgotten-username page.
	TemplateForgotUsername = "forgot_username"
	// TemplatePasswordReset: Token (the link's parameter: /reset?t=Token), Minutes, ExpiresAt
	// — the forgotten-password page's link.
	TemplatePasswordReset = "password_reset"
	// TemplatePasswordChanged: no data — the password was reset (every session ended).
	TemplatePasswordChanged = "password_changed"
	// TemplateHelpdeskAction: Action (lift_password, lift_code, recovery_code), Kind (the key
	// kind for lift_code, "" otherwise) — what a helpdesk agent did on the citizen's account.
	TemplateHelpdeskAction = "helpdesk_action"
)

// TemplateNames returns every template a Composer must have, in a stable order.
func TemplateNames() []string {
	return []string{
		TemplateLogonCode, TemplateRegistrationCode, TemplateEmailChange, TemplateEmailChanged,
		TemplateKeyActivated, TemplateKeyDeactivated, TemplatePhaseoutReminder, TemplateKeyUnusedWarning,
		TemplateSignupCode, TemplateSignupInUse, TemplateWelcome,
		TemplateForgotUsername, TemplatePasswordReset, TemplatePasswordChanged, TemplateHelpdeskAction,
	}
}

// codeTemplates carry a code. Their data must say when it stops being valid (ExpiresAt), which
// becomes the message's SecretUntil: the outbox drops the bodies once the code expired or the
// message failed for good, and never sends it after that.
var codeTemplates = map[string]bool{
	TemplateLogonCode: true, TemplateRegistrationCode: true, TemplateEmailChange: true, TemplateSignupCode: true,
	TemplatePasswordReset: true,
}

// DefaultMaxBytes is the default limit on the size of one rendered message.
const DefaultMaxBytes = 256 << 10

// ErrTooLarge is returned (wrapped, with the sizes) when a rendered message is above
// ComposerConfig.MaxBytes.
var ErrTooLarge = errors.New("message too large")

// reservedKeys are the template data keys the Composer sets itself.
var reservedKeys = []string{"Name", "Service", "BaseURL", "Lang", "Subject", "Helpdesk"}

//go:embed templates/*.tmpl
var embeddedTemplates embed.FS

// Recipient is the citizen a message goes to. Language is a supported language code; any other
// value gets the catalogue's fallback language.
type Recipient struct {
	AccountID int64
	Name      string
	Address   string
	Language  string
}

// ComposerConfig configures a Composer. Zero values get the documented defaults.
type ComposerConfig struct {
	// ServiceName is shown in subjects, greetings and footers ("Sleutelbos").
	ServiceName string
	// BaseURL is the absolute URL of the service (links to My digital keys).
	BaseURL string
	// From is the sender's address, as in the outbox configuration; a display name is allowed.
	From string
	// MessageIDDomain is the right-hand side of generated Message-IDs; default: From's domain.
	MessageIDDomain string
	// MaxBytes limits the rendered size of one message (subject, name, address, text and
	// HTML bodies); default DefaultMaxBytes.
	MaxBytes int
	// Hold enqueues messages in state held instead of pending: no SMTP server is configured and
	// the development mailbox shows them.
	Hold bool
	// Location is the time zone dates are shown in; default Europe/Brussels.
	Location *time.Location
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand is the randomness for Message-IDs; default crypto/rand.Reader.
	Rand io.Reader
	// Wake, when set, is called once the transaction of a successful Enqueue has committed
	// (outbox.Worker.Wake): a nudge before the commit would find nothing to claim and leave the
	// message to the next poll, and a rolled-back message must not wake anyone.
	Wake func()
	// Templates replaces the embedded templates (a directory of *.tmpl files); tests use it.
	Templates fs.FS
	// Helpdesk is how citizens reach the helpdesk (the operator-email, -phone and -url
	// settings): every e-mail's footer names what is set, so "contact the helpdesk" says how.
	Helpdesk Helpdesk
}

// Helpdesk is the helpdesk's contact; any field may be empty. A URL may be a path of the
// service ("/help"), made absolute with BaseURL.
type Helpdesk struct {
	Email, Phone, URL string
}

// line is the helpdesk's contact on one line ("helpdesk@example.org · +32 2 … · https://…"),
// or "" when none is set.
func (h Helpdesk) line(baseURL string) string {
	var parts []string
	for _, p := range []string{h.Email, h.Phone, h.URL} {
		if p = oneLine(p); p != "" {
			if strings.HasPrefix(p, "/") {
				p = strings.TrimSuffix(baseURL, "/") + p
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " · ")
}

// Composer renders messages from the embedded templates and the i18n catalogues. It is safe
// for concurrent use.
type Composer struct {
	cfg    ComposerConfig
	bundle *i18n.Bundle
	sets   map[string]map[string]*templateSet // language → template name → parsed pair
}

type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// NewComposer checks cfg, fills its defaults and parses every template for every language. It
// fails when a template file is missing, does not parse, or lacks a "subject" or "body".
func NewComposer(b *i18n.Bundle, cfg ComposerConfig) (*Composer, error) {
	if b == nil {
		return nil, errors.New("new composer: no catalogue bundle")
	}
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("new composer: %w", err)
	}
	c := &Composer{cfg: cfg, bundle: b, sets: make(map[string]map[string]*templateSet)}
	for _, lang := range i18n.Languages() {
		c.sets[lang] = make(map[string]*templateSet)
		for _, name := range TemplateNames() {
			set, err := c.parse(lang, name)
			if err != nil {
				return nil, fmt.Errorf("new composer: template %s (%s): %w", name, lang, err)
			}
			c.sets[lang][name] = set
		}
	}
	return c, nil
}

func (cfg *ComposerConfig) fill() error {
	var problems []error
	if strings.TrimSpace(cfg.ServiceName) == "" {
		problems = append(problems, errors.New("service name is empty"))
	}
	cfg.ServiceName = oneLine(cfg.ServiceName)
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("base URL %q is not an absolute http(s) URL", cfg.BaseURL))
	}
	from, err := parseFrom(cfg.From)
	if err != nil {
		problems = append(problems, err)
	}
	if cfg.MessageIDDomain == "" && from != "" {
		cfg.MessageIDDomain = from[strings.LastIndexByte(from, '@')+1:]
	}
	if d := cfg.MessageIDDomain; d == "" || strings.ContainsAny(d, "<>@ \t\r\n") {
		problems = append(problems, fmt.Errorf("message-ID domain %q is not a domain", d))
	}
	switch {
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	case cfg.MaxBytes < 0:
		problems = append(problems, fmt.Errorf("max bytes %d is negative", cfg.MaxBytes))
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/Brussels")
		if err != nil {
			problems = append(problems, fmt.Errorf("no Location given and Europe/Brussels is unknown: %w", err))
		}
		cfg.Location = loc
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Templates == nil {
		sub, err := fs.Sub(embeddedTemplates, "templates")
		if err != nil {
			problems = append(problems, err)
		}
		cfg.Templates = sub
	}
	return errors.Join(problems...)
}

// parseFrom returns the bare address of from, which may carry a display name.
func parseFrom(from string) (string, error) {
	if strings.ContainsFunc(from, isControl) {
		return "", errors.New("from address contains a control character")
	}
	a, err := mailParseAddress(from)
	if err != nil {
		return "", fmt.Errorf("from address %q: %w", from, err)
	}
	if err := checkAddress(a); err != nil {
		return "", fmt.Errorf("from address %q: %w", from, err)
	}
	return a, nil
}

// parse builds the text and HTML template pair of name for lang.
func (c *Composer) parse(lang, name string) (*templateSet, error) {
	funcs := c.funcs(c.bundle.Printer(lang))
	read := func(file string) (string, error) {
		raw, err := fs.ReadFile(c.cfg.Templates, file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", file, err)
		}
		return string(raw), nil
	}
	textLayout, err := read("layout.txt.tmpl")
	if err != nil {
		return nil, err
	}
	textBody, err := read(name + ".txt.tmpl")
	if err != nil {
		return nil, err
	}
	htmlLayout, err := read("layout.html.tmpl")
	if err != nil {
		return nil, err
	}
	htmlBody, err := read(name + ".html.tmpl")
	if err != nil {
		return nil, err
	}
	text := texttemplate.New("layout").Option("missingkey=error").Funcs(texttemplate.FuncMap(funcs))
	if _, err := text.Parse(textLayout); err != nil {
		return nil, fmt.Errorf("parse layout.txt.tmpl: %w", err)
	}
	if _, err := text.New(name).Parse(textBody); err != nil {
		return nil, fmt.Errorf("parse %s.txt.tmpl: %w", name, err)
	}
	html := htmltemplate.New("layout").Option("missingkey=error").Funcs(htmltemplate.FuncMap(funcs))
	if _, err := html.Parse(htmlLayout); err != nil {
		return nil, fmt.Errorf("parse layout.html.tmpl: %w", err)
	}
	if _, err := html.New(name).Parse(htmlBody); err != nil {
		return nil, fmt.Errorf("parse %s.html.tmpl: %w", name, err)
	}
	for _, def := range []string{"subject", "body"} {
		if text.Lookup(def) == nil {
			return nil, fmt.Errorf("%s.txt.tmpl defines no %q", name, def)
		}
	}
	if html.Lookup("body") == nil {
		return nil, fmt.Errorf("%s.html.tmpl defines no \"body\"", name)
	}
	return &templateSet{text: text, html: html}, nil
}

// funcs are the template functions, bound to one language.
func (c *Composer) funcs(p *i18n.Printer) map[string]any {
	lang := p.Lang()
	t := func(key string, args ...any) (string, error) {
		if !c.bundle.Has(lang, key) {
			return "", fmt.Errorf("catalogue %s has no message %q", lang, key)
		}
		return p.T(key, args...), nil
	}
	return map[string]any{
		// T translates a catalogue key with positional arguments; a missing key fails.
		"T": t,
		// has reports whether the catalogue holds key (optional sentences).
		"has": func(key string) bool { return c.bundle.Has(lang, key) },
		// key joins parts into a catalogue key: key "mail.kind" .Kind → "mail.kind.totp".
		"key": func(parts ...any) string {
			s := make([]string, len(parts))
			for i, part := range parts {
				s[i] = fmt.Sprint(part)
			}
			return strings.Join(s, ".")
		},
		// kind is the display name of a key kind; an unknown kind fails.
		"kind": func(kind any) (string, error) {
			k := fmt.Sprint(kind)
			if !c.bundle.Has(lang, "mail.kind."+k) {
				return "", fmt.Errorf("unknown key kind %q", k)
			}
			return p.T("mail.kind." + k), nil
		},
		// date formats a time.Time as a date (and the time of day unless it is midnight) in
		// the configured time zone.
		"date": func(v any) (string, error) {
			tm, ok := v.(time.Time)
			if !ok {
				return "", fmt.Errorf("date: want a time.Time, got %T", v)
			}
			return formatDate(p, tm.In(c.cfg.Location)), nil
		},
	}
}

// formatDate writes t as "31 January 2024" in p's language, adding the time of day when t is
// not at midnight.
func formatDate(p *i18n.Printer, t time.Time) string {
	month := p.T(fmt.Sprintf("mail.month.%d", int(t.Month())))
	d := p.T("mail.date", t.Day(), month, t.Year())
	if t.Hour() == 0 && t.Minute() == 0 {
		return d
	}
	return p.T("mail.datetime", d, t.Format("15:04"))
}

// Render produces the message template would send to to with data: the address is validated,
// the subject and both bodies are rendered in the recipient's language, a new Message-ID is
// drawn, and the message is refused when it is larger than MaxBytes. The result is ready for
// Outbox.Enqueue (state pending, or held when the Composer holds mail).
func (c *Composer) Render(to Recipient, template string, data map[string]any) (store.Message, error) {
	if err := ValidateAddress(to.Address); err != nil {
		return store.Message{}, fmt.Errorf("render %s: %w", template, err)
	}
	lang := c.bundle.Printer(to.Language).Lang()
	set, ok := c.sets[lang][template]
	if !ok {
		return store.Message{}, fmt.Errorf("render %s: no such template", template)
	}
	for _, k := range reservedKeys {
		if _, taken := data[k]; taken {
			return store.Message{}, fmt.Errorf("render %s: data key %q is reserved", template, k)
		}
	}
	var secretUntil time.Time
	if codeTemplates[template] {
		exp, ok := data["ExpiresAt"].(time.Time)
		if !ok || exp.IsZero() {
			return store.Message{}, fmt.Errorf("render %s: the message carries a code: data needs ExpiresAt, the time.Time the code stops being valid", template)
		}
		secretUntil = exp
	}
	name := oneLine(to.Name)
	dot := make(map[string]any, len(data)+len(reservedKeys))
	for k, v := range data {
		dot[k] = v
	}
	dot["Name"], dot["Service"], dot["BaseURL"], dot["Lang"] = name, c.cfg.ServiceName, c.cfg.BaseURL, lang
	dot["Helpdesk"] = c.cfg.Helpdesk.line(c.cfg.BaseURL)

	var buf bytes.Buffer
	if err := set.text.ExecuteTemplate(&buf, "subject", dot); err != nil {
		return store.Message{}, fmt.Errorf("render %s subject: %w", template, err)
	}
	subject := oneLine(buf.String())
	dot["Subject"] = subject
	buf.Reset()
	if err := set.text.ExecuteTemplate(&buf, "layout", dot); err != nil {
		return store.Message{}, fmt.Errorf("render %s text: %w", template, err)
	}
	text := wrapText(buf.String(), textWidth)
	buf.Reset()
	if err := set.html.ExecuteTemplate(&buf, "layout", dot); err != nil {
		return store.Message{}, fmt.Errorf("render %s html: %w", template, err)
	}
	html := buf.String()

	if size := len(subject) + len(name) + len(to.Address) + len(text) + len(html); size > c.cfg.MaxBytes {
		return store.Message{}, fmt.Errorf("render %s for account %d: %w: %d bytes, the limit is %d",
			template, to.AccountID, ErrTooLarge, size, c.cfg.MaxBytes)
	}
	id, err := c.newMessageID()
	if err != nil {
		return store.Message{}, fmt.Errorf("render %s: %w", template, err)
	}
	now := c.cfg.Now()
	state := store.MessagePending
	if c.cfg.Hold {
		state = store.MessageHeld
	}
	return store.Message{
		MessageID:     id,
		AccountID:     to.AccountID,
		Template:      template,
		Language:      lang,
		ToAddress:     to.Address,
		ToName:        name,
		Subject:       subject,
		TextBody:      text,
		HTMLBody:      html,
		State:         state,
		NextAttemptAt: now,
		CreatedAt:     now,
		SecretUntil:   secretUntil,
	}, nil
}

// Outbox is where Enqueue writes a message: the transaction of the change the message is about,
// so both commit together. Enqueue wakes the worker after that commit (AfterCommit).
// store.Store implements it.
type Outbox interface {
	Enqueue(ctx context.Context, m *store.Message) error
	AfterCommit(fn func())
}

var _ Outbox = store.Store(nil)

// Enqueue renders the message and stores it in ob. Pass the store of the transaction that makes
// the change the message is about, so both commit together.
func (c *Composer) Enqueue(ctx context.Context, ob Outbox, to Recipient, template string, data map[string]any) error {
	m, err := c.Render(to, template, data)
	if err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	if err := ob.Enqueue(ctx, &m); err != nil {
		return fmt.Errorf("enqueue mail %s for account %d: %w", template, to.AccountID, err)
	}
	if c.cfg.Wake != nil {
		ob.AfterCommit(c.cfg.Wake)
	}
	return nil
}

var messageIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newMessageID returns "<random@domain>" with 128 random bits.
func (c *Composer) newMessageID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(c.cfg.Rand, b[:]); err != nil {
		return "", fmt.Errorf("message-ID: %w", err)
	}
	return "<" + strings.ToLower(messageIDEncoding.EncodeToString(b[:])) + "@" + c.cfg.MessageIDDomain + ">", nil
}

// textWidth is the line length plain-text bodies are wrapped at.
const textWidth = 76

// wrapText wraps every line of s longer than width at spaces. Words longer than width (URLs)
// stay whole on their own line; shorter lines, including indented ones, are left untouched.
func wrapText(s string, width int) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		if len([]rune(line)) <= width {
			out = append(out, line)
			continue
		}
		var cur strings.Builder
		n := 0
		// Split on ASCII spaces only: no-break spaces (French typography) must hold.
		for _, w := range strings.Split(line, " ") {
			if w == "" {
				continue
			}
			wl := len([]rune(w))
			if n > 0 && n+1+wl > width {
				out = append(out, cur.String())
				cur.Reset()
				n = 0
			}
			if n > 0 {
				cur.WriteByte(' ')
				n++
			}
			cur.WriteString(w)
			n += wl
		}
		out = append(out, cur.String())
	}
	return strings.Join(out, "\n")
}
