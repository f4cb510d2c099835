package outbox

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// TLS policies for Config.TLSPolicy.
const (
	// TLSMandatory requires STARTTLS; a server that does not offer it gets nothing.
	TLSMandatory = "mandatory"
	// TLSOpportunistic uses STARTTLS when the server offers it.
	TLSOpportunistic = "opportunistic"
	// TLSNone never starts TLS (a relay on localhost).
	TLSNone = "none"
)

// Config configures SMTP delivery and the worker. Zero values get defaults from WithDefaults;
// Validate reports every remaining problem at once.
type Config struct {
	// Host is the SMTP server. Empty means no SMTP server: messages are held for the development
	// mailbox and no worker runs.
	Host string
	// Port defaults to 587 (465 with ImplicitTLS).
	Port int
	// Username and Password enable SMTP AUTH (the strongest mechanism both sides support;
	// PLAIN and LOGIN only over TLS or to localhost). Both or neither.
	Username, Password string
	// TLSPolicy is "mandatory" (default), "opportunistic" or "none"; it governs STARTTLS and is
	// ignored with ImplicitTLS.
	TLSPolicy string
	// ImplicitTLS connects with TLS from the first byte (SMTPS, port 465).
	ImplicitTLS bool
	// Timeout bounds one delivery: connecting, the SMTP dialogue and each read and write.
	Timeout time.Duration
	// From is the sender, with an optional display name ("Sleutelbos <noreply@example.be>").
	From string
	// HELO is the name given in EHLO; default the host name.
	HELO string
	// BatchSize is how many messages one claim takes.
	BatchSize int
	// PollInterval is how long the worker waits when nothing is due (Wake cuts it short).
	PollInterval time.Duration
	// Lease is how long a claim holds. A message claimed by a node that died is claimed again
	// after it. It must leave room for at least one delivery (2 × Timeout).
	Lease time.Duration
	// MaxAttempts is how many delivery attempts a message gets before it is marked failed.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the retry delay: BaseBackoff·2^(attempt-1), at most
	// MaxBackoff.
	BaseBackoff, MaxBackoff time.Duration
}

// Defaults for Config's zero values.
const (
	DefaultPort         = 587
	DefaultImplicitPort = 465
	DefaultTimeout      = 30 * time.Second
	DefaultBatchSize    = 20
	DefaultPollInterval = 5 * time.Second
	DefaultLease        = 5 * time.Minute
	DefaultMaxAttempts  = 10
	DefaultBaseBackoff  = 30 * time.Second
	DefaultMaxBackoff   = time.Hour
)

// Enabled reports whether an SMTP server is configured. Without one, messages are held and
// the development mailbox shows them.
func (c Config) Enabled() bool { return c.Host != "" }

// WithDefaults returns c with every zero value replaced by its default.
func (c Config) WithDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
		if c.ImplicitTLS {
			c.Port = DefaultImplicitPort
		}
	}
	if c.TLSPolicy == "" {
		c.TLSPolicy = TLSMandatory
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	return c
}

// Validate reports every problem of c (after WithDefaults) joined into one error, or nil.
// Without a Host only the From address is checked: nothing is sent.
func (c Config) Validate() error {
	var problems []error
	add := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	if c.From == "" {
		add("smtp from: empty; want a sender address such as noreply@example.be")
	} else if strings.ContainsAny(c.From, "\r\n") {
		add("smtp from: contains a line break")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		add("smtp from %q: %v", c.From, err)
	}
	if !c.Enabled() {
		return errors.Join(problems...)
	}
	if strings.ContainsAny(c.Host, " \t\r\n/") {
		add("smtp host %q: not a host name", c.Host)
	}
	if c.Port < 1 || c.Port > 65535 {
		add("smtp port %d: out of range 1–65535", c.Port)
	}
	switch c.TLSPolicy {
	case TLSMandatory, TLSOpportunistic, TLSNone:
	default:
		add("smtp tls policy %q: want %s, %s or %s", c.TLSPolicy, TLSMandatory, TLSOpportunistic, TLSNone)
	}
	if (c.Username == "") != (c.Password == "") {
		add("smtp username and password: give both or neither")
	}
	if strings.ContainsAny(c.HELO, " \t\r\n") {
		add("smtp helo %q: not a host name", c.HELO)
	}
	if c.Timeout <= 0 {
		add("smtp timeout %v: must be positive", c.Timeout)
	}
	if c.BatchSize < 1 {
		add("mail batch size %d: must be at least 1", c.BatchSize)
	}
	if c.PollInterval <= 0 {
		add("mail poll interval %v: must be positive", c.PollInterval)
	}
	if c.Timeout > 0 && c.Lease < 2*c.Timeout {
		add("mail lease %v: must be at least twice the smtp timeout (%v)", c.Lease, 2*c.Timeout)
	}
	if c.MaxAttempts < 1 {
		add("mail max attempts %d: must be at least 1", c.MaxAttempts)
	}
	if c.BaseBackoff <= 0 {
		add("mail base backoff %v: must be positive", c.BaseBackoff)
	}
	if c.MaxBackoff < c.BaseBackoff {
		add("mail max backoff %v: must be at least the base backoff (%v)", c.MaxBackoff, c.BaseBackoff)
	}
	return errors.Join(problems...)
}
