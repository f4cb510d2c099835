package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/devmailbox"
	"github.com/sleutelbos/sleutelbos/internal/outbox"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/web"
)

// shutdownGrace bounds how long serve waits for requests in flight after SIGTERM.
const shutdownGrace = 10 * time.Second

// sweepEvery is how often expired sessions, quiet attempt counters and dead codes are removed,
// the outbox forgets the text of messages whose code expired, and ended throttles are reported.
const sweepEvery = 5 * time.Minute

// attemptsRetention is how long an attempt counter without news is kept. A throttled counter
// stays until its throttle ends; a code guesser still active keeps updating its counter, so
// the 100-failure lockout is only forgotten after a day without a single guess.
const attemptsRetention = 24 * time.Hour

// codesRetention is how long a one-time code is kept after it expired or was used (its hash is
// worthless by then; the row only helps to look back at a day's logons). It is never shorter
// than the resend window, whose count the codes still in it make.
const codesRetention = 24 * time.Hour

// Serve is the `sleutelbos serve` command: it runs until ctx is cancelled (SIGINT, SIGTERM),
// then stops accepting requests, finishes those in flight and stops the workers.
func Serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, log, err := LoadConfig("serve", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("serve: unexpected argument %q", rest[0])
	}
	// Say what is happening while it starts: a first start generates secrets, migrates a new
	// database and hashes the demo passwords, which takes a moment.
	progress := func(msg string) { fmt.Fprintln(stdout, msg) }
	progress("Starting Sleutelbos " + Version() + "…")
	if msg := tuneGC(cfg, getenv); msg != "" {
		progress(msg)
	}
	// Listen first: a port in use is reported before anything else happens, and --listen with
	// port 0 learns its real address for the printed URL.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	var metricsLn net.Listener
	if cfg.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return fmt.Errorf("listen on %s (--metrics-listen; empty turns the metrics off): %w", cfg.MetricsListen, err)
		}
		defer metricsLn.Close()
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + ln.Addr().String()
	}
	n, err := Open(ctx, cfg, log, WithProgress(progress))
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.OIDC.EnsureSigningKey(ctx); err != nil {
		return err
	}

	if cfg.Demo {
		progress("Creating the demo citizens (hashing their passwords takes a moment)…")
		creds, err := demo.Ensure(ctx, n.Store, demo.Deps{
			Passwords: n.Passwords, Hasher: n.Hasher, TOTP: n.TOTP, Now: n.Now,
		})
		if err != nil {
			return fmt.Errorf("demo citizens: %w", err)
		}
		opts := demo.PrintOptions{ANSI: isTerminal(stdout)}
		if devMailbox(cfg) {
			opts.MailboxURL = mailboxURL(cfg)
		}
		if err := demo.Print(stdout, creds, opts); err != nil {
			return err
		}
		if url, err := n.EnableDemoService(ctx); err != nil {
			log.Warn("the demo online service is off", "err", err)
		} else {
			fmt.Fprintf(stdout, "Demo online service: %s\n", url)
		}
	}
	progress("Starting the web server…")

	handler, sweeper, err := n.webHandler()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          nil,
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopWork(); wg.Wait() }()
	if n.Worker != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Worker.Run(workCtx); err != nil && workCtx.Err() == nil {
				log.Error("mail worker stopped", "err", err)
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); n.sweepPeriodically(workCtx, sweeper) }()

	announceMail(stdout, log, cfg)
	if !cfg.HasOperatorContact() {
		log.Warn("no helpdesk contact configured: the help page cannot tell citizens how to reach you; set --operator-email, --operator-phone or --operator-url")
	}
	// Before the citizens' address is printed: whoever waits for that line finds both.
	var metricsSrv *http.Server
	metricsErr := make(chan error, 1)
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", n.Metrics.Handler())
		if cfg.Pprof {
			mountPprof(mux)
			fmt.Fprintf(stdout, "Go profiles: http://%s/debug/pprof/\n", metricsLn.Addr())
		}
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { metricsErr <- metricsSrv.Serve(metricsLn) }()
		fmt.Fprintf(stdout, "Metrics for Prometheus: http://%s/metrics\n", metricsLn.Addr())
	}
	fmt.Fprintf(stdout, "Listening on %s\n", ln.Addr())
	fmt.Fprintf(stdout, "Sleutelbos is serving at %s\n", cfg.BaseURL)
	log.Info("serving", "url", cfg.BaseURL, "database", strings.SplitN(cfg.Database(), ":", 2)[0], "smtp", cfg.SMTPHost != "")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case err := <-metricsErr:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if metricsSrv != nil {
		// Scrapes are short; the citizens' requests below get the rest of the grace period.
		_ = metricsSrv.Shutdown(shutCtx)
	}
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Handler returns the HTTP handler of this node (tests drive it with httptest).
func (n *Node) Handler() (http.Handler, error) {
	h, _, err := n.webHandler()
	return h, err
}

// webHandler builds the HTTP handler of this node.
func (n *Node) webHandler() (http.Handler, *web.Server, error) {
	cfg := n.Config
	var mailbox http.Handler
	// The mailbox answers in the site's language and with the site's error pages: it calls
	// the web server built just below (requests only arrive once it exists).
	var s *web.Server
	dev := devMailbox(cfg)
	if dev {
		mailbox = devmailbox.New(n.Store, n.Bundle, devmailbox.Options{
			Lang:  func(r *http.Request) string { return s.Language(r) },
			Error: func(w http.ResponseWriter, r *http.Request, status int) { s.ErrorPage(w, r, status) },
		})
	}
	starts, err := attempts.NewQuota(n.Store, cfg.LogonStarts, cfg.LogonLifetime, n.Now)
	if err != nil {
		return nil, nil, fmt.Errorf("logon starts per address: %w", err)
	}
	s, err = web.New(web.Config{
		ServiceName:     cfg.ServiceName,
		BaseURL:         cfg.BaseURL,
		Secure:          isHTTPS(cfg.BaseURL),
		MaxBodyBytes:    cfg.MaxBodyBytes,
		SessionIdle:     cfg.SessionIdle,
		SessionAbsolute: cfg.SessionAbsolute,
		DevMailbox:      dev,
		DefaultLanguage: cfg.DefaultLanguage,
		TrustProxy:      cfg.TrustProxy,
		Operator:        web.Contact{Email: cfg.OperatorEmail, Phone: cfg.OperatorPhone, URL: cfg.OperatorURL},
		PrivacyURL:      cfg.PrivacyURL,

		AccessibilityURL: cfg.AccessibilityURL,
		Registration:     n.Signup != nil,
		HashingRequests:  cfg.PasswordQueue,
	}, web.Deps{
		Store: n.Store, Bundle: n.Bundle, Login: n.Login, Portal: n.Portal, Keys: n.Kinds, StartQuota: starts, Now: n.Now, Rand: n.Rand,
		Log: n.Log, Mailbox: mailbox,
		CSRFKey: n.Hasher.Sum("web.csrf-key"), DeviceKey: n.Hasher,
		OIDC: n.OIDC, DemoService: n.demoHandler(), Signup: n.Signup, Requests: n.Metrics, Recovery: n.Recovery, Helpdesk: n.Helpdesk,
		Policies: n.Policies, Campaigns: n.Campaigns, Roles: n.Store,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("web: %w", err)
	}
	n.setHandler(s.Handler())
	return s.Handler(), s, nil
}

// devMailbox reports whether /dev/mailbox is served: only without SMTP, and only when asked
// for — by demo mode or --dev-mailbox, which config refuses on https or behind a proxy. A
// loopback listener says nothing: behind a reverse proxy it is the usual production layout,
// and the page shows every citizen's codes to whoever can reach it.
func devMailbox(cfg config.Config) bool {
	return cfg.SMTPHost == "" && (cfg.Demo || cfg.DevMailbox)
}

// mailboxURL is the full address of the development mailbox.
func mailboxURL(cfg config.Config) string { return cfg.PublicURL() + devmailbox.Path }

// announceMail says at start, where the operator cannot miss it, that mail is held rather
// than sent, and where it can be read.
func announceMail(stdout io.Writer, log *slog.Logger, cfg config.Config) {
	if cfg.SMTPHost != "" {
		return
	}
	if devMailbox(cfg) {
		fmt.Fprintf(stdout, "!! No SMTP server is configured: e-mails are held in the outbox and NOT sent.\n"+
			"!! Read them in the development mailbox: %s\n", mailboxURL(cfg))
		log.Warn("no SMTP server configured: e-mails are held, not sent", "mailbox", mailboxURL(cfg))
		return
	}
	fmt.Fprintf(stdout, "!! No SMTP server is configured: e-mails are held in the outbox and NOT sent.\n"+
		"!! `sleutelbos admin mail status` shows them; set --smtp-host to send mail.\n")
	log.Warn("no SMTP server configured: e-mails are held in the outbox, not sent; set --smtp-host")
}

// isTerminal reports whether w is a terminal (a character device), where colours are shown
// rather than written to a log.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// isHTTPS reports whether the public URL is https (in any letter case: the URL parser accepts
// HTTPS:// and so must the cookie and HSTS decision).
func isHTTPS(base string) bool {
	u, err := url.Parse(base)
	return err == nil && u.Scheme == "https"
}

func (n *Node) mailWorker(from string) (*outbox.Worker, error) {
	cfg := n.Config
	ocfg := outbox.Config{
		Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		TLSPolicy: cfg.SMTPTLS, ImplicitTLS: cfg.SMTPImplicitTLS, Timeout: cfg.SMTPTimeout,
		From: from, BatchSize: 50, PollInterval: cfg.MailPoll, Lease: cfg.MailLease,
		MaxAttempts: cfg.MailMaxAttempts, BaseBackoff: cfg.MailBackoff, MaxBackoff: cfg.MailMaxBackoff,
	}
	if err := ocfg.Validate(); err != nil {
		return nil, fmt.Errorf("smtp configuration: %w", err)
	}
	sender, err := outbox.NewSMTPSender(ocfg, nil)
	if err != nil {
		return nil, err
	}
	// Jitter keeps messages that failed together (a relay outage) from all coming back at once,
	// on every node.
	var seed [32]byte
	if _, err := io.ReadFull(n.Rand, seed[:]); err != nil {
		return nil, fmt.Errorf("seed mail retry jitter: %w", err)
	}
	jitter := outbox.WithJitter(mrand.New(mrand.NewChaCha8(seed)))
	return outbox.NewWorker(n.Store, sender, ocfg, cfg.NodeName, n.Now, n.Log, jitter), nil
}

type sessionSweeper interface {
	SweepSessions(ctx context.Context) error
}

// sweepPeriodically runs sweep every sweepEvery until ctx is done.
func (n *Node) sweepPeriodically(ctx context.Context, s sessionSweeper) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.sweep(ctx, s)
		}
	}
}

// sweep removes expired sessions, quiet attempt counters and codes dead for codesRetention,
// reports the refusals of throttles that ended, and drops the text of outbox messages whose
// code expired (held ones too: the development mailbox then says the code expired). Failures
// are logged; the next sweep tries again.
func (n *Node) sweep(ctx context.Context, s sessionSweeper) {
	if err := s.SweepSessions(ctx); err != nil && ctx.Err() == nil {
		n.Log.Warn("sweep sessions", "err", err)
	}
	// Before the counters are removed: a counter with unreported refusals stays until then.
	if _, err := n.Login.ReportEndedThrottles(ctx); err != nil && ctx.Err() == nil {
		n.Log.Warn("report ended throttles", "err", err)
	}
	now := n.Now()
	if _, err := n.Store.DeleteAttemptsBefore(ctx, now.Add(-attemptsRetention)); err != nil && ctx.Err() == nil {
		n.Log.Warn("sweep attempt counters", "err", err)
	}
	keep := max(codesRetention, n.Config.EmailCodeWindow)
	if c, err := n.Store.DeleteCodesBefore(ctx, now.Add(-keep)); err != nil && ctx.Err() == nil {
		n.Log.Warn("sweep codes", "err", err)
	} else if c > 0 {
		n.Log.Info("swept codes", "deleted", c)
	}
	// Registrations: the password hashes of those that ended, and the rows older than the
	// per-address day (whose count they make).
	if g, err := n.Store.SweepSignups(ctx, now, now.Add(-signup.Day)); err != nil && ctx.Err() == nil {
		n.Log.Warn("sweep registrations", "err", err)
	} else if g > 0 {
		n.Log.Info("swept registrations", "deleted", g)
	}
	if m, err := n.Store.ExpireSecrets(ctx, now); err != nil && ctx.Err() == nil {
		n.Log.Warn("sweep expired codes from the outbox", "err", err)
	} else if m > 0 {
		n.Log.Info("removed expired codes from the outbox", "messages", m)
	}
	if err := n.OIDC.Sweep(ctx); err != nil && ctx.Err() == nil {
		n.Log.Warn("sweep the OpenID provider", "err", err)
	}
	// Phase-out: record switched-off keys as expired, warn of and deactivate unused keys.
	if rep, err := n.PhaseoutJobs.Run(ctx); err != nil && ctx.Err() == nil {
		n.Log.Warn("phase-out jobs", "err", err)
	} else if rep.Expired+rep.Warned+rep.Deactivated > 0 {
		n.Log.Info("phase-out jobs", "expired", rep.Expired, "warned", rep.Warned, "deactivated", rep.Deactivated)
	}
}
