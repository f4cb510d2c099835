package outbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Sender delivers one message. An error is temporary (the worker retries later) unless it is a
// *PermanentError.
type Sender interface {
	Send(ctx context.Context, m store.Message) error
}

// PermanentError marks a delivery failure that retrying cannot fix, such as an SMTP 5xx answer
// to the recipient or the data. The worker marks the message failed with Err's text.
type PermanentError struct {
	Err error
}

// Error returns the cause's text (for SMTP, the server's answer).
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err (or an error it wraps) is a *PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// SMTPSender delivers messages over SMTP with github.com/wneessen/go-mail: one connection per
// message, STARTTLS as configured, AUTH when credentials are set.
type SMTPSender struct {
	cfg       Config
	tlsConfig *tls.Config
	from      *mail.Address
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender returns a sender for cfg (defaults applied, then validated). tlsConfig may be nil
// (system roots, server name = Host); tests pass one that trusts their server's certificate.
func NewSMTPSender(cfg Config, tlsConfig *tls.Config) (*SMTPSender, error) {
	cfg = cfg.WithDefaults()
	if !cfg.Enabled() {
		return nil, errors.New("new smtp sender: no SMTP host configured")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new smtp sender: %w", err)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("new smtp sender: from %q: %w", cfg.From, err)
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.Host
	}
	return &SMTPSender{cfg: cfg, tlsConfig: tlsConfig, from: from}, nil
}

// options are the go-mail client options for s's configuration.
func (s *SMTPSender) options() []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.tlsConfig),
	}
	if s.cfg.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		policy := map[string]gomail.TLSPolicy{
			TLSMandatory:     gomail.TLSMandatory,
			TLSOpportunistic: gomail.TLSOpportunistic,
			TLSNone:          gomail.NoTLS,
		}[s.cfg.TLSPolicy]
		opts = append(opts, gomail.WithTLSPolicy(policy))
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Username != "" {
		// The strongest mechanism the server offers. go-mail's PLAIN and LOGIN refuse to send
		// the password over an unencrypted connection except to localhost.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256,
				gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

// Build turns a stored message into a go-mail message: Message-ID (the stored one), Date (when
// the message was created), From, To with display name, Subject, Auto-Submitted and a
// multipart/alternative body with the text and HTML versions. Names and subjects are flattened
// to one line and go-mail encodes headers, so no header can be injected.
func (s *SMTPSender) Build(m store.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.EnvelopeFrom(s.from.Address); err != nil {
		return nil, fmt.Errorf("envelope from: %w", err)
	}
	to, err := mail.ParseAddress(m.ToAddress)
	if err != nil || to.Address != m.ToAddress {
		return nil, fmt.Errorf("recipient address %q is not a bare address", m.ToAddress)
	}
	to.Name = oneLine(m.ToName)
	msg.ToMailAddress(to)
	msg.Subject(oneLine(m.Subject))
	id := strings.TrimSuffix(strings.TrimPrefix(oneLine(m.MessageID), "<"), ">")
	if id == "" || strings.ContainsAny(id, "<> ") {
		// A stable fallback for a message stored without one: the outbox row id.
		id = fmt.Sprintf("outbox.%d@%s", m.ID, s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:])
	}
	msg.SetMessageIDWithValue(id)
	if !m.CreatedAt.IsZero() {
		msg.SetDateWithValue(m.CreatedAt)
	} else {
		msg.SetDate()
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.TextBody)
	if m.HTMLBody != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTMLBody)
	}
	return msg, nil
}

// Send delivers m. SMTP 5xx answers to MAIL FROM, RCPT TO or DATA come back as a
// *PermanentError carrying the server's answer, except "authentication required" (a
// configuration problem, retried); 4xx answers, network errors, timeouts and TLS or AUTH
// failures are temporary. Once the server accepted the data the message counts as delivered,
// whatever happens to the connection afterwards.
func (s *SMTPSender) Send(ctx context.Context, m store.Message) error {
	msg, err := s.Build(m)
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("build message %d: %w", m.ID, err)}
	}
	client, err := gomail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		return nil
	}
	if permanent(err) {
		return &PermanentError{Err: err}
	}
	return err
}

// permanent reports whether err holds an SMTP 5xx answer about this message.
func permanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false // dial, TLS, AUTH or network trouble
	}
	code := se.ErrorCode()
	if code < 500 || code > 599 {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom:
		// 530 or 5.7.0 at MAIL FROM: the server wants authentication; fix the configuration.
		return code != 530 && se.EnhancedStatusCode() != "5.7.0"
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
		return true
	}
	return false
}

// oneLine replaces control characters (CR, LF, …) and line separators with spaces, collapses
// runs of spaces and trims the result.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}
