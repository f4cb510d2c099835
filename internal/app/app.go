package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/campaign"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/emailcode"
	passwordkind "github.com/sleutelbos/sleutelbos/internal/keys/password"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/metrics"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/outbox"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// Version returns the module version the binary was built from, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Node is one wired Sleutelbos node: everything serve and the admin commands work with.
type Node struct {
	Config    config.Config
	Log       *slog.Logger
	Now       func() time.Time
	Rand      io.Reader
	Store     *sqlstore.DB
	Bundle    *i18n.Bundle
	Keyring   *secrets.Keyring
	Hasher    *secrets.Hasher
	Passwords *password.Hasher
	Audit     *audit.Recorder
	Mail      *mail.Composer
	Kinds     *keys.Registry
	TokenCard *tokencard.Kind
	EmailCode *emailcode.Kind
	TOTP      *totp.Kind
	Login     *login.Service
	Portal    *portal.Service
	// Policies is the node's view of the phase-out policies (SPEC §5) that the logon, My
	// digital keys and the jobs decide with; Phaseout sets and clears them.
	Policies *phaseout.Policies
	Phaseout *phaseout.Service
	// PhaseoutJobs records switched-off keys as expired and deactivates unused ones (serve's
	// sweeper runs them; one node at a time).
	PhaseoutJobs *phaseout.Jobs
	// Campaigns is the operator's campaign report and reminder rounds (admin phaseout
	// report|remind, the operator pages).
	Campaigns *campaign.Service
	// Signup runs self-registrations (nil when --registration=false).
	Signup *signup.Service
	// Recovery runs the forgotten username and password pages; Helpdesk the helpdesk console.
	Recovery *recovery.Service
	Helpdesk *helpdesk.Service
	// Worker delivers the outbox over SMTP; nil when no SMTP server is configured.
	Worker *outbox.Worker
	// OIDC is the OpenID provider online services log on through.
	OIDC *oidcop.Provider
	// Metrics is what operators watch the node with (serve's --metrics-listen serves it).
	Metrics *metrics.Metrics
	demo    demoParts

	progress func(msg string) // nil: report nothing
}

func (n *Node) report(msg string) {
	if n.progress != nil {
		n.progress(msg)
	}
}

// LoadConfig reads and validates the configuration of command name and builds its logger.
func LoadConfig(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, []string, *slog.Logger, error) {
	cfg, rest, err := config.Load(name, args, getenv, stderr, extra)
	if err != nil {
		return cfg, nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, rest, newLogger(cfg, stderr), nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// metricsScrapeTimeout bounds the database query a scrape makes (the outbox summary), so a
// slow database shows as sleutelbos_outbox_status_up 0 rather than a hung scrape.
const metricsScrapeTimeout = 5 * time.Second

// phaseoutJobLease bounds one run of the phase-out jobs on one node: another node takes over
// when a node dies mid-run.
const phaseoutJobLease = 10 * time.Minute

// Option changes how Open wires a node; tests use it to fix the clock.
type Option func(*Node)

// WithClock makes the node read time from now instead of the system clock.
func WithClock(now func() time.Time) Option { return func(n *Node) { n.Now = now } }

// WithProgress makes Open report each step of opening a node (serve prints them, so a first
// start that generates secrets and migrates a new database shows life).
func WithProgress(report func(msg string)) Option { return func(n *Node) { n.progress = report } }

// Open opens the database, applies migrations and wires every service.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Node, error) {
	n := &Node{Config: cfg, Log: log, Now: time.Now, Rand: rand.Reader}
	if cfg.TestClockFile != "" {
		// Demo mode only (config.Validate): browser tests move this node's time.
		fc, err := clock.FromFile(cfg.TestClockFile)
		if err != nil {
			return nil, err
		}
		n.Now = fc.Now
		log.Warn("the clock follows a test file (--test-clock-file): for tests only", "file", cfg.TestClockFile, "now", n.Now())
	}
	for _, o := range opts {
		o(n)
	}
	n.report("Loading the encryption and hash keys (a first start generates them)…")
	if err := n.openSecrets(); err != nil {
		return nil, err
	}
	bundle, err := i18n.Load(cfg.DefaultLanguage)
	if err != nil {
		return nil, err
	}
	n.Bundle = bundle
	n.report("Opening the database " + config.Redact(cfg.Database()) + "…")
	db, err := sqlstore.Open(ctx, cfg.Database(), sqlstore.WithClock(n.Now))
	if err != nil {
		return nil, err
	}
	n.report("Applying database migrations…")
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	n.Store = db
	if err := n.wire(); err != nil {
		db.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) openSecrets() error {
	enc, hk := n.Config.EncryptionKeys, n.Config.HashKey
	if enc == "" || hk == "" {
		genEnc, genHK, err := loadOrCreateSecrets(n.Config.DataDir, n.Rand)
		if err != nil {
			return err
		}
		if enc == "" {
			enc = genEnc
		}
		if hk == "" {
			hk = genHK
		}
	}
	kr, err := secrets.ParseKeyring(n.Rand, enc)
	if err != nil {
		return fmt.Errorf("--encryption-keys: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(hk)
	if err != nil {
		return errors.New("--hash-key: not valid base64")
	}
	h, err := secrets.NewHasher(raw)
	if err != nil {
		return fmt.Errorf("--hash-key: %w", err)
	}
	n.Keyring, n.Hasher = kr, h
	return nil
}

// passwordParams returns the argon2id parameters cfg hashes new passwords with.
func passwordParams(cfg config.Config) password.Params {
	return password.Params{
		Memory: uint32(cfg.PasswordMemoryKiB), Time: uint32(cfg.PasswordTime), Threads: uint8(cfg.PasswordThreads),
		SaltLen: 16, KeyLen: 32,
	}
}

func (n *Node) wire() error {
	cfg := n.Config
	var err error
	params := passwordParams(cfg)
	if err := params.Validate(); err != nil {
		return fmt.Errorf("password parameters: %w", err)
	}
	// Failed logons cost what the dearest parameters among the stored hashes cost, so that
	// accounts not rehashed since a parameter change do not stand out (nor unknown usernames).
	n.Metrics = metrics.New()
	n.Metrics.WatchOutbox(n.Store, n.Now, metricsScrapeTimeout)
	n.Metrics.WatchPool(n.Store.SQL(), n.Store.Dialect())
	n.Passwords = password.New(params, cfg.PasswordMaxHashes, n.Rand,
		password.WithStoredClasses(n.Store.PasswordHashParams), password.WithQueueObserver(n.Metrics))
	// Logons, throttles and lockouts are counted from their audit events once committed.
	n.Audit = audit.New(n.Now, n.Log, audit.WithObserver(n.Metrics.ObserveAudit))
	public := cfg.PublicURL()
	host := "localhost"
	if u, err := url.Parse(public); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	from := cfg.MailFrom
	if from == "" {
		from = "noreply@" + mailDomain(host)
	}
	var wake func()
	if cfg.SMTPHost != "" {
		if n.Worker, err = n.mailWorker(from); err != nil {
			return err
		}
		wake = n.Worker.Wake
	}
	composer, err := mail.NewComposer(n.Bundle, mail.ComposerConfig{
		ServiceName: cfg.ServiceName, BaseURL: public, From: from, MessageIDDomain: mailDomain(host),
		Now: n.Now, Rand: n.Rand, Hold: cfg.SMTPHost == "", Wake: wake,
		Helpdesk: mail.Helpdesk{Email: cfg.OperatorEmail, Phone: cfg.OperatorPhone, URL: cfg.OperatorURL},
	})
	if err != nil {
		return fmt.Errorf("mail templates: %w", err)
	}
	n.Mail = composer

	if n.TokenCard, err = tokencard.New(n.Hasher, n.Rand); err != nil {
		return err
	}
	if n.EmailCode, err = emailcode.New(emailcode.Config{
		Validity: cfg.EmailCodeTTL, TriesPerCode: cfg.EmailCodeTries, MaxCodes: cfg.EmailCodeMax, Window: cfg.EmailCodeWindow,
	}, n.Hasher, composer, n.Rand, n.Now); err != nil {
		return err
	}
	if n.TOTP, err = totp.New(totp.Config{Issuer: cfg.ServiceName, Skew: cfg.TOTPSkew}, n.Keyring, n.Rand, n.Now); err != nil {
		return err
	}
	if n.Kinds, err = keys.NewRegistry(passwordkind.New(), n.TokenCard, n.EmailCode, n.TOTP); err != nil {
		return err
	}
	// The view ages by the real clock even when a test clock decides the phases: a policy set
	// by another process is seen within the refresh period either way.
	n.Policies = phaseout.NewPolicies(n.Store, time.Now, phaseout.DefaultRefresh, n.Log)
	n.Phaseout = phaseout.NewService(n.Store, n.Kinds, n.Audit, n.Now)
	n.PhaseoutJobs, err = phaseout.NewJobs(phaseout.JobsConfig{Owner: cfg.NodeName, Lease: phaseoutJobLease, Batch: 200,
		LogonURL: public + "/keys"}, n.Store, composer, n.Audit, n.Now, n.Log)
	if err != nil {
		return err
	}
	if n.Campaigns, err = campaign.New(campaign.Deps{
		Store: n.Store, Kinds: n.Kinds, Policies: n.Policies, Mailer: composer, Audit: n.Audit, Now: n.Now,
		Location: phaseout.Brussels(), ActivateURL: strings.TrimRight(public, "/") + "/keys/activate", Log: n.Log,
	}); err != nil {
		return err
	}
	policy := attempts.Policy{Threshold: cfg.ThrottleAfter, Base: cfg.ThrottleBase, Max: cfg.ThrottleMax}
	// Per-address counters forget after a quiet period as long as the longest throttle, so a
	// shared address is never throttled for good by failures spread over days.
	ipPolicy := attempts.Policy{Threshold: cfg.IPThrottleAfter, Base: cfg.ThrottleBase, Max: cfg.ThrottleMax, Window: cfg.ThrottleMax}
	lcfg := login.DefaultConfig()
	lcfg.Lifetime, lcfg.LockAfter = cfg.LogonLifetime, cfg.LockAfter
	limiter, ipLimiter := attempts.New(n.Store, policy, n.Now), attempts.New(n.Store, ipPolicy, n.Now)
	n.Login, err = login.New(lcfg, login.Deps{
		Store: n.Store, Kinds: n.Kinds, Passwords: n.Passwords,
		Limiter: limiter, IPLimiter: ipLimiter, ScopeHasher: n.Hasher,
		Audit: n.Audit, Now: n.Now, Phases: n.Policies, Log: n.Log,
	})
	if err != nil {
		return err
	}
	pcfg := portal.DefaultConfig()
	pcfg.RecentLogon, pcfg.WizardLifetime, pcfg.LockAfter = cfg.RecentLogon, cfg.WizardLifetime, cfg.LockAfter
	pcfg.LostKeyWait = cfg.LostKeyWait
	n.Portal, err = portal.New(pcfg, portal.Deps{
		Store: n.Store, Kinds: n.Kinds, Codes: n.EmailCode, Mailer: composer,
		Limiter: limiter, IPLimiter: ipLimiter, Audit: n.Audit, Policy: phaseout.PortalPolicy{P: n.Policies},
		Now: n.Now, Rand: n.Rand, Log: n.Log,
	})
	if err != nil {
		return err
	}
	if err := n.wireRecovery(); err != nil {
		return err
	}
	if cfg.Registration {
		// Registrations (and new codes) per client address and hour: each costs a password
		// hash and an e-mail.
		quota, err := attempts.NewQuota(n.Store, cfg.RegistrationsPerAddress, time.Hour, n.Now)
		if err != nil {
			return fmt.Errorf("registrations per address: %w", err)
		}
		n.Signup, err = signup.New(signup.Config{
			Lifetime: cfg.RegistrationLifetime, PerEmail: cfg.RegistrationsPerEmail, Codes: n.EmailCode.Config(),
		}, signup.Deps{
			Store: n.Store, Passwords: n.Passwords, Hasher: n.Hasher, Mailer: composer, Audit: n.Audit,
			Quota: quota, IPLimiter: ipLimiter, Now: n.Now, Rand: n.Rand, Log: n.Log,
		})
		if err != nil {
			return err
		}
	}
	return n.wireOIDC()
}

// mailDomain turns a host into something usable after "@": an IP address or a bare name gets
// ".invalid"-free treatment by falling back to localhost.localdomain.
func mailDomain(host string) string {
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return "localhost.localdomain"
	}
	return host
}

// Close releases the database.
func (n *Node) Close() error { return n.Store.Close() }

// Migrate is the `sleutelbos migrate` command.
func Migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, _, err := LoadConfig("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", rest[0])
	}
	db, err := sqlstore.Open(ctx, cfg.Database())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is up to date\n", config.Redact(cfg.Database()))
	return nil
}

// wireRecovery builds the forgotten username and password pages' service: its limits are
// quotas per client address and per typed address or username, each over recovery.Window.
func (n *Node) wireRecovery() error {
	cfg := recovery.DefaultConfig()
	perAddress, err := attempts.NewQuota(n.Store, cfg.PerAddress, recovery.Window, n.Now)
	if err != nil {
		return fmt.Errorf("recovery requests per address: %w", err)
	}
	perIdentifier, err := attempts.NewQuota(n.Store, cfg.PerIdentifier, recovery.Window, n.Now)
	if err != nil {
		return fmt.Errorf("recovery requests per identifier: %w", err)
	}
	n.Recovery, err = recovery.New(cfg, recovery.Deps{
		Store: n.Store, Passwords: n.Passwords, Hasher: n.Hasher, Mailer: n.Mail, Audit: n.Audit,
		Factors: n.Login, Kinds: n.Kinds, AddressQuota: perAddress, IdentifierQuota: perIdentifier,
		RecoveryCodes: helpdesk.RecoveryCodes{Hasher: n.Hasher}, Now: n.Now, Rand: n.Rand, Log: n.Log,
	})
	if err != nil {
		return err
	}
	n.Helpdesk, err = helpdesk.New(helpdesk.DefaultConfig(), helpdesk.Deps{
		Store: n.Store, Logons: n.Login, Kinds: n.Kinds, PhaseOuts: n.Policies, Mailer: n.Mail, Audit: n.Audit,
		Hasher: n.Hasher, Now: n.Now, Rand: n.Rand, Log: n.Log,
	})
	return err
}
