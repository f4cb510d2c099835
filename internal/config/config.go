package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/oidcop/acr"
)

// Config is the whole configuration of a Sleutelbos node.
type Config struct {
	Listen string
	// MetricsListen is the address of the Prometheus /metrics listener, kept apart from the
	// citizens' one; empty turns it off.
	MetricsListen string
	// Pprof serves Go's runtime profiles at /debug/pprof/ on the metrics listener (for
	// finding where a node's CPU goes; off by default).
	Pprof bool
	// GCMemoryLimitMiB is the Go heap's soft limit in MiB under which the garbage collector
	// lets hash memory pile up instead of collecting after nearly every hash (see
	// GCSettings): 0 computes it from the password parameters, -1 leaves Go's defaults.
	GCMemoryLimitMiB int
	BaseURL          string
	DataDir          string
	DatabaseURL      string
	ServiceName      string
	DefaultLanguage  string
	Demo             bool
	// DevMailbox serves held mail at /dev/mailbox without Demo (a developer's machine only).
	DevMailbox bool
	// TestClockFile, only with Demo, makes the node's clock run from the instant the file
	// holds (internal/clock.FromFile): browser tests walk a phase-out's dates with it.
	TestClockFile string
	TrustProxy    bool
	LogLevel      string
	LogFormat     string
	NodeName      string

	// How citizens reach the operator (the help page and every page's footer): any of them
	// may be empty. With Demo, an empty e-mail address gets DemoOperatorEmail.
	OperatorEmail string
	OperatorPhone string
	OperatorURL   string
	// The privacy notice and accessibility statement linked from every page: absolute
	// http(s) URLs, or paths on this site (the defaults are the built-in pages).
	PrivacyURL       string
	AccessibilityURL string

	// Secrets at rest. Empty with SQLite: generated once into DataDir/secrets.
	EncryptionKeys string // "id:base64,id2:base64", first is current
	HashKey        string // base64, ≥ 32 bytes

	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	LogonLifetime   time.Duration
	RecentLogon     time.Duration
	WizardLifetime  time.Duration
	// LostKeyWait: after a substantial key is reported lost from a logon below substantial,
	// the e-mail key cannot be activated with that logon for this long (portal.Config.LostKeyWait).
	LostKeyWait  time.Duration
	MaxBodyBytes int64

	PasswordMemoryKiB uint
	PasswordTime      uint
	PasswordThreads   uint
	PasswordMaxHashes int
	// PasswordQueue bounds the requests in a password-hashing step at once (running or
	// waiting for a slot); more get 503 "busy, try again" with Retry-After.
	PasswordQueue int

	ThrottleAfter   int
	ThrottleBase    time.Duration
	ThrottleMax     time.Duration
	LockAfter       int
	IPThrottleAfter int
	// LogonStarts is how many logons (new pre-logon sessions) one address may start per
	// LogonLifetime and leave open: a completed logon gives its start back.
	LogonStarts int
	// Registration offers self-registration ("Create an account"); the Registrations…
	// settings are its limits: registrations (and new codes) one client address may ask for
	// per hour, registration e-mails one e-mail address gets per day, and how long one may
	// take.
	Registration            bool
	RegistrationsPerAddress int
	RegistrationsPerEmail   int
	RegistrationLifetime    time.Duration
	EmailCodeTTL            time.Duration
	EmailCodeTries          int
	EmailCodeMax            int
	EmailCodeWindow         time.Duration
	TOTPSkew                uint

	SMTPHost        string
	SMTPPort        int
	SMTPUsername    string
	SMTPPassword    string
	SMTPTLS         string
	SMTPImplicitTLS bool
	SMTPTimeout     time.Duration
	MailFrom        string
	MailPoll        time.Duration
	MailLease       time.Duration
	MailMaxAttempts int
	MailBackoff     time.Duration
	MailMaxBackoff  time.Duration

	// The OpenID provider.
	ACRValues           string // acr value=level table (internal/oidcop/acr)
	OIDCCodeLifetime    time.Duration
	OIDCTokenLifetime   time.Duration
	OIDCRequestLifetime time.Duration
	OIDCKeyRotation     time.Duration // 0: only `admin signing-keys rotate`
	OIDCJWKSMaxAge      time.Duration
}

// Default returns the embedded default: SQLite under ./data, listening on 127.0.0.1:8080.
func Default() Config {
	host, _ := os.Hostname()
	return Config{
		Listen:                  "127.0.0.1:8080",
		MetricsListen:           "127.0.0.1:9464",
		DataDir:                 "data",
		ServiceName:             "Sleutelbos",
		DefaultLanguage:         "en",
		LogLevel:                "info",
		LogFormat:               "text",
		NodeName:                host,
		PrivacyURL:              "/privacy",
		AccessibilityURL:        "/accessibility",
		SessionIdle:             15 * time.Minute,
		SessionAbsolute:         8 * time.Hour,
		LogonLifetime:           15 * time.Minute,
		RecentLogon:             15 * time.Minute,
		WizardLifetime:          30 * time.Minute,
		LostKeyWait:             72 * time.Hour,
		MaxBodyBytes:            64 << 10,
		PasswordMemoryKiB:       19 * 1024,
		PasswordTime:            2,
		PasswordThreads:         1,
		ThrottleAfter:           5,
		ThrottleBase:            time.Minute,
		ThrottleMax:             time.Hour,
		LockAfter:               100,
		PasswordQueue:           256,
		IPThrottleAfter:         50,
		LogonStarts:             200,
		Registration:            true,
		RegistrationsPerAddress: 20,
		RegistrationsPerEmail:   5,
		RegistrationLifetime:    30 * time.Minute,
		EmailCodeTTL:            5 * time.Minute,
		EmailCodeTries:          5,
		EmailCodeMax:            3,
		EmailCodeWindow:         15 * time.Minute,
		TOTPSkew:                1,
		SMTPPort:                587,
		SMTPTLS:                 "mandatory",
		SMTPTimeout:             15 * time.Second,
		MailPoll:                2 * time.Second,
		MailLease:               2 * time.Minute,
		MailMaxAttempts:         12,
		MailBackoff:             30 * time.Second,
		MailMaxBackoff:          time.Hour,

		ACRValues:           acr.Default,
		OIDCCodeLifetime:    time.Minute,
		OIDCTokenLifetime:   10 * time.Minute,
		OIDCRequestLifetime: 30 * time.Minute,
		OIDCKeyRotation:     30 * 24 * time.Hour,
		OIDCJWKSMaxAge:      15 * time.Minute,
	}
}

// FlagSet binds every setting of c to a flag of fs; the flag names are also the file keys.
func (c *Config) FlagSet(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to listen on (host:port)")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "also serve Go's runtime profiles at /debug/pprof/ on the metrics listener (to see where CPU time goes)")
	fs.IntVar(&c.GCMemoryLimitMiB, "gc-memory-limit-mib", c.GCMemoryLimitMiB, "soft limit of the Go heap in MiB under which password-hash memory is collected in batches (0: computed from the password settings; -1: Go's defaults, or GOGC/GOMEMLIMIT)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "address of the Prometheus /metrics listener (host:port; empty: off); it has no authentication, keep it on loopback or a private network")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public URL of this service (default http://LISTEN)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the embedded SQLite database and generated secrets")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "postgres://… for PostgreSQL (default: SQLite file in --data-dir)")
	fs.StringVar(&c.ServiceName, "service-name", c.ServiceName, "name shown in the header, e-mails and authenticator apps")
	fs.StringVar(&c.DefaultLanguage, "default-language", c.DefaultLanguage, "language when nothing else decides: nl, fr, de or en")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "create demo citizens and print their credentials")
	fs.StringVar(&c.TestClockFile, "test-clock-file", c.TestClockFile, "tests only, with --demo: the clock runs from the RFC 3339 instant this file holds (rewrite it to move time)")
	fs.BoolVar(&c.DevMailbox, "dev-mailbox", c.DevMailbox, "show held mail at /dev/mailbox without --demo (development only; refused with https or --trust-proxy)")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", c.TrustProxy, "take the client address from X-Forwarded-For")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "name of this node (outbox leases, logs)")
	fs.StringVar(&c.OperatorEmail, "operator-email", c.OperatorEmail, "helpdesk e-mail address shown on the help page and in the footer (demo: "+DemoOperatorEmail+")")
	fs.StringVar(&c.OperatorPhone, "operator-phone", c.OperatorPhone, "helpdesk telephone number shown on the help page and in the footer")
	fs.StringVar(&c.OperatorURL, "operator-url", c.OperatorURL, "helpdesk contact page (https://… or /path) shown on the help page and in the footer")
	fs.StringVar(&c.PrivacyURL, "privacy-url", c.PrivacyURL, "privacy notice linked from every page (https://… or /path; default the built-in page)")
	fs.StringVar(&c.AccessibilityURL, "accessibility-url", c.AccessibilityURL, "accessibility statement linked from every page (https://… or /path; default the built-in page)")
	fs.StringVar(&c.EncryptionKeys, "encryption-keys", c.EncryptionKeys, "AES-256 keys as id:base64,… (first is current)")
	fs.StringVar(&c.HashKey, "hash-key", c.HashKey, "base64 key (≥ 32 bytes) for keyed hashes of codes")
	fs.DurationVar(&c.SessionIdle, "session-idle", c.SessionIdle, "session idle timeout")
	fs.DurationVar(&c.SessionAbsolute, "session-absolute", c.SessionAbsolute, "session absolute lifetime")
	fs.DurationVar(&c.LogonLifetime, "logon-lifetime", c.LogonLifetime, "lifetime of a logon transaction")
	fs.DurationVar(&c.RecentLogon, "recent-logon", c.RecentLogon, "how long after a logon key changes are allowed")
	fs.DurationVar(&c.WizardLifetime, "wizard-lifetime", c.WizardLifetime, "how long activating a new key may take")
	fs.DurationVar(&c.LostKeyWait, "lost-key-wait", c.LostKeyWait, "after a substantial key is reported lost from a logon below substantial, how long before a new key can be activated by e-mail alone")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest accepted request body")
	fs.UintVar(&c.PasswordMemoryKiB, "password-memory-kib", c.PasswordMemoryKiB, "argon2id memory in KiB")
	fs.UintVar(&c.PasswordTime, "password-time", c.PasswordTime, "argon2id iterations")
	fs.UintVar(&c.PasswordThreads, "password-threads", c.PasswordThreads, "argon2id parallelism")
	fs.IntVar(&c.PasswordMaxHashes, "password-max-hashes", c.PasswordMaxHashes, "password hashes at once (0: GOMAXPROCS)")
	fs.IntVar(&c.PasswordQueue, "password-queue", c.PasswordQueue, "requests in a password-hashing step at once, running or waiting for a slot; more are answered 503 busy with Retry-After")
	fs.IntVar(&c.ThrottleAfter, "throttle-after", c.ThrottleAfter, "consecutive failures before a factor is throttled")
	fs.DurationVar(&c.ThrottleBase, "throttle-base", c.ThrottleBase, "first throttle period (doubles)")
	fs.DurationVar(&c.ThrottleMax, "throttle-max", c.ThrottleMax, "longest throttle period")
	fs.IntVar(&c.LockAfter, "lock-after", c.LockAfter, "consecutive failures that lock a key")
	fs.IntVar(&c.IPThrottleAfter, "ip-throttle-after", c.IPThrottleAfter, "consecutive failures from one IP before it is throttled")
	fs.IntVar(&c.LogonStarts, "logon-starts-per-address", c.LogonStarts, "logons one address (IPv6: /64) may start per --logon-lifetime and not complete (a completed logon gives its start back)")
	fs.BoolVar(&c.Registration, "registration", c.Registration, "let citizens create an account themselves (\"Create an account\" on the logon page)")
	fs.IntVar(&c.RegistrationsPerAddress, "registrations-per-address", c.RegistrationsPerAddress, "registrations (and new codes) one address (IPv6: /64) may ask for per hour")
	fs.IntVar(&c.RegistrationsPerEmail, "registrations-per-email", c.RegistrationsPerEmail, "registration e-mails one e-mail address gets per day")
	fs.DurationVar(&c.RegistrationLifetime, "registration-lifetime", c.RegistrationLifetime, "how long creating an account may take")
	fs.DurationVar(&c.EmailCodeTTL, "email-code-ttl", c.EmailCodeTTL, "validity of an e-mailed code")
	fs.IntVar(&c.EmailCodeTries, "email-code-tries", c.EmailCodeTries, "tries per e-mailed code")
	fs.IntVar(&c.EmailCodeMax, "email-code-max", c.EmailCodeMax, "e-mailed codes per window")
	fs.DurationVar(&c.EmailCodeWindow, "email-code-window", c.EmailCodeWindow, "window for --email-code-max")
	fs.UintVar(&c.TOTPSkew, "totp-skew", c.TOTPSkew, "TOTP steps accepted either side of now")
	fs.StringVar(&c.SMTPHost, "smtp-host", c.SMTPHost, "SMTP server (empty: mail is held in the outbox, not sent)")
	fs.IntVar(&c.SMTPPort, "smtp-port", c.SMTPPort, "SMTP port")
	fs.StringVar(&c.SMTPUsername, "smtp-username", c.SMTPUsername, "SMTP user (empty: no authentication)")
	fs.StringVar(&c.SMTPPassword, "smtp-password", c.SMTPPassword, "SMTP password")
	fs.StringVar(&c.SMTPTLS, "smtp-tls", c.SMTPTLS, "STARTTLS policy: mandatory, opportunistic or none")
	fs.BoolVar(&c.SMTPImplicitTLS, "smtp-implicit-tls", c.SMTPImplicitTLS, "connect with TLS from the start (port 465)")
	fs.DurationVar(&c.SMTPTimeout, "smtp-timeout", c.SMTPTimeout, "SMTP dial and command timeout")
	fs.StringVar(&c.MailFrom, "mail-from", c.MailFrom, "sender address (default noreply@ the base URL's host)")
	fs.DurationVar(&c.MailPoll, "mail-poll", c.MailPoll, "how often the outbox is polled")
	fs.DurationVar(&c.MailLease, "mail-lease", c.MailLease, "how long a claimed message is held by one node")
	fs.IntVar(&c.MailMaxAttempts, "mail-max-attempts", c.MailMaxAttempts, "delivery attempts before a message fails")
	fs.DurationVar(&c.MailBackoff, "mail-backoff", c.MailBackoff, "first retry delay (doubles)")
	fs.DurationVar(&c.MailMaxBackoff, "mail-max-backoff", c.MailMaxBackoff, "longest retry delay")
	fs.StringVar(&c.ACRValues, "acr-values", c.ACRValues, "OpenID Connect acr values and the level each names: value=level,…")
	fs.DurationVar(&c.OIDCCodeLifetime, "oidc-code-lifetime", c.OIDCCodeLifetime, "how long an authorization code may be exchanged")
	fs.DurationVar(&c.OIDCTokenLifetime, "oidc-token-lifetime", c.OIDCTokenLifetime, "lifetime of ID and access tokens")
	fs.DurationVar(&c.OIDCRequestLifetime, "oidc-request-lifetime", c.OIDCRequestLifetime, "how long an online service's logon request waits for the citizen")
	fs.DurationVar(&c.OIDCKeyRotation, "oidc-key-rotation", c.OIDCKeyRotation, "age at which a new ID token signing key is made (0: only by admin signing-keys rotate)")
	fs.DurationVar(&c.OIDCJWKSMaxAge, "oidc-jwks-max-age", c.OIDCJWKSMaxAge, "how long online services may cache the signing keys; a new key signs after twice this")
}

// EnvPrefix prefixes every environment variable.
const EnvPrefix = "SLEUTELBOS_"

// EnvName returns the environment variable of a flag: listen → SLEUTELBOS_LISTEN.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load builds a Config from defaults, the file named by --config (or SLEUTELBOS_CONFIG), the
// environment and args, in increasing precedence. extra, when non-nil, registers
// command-specific flags on the same set. It returns the arguments left after the flags.
func Load(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (Config, []string, error) {
	c := Default()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.FlagSet(fs)
	var file string
	fs.StringVar(&file, "config", getenv(EnvName("config")), "configuration file (key = value lines)")
	if extra != nil {
		extra(fs)
	}
	// The file and environment are applied before the command line so that flags win; the
	// command line is parsed twice, first only to find --config.
	probe := flag.NewFlagSet(name, flag.ContinueOnError)
	probe.SetOutput(io.Discard)
	probeCfg := Default()
	probeCfg.FlagSet(probe)
	probe.StringVar(&file, "config", file, "")
	if extra != nil {
		extra(probe)
	}
	_ = probe.Parse(args) // errors are reported by the real parse below

	if file != "" {
		if err := applyFile(fs, file); err != nil {
			return c, nil, err
		}
	}
	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		if v, ok := lookup(getenv, EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, flagErr(f, err)))
			}
		}
	})
	if err := errors.Join(envErrs...); err != nil {
		return c, nil, fmt.Errorf("environment:\n%w", err)
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	c.applyDemoDefaults()
	return c, fs.Args(), nil
}

// DemoOperatorEmail is the helpdesk address of demo mode when none is configured.
const DemoOperatorEmail = "helpdesk@example.org"

// applyDemoDefaults gives demo mode a helpdesk to show, so its pages have no dead ends.
func (c *Config) applyDemoDefaults() {
	if c.Demo && c.OperatorEmail == "" && c.OperatorPhone == "" && c.OperatorURL == "" {
		c.OperatorEmail = DemoOperatorEmail
	}
}

// HasOperatorContact reports whether citizens are told how to reach the helpdesk.
func (c *Config) HasOperatorContact() bool {
	return c.OperatorEmail != "" || c.OperatorPhone != "" || c.OperatorURL != ""
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func applyFile(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	var errs []error
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			errs = append(errs, fmt.Errorf("line %d: want key = value, got %q", n, line))
			continue
		}
		if uq, err := strconv.Unquote(val); err == nil {
			val = uq
		}
		if fs.Lookup(key) == nil || key == "config" {
			errs = append(errs, fmt.Errorf("line %d: unknown key %q (keys are the flag names, e.g. listen, database-url)", n, key))
			continue
		}
		if err := fs.Set(key, val); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s = %q: %v", n, key, val, flagErr(fs.Lookup(key), err)))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config file %s:\n%w", path, err)
	}
	return nil
}

// flagErr explains why a value does not fit a flag, in words rather than "parse error".
func flagErr(f *flag.Flag, err error) string {
	switch t := fmt.Sprintf("%T", f.Value); {
	case strings.Contains(t, "duration"):
		return "not a valid duration (examples: 90s, 15m, 8h)"
	case strings.Contains(t, "bool"):
		return "want true or false"
	case strings.Contains(t, "int"):
		return "not a valid whole number"
	}
	return err.Error()
}

// Validate reports every invalid setting at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(flagName string, val any, why string) {
		errs = append(errs, fmt.Errorf("--%s %v: %s", flagName, val, why))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", strconv.Quote(c.Listen), "want host:port, e.g. 127.0.0.1:8080")
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("listen", strconv.Quote(c.Listen), "port must be 0 to 65535")
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics-listen", strconv.Quote(c.MetricsListen), "want host:port, e.g. 127.0.0.1:9464, or empty to turn the metrics off")
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("metrics-listen", strconv.Quote(c.MetricsListen), "port must be 0 to 65535")
		} else if c.MetricsListen == c.Listen && p != 0 {
			bad("metrics-listen", strconv.Quote(c.MetricsListen), "must differ from --listen: the metrics have a listener of their own")
		}
	}
	if c.Pprof && c.MetricsListen == "" {
		bad("pprof", true, "needs --metrics-listen: the profiles are served on the metrics listener")
	}
	if c.GCMemoryLimitMiB < -1 || c.GCMemoryLimitMiB > 1<<20 {
		bad("gc-memory-limit-mib", c.GCMemoryLimitMiB, "want -1 (Go's defaults), 0 (computed) or a size in MiB up to 1048576")
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("base-url", strconv.Quote(c.BaseURL), "want an absolute http:// or https:// URL")
		}
	}
	if c.DatabaseURL != "" && !IsPostgres(c.DatabaseURL) && !strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		bad("database-url", Redact(c.DatabaseURL), "want postgres://… or sqlite:PATH")
	}
	if c.DatabaseURL == "" && c.DataDir == "" {
		bad("data-dir", `""`, "needed for the embedded SQLite database")
	}
	if IsPostgres(c.DatabaseURL) && (c.EncryptionKeys == "" || c.HashKey == "") {
		errs = append(errs, errors.New("--encryption-keys and --hash-key: required with PostgreSQL, so that every node uses the same secrets (generate with `sleutelbos admin secrets generate`)"))
	}
	if strings.TrimSpace(c.ServiceName) == "" {
		bad("service-name", `""`, "must not be empty")
	}
	if !i18n.Supported(c.DefaultLanguage) {
		bad("default-language", strconv.Quote(c.DefaultLanguage), "want nl, fr, de or en")
	}
	if !oneOf(c.LogLevel, "debug", "info", "warn", "error") {
		bad("log-level", strconv.Quote(c.LogLevel), "want debug, info, warn or error")
	}
	if !oneOf(c.LogFormat, "text", "json") {
		bad("log-format", strconv.Quote(c.LogFormat), "want text or json")
	}
	if c.NodeName == "" {
		bad("node-name", `""`, "must not be empty")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"session-idle", c.SessionIdle}, {"session-absolute", c.SessionAbsolute}, {"logon-lifetime", c.LogonLifetime},
		{"recent-logon", c.RecentLogon}, {"wizard-lifetime", c.WizardLifetime}, {"lost-key-wait", c.LostKeyWait}, {"registration-lifetime", c.RegistrationLifetime},
		{"throttle-base", c.ThrottleBase}, {"throttle-max", c.ThrottleMax}, {"email-code-ttl", c.EmailCodeTTL},
		{"email-code-window", c.EmailCodeWindow}, {"smtp-timeout", c.SMTPTimeout}, {"mail-poll", c.MailPoll},
		{"mail-lease", c.MailLease}, {"mail-backoff", c.MailBackoff}, {"mail-max-backoff", c.MailMaxBackoff},
	} {
		if d.v <= 0 {
			bad(d.name, d.v, "must be positive")
		}
	}
	if c.SessionIdle > c.SessionAbsolute {
		bad("session-idle", c.SessionIdle, fmt.Sprintf("must not exceed --session-absolute (%s)", c.SessionAbsolute))
	}
	if c.RecentLogon > c.SessionAbsolute {
		bad("recent-logon", c.RecentLogon, fmt.Sprintf("must not exceed --session-absolute (%s)", c.SessionAbsolute))
	}
	if c.LostKeyWait > 0 && (c.LostKeyWait < time.Hour || c.LostKeyWait > 30*24*time.Hour) {
		bad("lost-key-wait", c.LostKeyWait, "must be between 1h and 720h")
	}
	if c.WizardLifetime > 0 && c.WizardLifetime < time.Minute {
		bad("wizard-lifetime", c.WizardLifetime, "must be at least 1m")
	}
	if c.RegistrationLifetime > 0 && c.RegistrationLifetime < time.Minute {
		bad("registration-lifetime", c.RegistrationLifetime, "must be at least 1m")
	}
	if c.ThrottleBase > c.ThrottleMax {
		bad("throttle-base", c.ThrottleBase, fmt.Sprintf("must not exceed --throttle-max (%s)", c.ThrottleMax))
	}
	if c.MailBackoff > c.MailMaxBackoff {
		bad("mail-backoff", c.MailBackoff, fmt.Sprintf("must not exceed --mail-max-backoff (%s)", c.MailMaxBackoff))
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 16<<20 {
		bad("max-body-bytes", c.MaxBodyBytes, "want 1024 to 16777216")
	}
	if c.PasswordMemoryKiB < 8*1024 || c.PasswordMemoryKiB > 4<<20 {
		bad("password-memory-kib", c.PasswordMemoryKiB, "want 8192 to 4194304 (OWASP minimum is 19456)")
	}
	if c.PasswordTime < 1 || c.PasswordTime > 100 {
		bad("password-time", c.PasswordTime, "want 1 to 100")
	}
	if c.PasswordThreads < 1 || c.PasswordThreads > 255 {
		bad("password-threads", c.PasswordThreads, "want 1 to 255")
	}
	if c.PasswordMaxHashes < 0 {
		bad("password-max-hashes", c.PasswordMaxHashes, "must be 0 (GOMAXPROCS) or more")
	}
	if c.PasswordQueue < 1 || c.PasswordQueue > 100000 {
		bad("password-queue", c.PasswordQueue, "want 1 to 100000 (requests hashing or waiting to hash at once)")
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"throttle-after", c.ThrottleAfter}, {"lock-after", c.LockAfter}, {"ip-throttle-after", c.IPThrottleAfter},
		{"logon-starts-per-address", c.LogonStarts},
		{"registrations-per-address", c.RegistrationsPerAddress}, {"registrations-per-email", c.RegistrationsPerEmail},
		{"email-code-tries", c.EmailCodeTries}, {"email-code-max", c.EmailCodeMax}, {"mail-max-attempts", c.MailMaxAttempts},
	} {
		if n.v < 1 {
			bad(n.name, n.v, "must be at least 1")
		}
	}
	if c.TOTPSkew > 10 {
		bad("totp-skew", c.TOTPSkew, "want 0 to 10")
	}
	if c.SMTPHost != "" {
		if c.SMTPPort < 1 || c.SMTPPort > 65535 {
			bad("smtp-port", c.SMTPPort, "want 1 to 65535")
		}
		if !oneOf(c.SMTPTLS, "mandatory", "opportunistic", "none") {
			bad("smtp-tls", strconv.Quote(c.SMTPTLS), "want mandatory, opportunistic or none")
		}
		if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
			bad("smtp-username", strconv.Quote(c.SMTPUsername), "set both --smtp-username and --smtp-password, or neither")
		}
	}
	if c.TestClockFile != "" && !c.Demo {
		bad("test-clock-file", strconv.Quote(c.TestClockFile), "a clock that a file sets is for browser tests only: refused without --demo")
	}
	if c.DevMailbox {
		// The mailbox shows every citizen's codes to whoever reaches it: never where the
		// service is public. A proxy in front or an https address says it is.
		if c.TrustProxy {
			bad("dev-mailbox", true, "shows every citizen's e-mailed codes to anyone who can reach it; refused together with --trust-proxy (a service behind a proxy is public)")
		}
		if u, err := url.Parse(c.BaseURL); err == nil && u.Scheme == "https" {
			bad("dev-mailbox", true, fmt.Sprintf("shows every citizen's e-mailed codes to anyone who can reach it; refused together with an https:// --base-url (%s)", c.BaseURL))
		}
		if c.SMTPHost != "" {
			bad("dev-mailbox", true, "mail is sent over SMTP (--smtp-host), so the development mailbox would stay empty; drop one of the two")
		}
	}
	if c.OperatorEmail != "" && !plainAddress(c.OperatorEmail) {
		bad("operator-email", strconv.Quote(c.OperatorEmail), "want a plain address such as helpdesk@example.org")
	}
	if c.OperatorPhone != "" && !phoneNumber(c.OperatorPhone) {
		bad("operator-phone", strconv.Quote(c.OperatorPhone), "want a telephone number of digits, spaces and + - . / ( ), e.g. +32 2 123 45 67")
	}
	for _, u := range []struct{ name, v string }{
		{"operator-url", c.OperatorURL}, {"privacy-url", c.PrivacyURL}, {"accessibility-url", c.AccessibilityURL},
	} {
		if u.v != "" && !linkURL(u.v) {
			bad(u.name, strconv.Quote(u.v), "want an absolute http:// or https:// URL, or a path on this site such as /privacy")
		}
	}
	errs = append(errs, c.validateOIDC()...)
	if c.MailFrom != "" && (strings.ContainsAny(c.MailFrom, "\r\n<> ") || !strings.Contains(c.MailFrom, "@")) {
		bad("mail-from", strconv.Quote(c.MailFrom), "want a plain address such as noreply@example.org")
	}
	return errors.Join(errs...)
}

// plainAddress reports whether v is an e-mail address without a display name.
func plainAddress(v string) bool {
	a, err := mail.ParseAddress(v)
	return err == nil && a.Name == "" && a.Address == v && !strings.ContainsAny(v, "\r\n<> ")
}

// phoneNumber reports whether v looks like a telephone number to show and dial.
func phoneNumber(v string) bool {
	digits := 0
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+ -./()", r):
		default:
			return false
		}
	}
	return digits >= 3 && digits <= 20 && len(v) <= 32
}

// linkURL reports whether v may be linked from every page: an absolute http(s) URL, or a path
// on this site ("/privacy"; never "//host", which is another site).
func linkURL(v string) bool {
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || r == ' ' }) {
		return false
	}
	u, err := url.Parse(v)
	if err != nil {
		return false
	}
	if strings.HasPrefix(v, "/") {
		return !strings.HasPrefix(v, "//") && u.Scheme == "" && u.Host == ""
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// validateOIDC checks the OpenID provider's settings.
func (c *Config) validateOIDC() []error {
	var errs []error
	bad := func(flagName string, val any, why string) {
		errs = append(errs, fmt.Errorf("--%s %v: %s", flagName, val, why))
	}
	if _, err := acr.Parse(c.ACRValues); err != nil {
		bad("acr-values", strconv.Quote(c.ACRValues), strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	within := func(name string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			bad(name, v, fmt.Sprintf("want %s to %s", lo, hi))
		}
	}
	// RFC 6749 §4.1.2: a code lives at most ten minutes.
	within("oidc-code-lifetime", c.OIDCCodeLifetime, 10*time.Second, 10*time.Minute)
	within("oidc-token-lifetime", c.OIDCTokenLifetime, time.Minute, 24*time.Hour)
	within("oidc-request-lifetime", c.OIDCRequestLifetime, time.Minute, 24*time.Hour)
	within("oidc-jwks-max-age", c.OIDCJWKSMaxAge, time.Minute, 24*time.Hour)
	if c.OIDCRequestLifetime < c.LogonLifetime {
		bad("oidc-request-lifetime", c.OIDCRequestLifetime, fmt.Sprintf("must be at least --logon-lifetime (%s): the logon happens within the request", c.LogonLifetime))
	}
	// A new key is published twice the JWKS cache lifetime before it signs; rotating more often
	// would make keys before the last one ever signed.
	if c.OIDCKeyRotation != 0 && c.OIDCKeyRotation < max(time.Hour, 4*c.OIDCJWKSMaxAge) {
		bad("oidc-key-rotation", c.OIDCKeyRotation, fmt.Sprintf("want 0 (only by the admin command) or at least %s (1h, and 4 × --oidc-jwks-max-age)", max(time.Hour, 4*c.OIDCJWKSMaxAge)))
	}
	return errs
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// IsPostgres reports whether url names a PostgreSQL database.
func IsPostgres(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// Redact hides the password of a database URL for messages and logs.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if _, has := p.User.Password(); has {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	return p.String()
}

// Database returns the database URL to open: DatabaseURL, or the SQLite file in DataDir.
func (c *Config) Database() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return "sqlite:" + filepath.Join(c.DataDir, "sleutelbos.db")
}

// PublicURL returns BaseURL, or http://Listen when unset.
func (c *Config) PublicURL() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return "http://" + c.Listen
}

// Names lists every setting's flag name, sorted (for the README reference test).
func Names() []string {
	c := Default()
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	c.FlagSet(fs)
	var out []string
	fs.VisitAll(func(f *flag.Flag) { out = append(out, f.Name) })
	sort.Strings(out)
	return out
}
