package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "sleutelbos.conf")
	content := "# comment\nlisten = 127.0.0.1:9000\nservice-name = \"Mijn Dienst\"\nsession-idle = 10m\nsmtp-host = mail.example.org\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, rest, err := Load("serve", []string{"--config", file, "--smtp-host", "flag.example.org", "extra"},
		env(map[string]string{"SLEUTELBOS_SESSION_IDLE": "12m", "SLEUTELBOS_SMTP_HOST": "env.example.org"}), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" {
		t.Errorf("Listen = %q, want the file's value", c.Listen)
	}
	if c.ServiceName != "Mijn Dienst" {
		t.Errorf("ServiceName = %q, want the unquoted file value", c.ServiceName)
	}
	if c.SessionIdle != 12*time.Minute {
		t.Errorf("SessionIdle = %s, want env to beat the file", c.SessionIdle)
	}
	if c.SMTPHost != "flag.example.org" {
		t.Errorf("SMTPHost = %q, want the flag to beat env", c.SMTPHost)
	}
	if len(rest) != 1 || rest[0] != "extra" {
		t.Errorf("rest = %v", rest)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("listen 127.0.0.1\nnope = 1\nsession-idle = soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"unknown flag", []string{"--no-such-flag"}, nil, []string{"no-such-flag"}},
		{"bad env duration", nil, map[string]string{"SLEUTELBOS_SESSION_IDLE": "forever"}, []string{"SLEUTELBOS_SESSION_IDLE", "not a valid duration"}},
		{"bad file", []string{"--config", bad}, nil, []string{"line 1: want key = value", `line 2: unknown key "nope"`, "line 3: session-idle", "not a valid duration"}},
		{"missing file", []string{"--config", filepath.Join(dir, "missing.conf")}, nil, []string{"config file", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Load("serve", tt.args, env(tt.env), io.Discard, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if c := Default(); c.Validate() != nil {
		t.Fatalf("default config invalid: %v", c.Validate())
	}
	dev := Default()
	dev.DevMailbox, dev.BaseURL = true, "http://localhost:8080"
	if err := dev.Validate(); err != nil {
		t.Errorf("--dev-mailbox on a plain http development set-up: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"listen", func(c *Config) { c.Listen = "localhost" }, []string{`--listen "localhost": want host:port`}},
		{"port", func(c *Config) { c.Listen = "127.0.0.1:99999" }, []string{"port must be 0 to 65535"}},
		{"password queue", func(c *Config) { c.PasswordQueue = 0 }, []string{"--password-queue 0: want 1 to 100000"}},
		{"metrics listen", func(c *Config) { c.MetricsListen = "9464" }, []string{`--metrics-listen "9464": want host:port`, "or empty to turn the metrics off"}},
		{"metrics port", func(c *Config) { c.MetricsListen = "127.0.0.1:70000" }, []string{`--metrics-listen "127.0.0.1:70000": port must be 0 to 65535`}},
		{"pprof without metrics", func(c *Config) { c.Pprof, c.MetricsListen = true, "" }, []string{"--pprof true: needs --metrics-listen"}},
		{"gc limit below -1", func(c *Config) { c.GCMemoryLimitMiB = -2 }, []string{"--gc-memory-limit-mib -2: want -1 (Go's defaults), 0 (computed)"}},
		{"metrics on the citizens' listener", func(c *Config) { c.MetricsListen = c.Listen }, []string{"--metrics-listen", "must differ from --listen"}},
		{"base url", func(c *Config) { c.BaseURL = "ftp://x" }, []string{"--base-url"}},
		{"database", func(c *Config) { c.DatabaseURL = "mysql://u:secret@x/db" }, []string{"--database-url", "want postgres://"}},
		{"postgres needs secrets", func(c *Config) { c.DatabaseURL = "postgres://x/db" }, []string{"--encryption-keys and --hash-key: required with PostgreSQL"}},
		{"language", func(c *Config) { c.DefaultLanguage = "es" }, []string{`--default-language "es": want nl, fr, de or en`}},
		{"durations", func(c *Config) { c.SessionIdle = 0; c.MailLease = -time.Second }, []string{"--session-idle 0s: must be positive", "--mail-lease -1s: must be positive"}},
		{"portal durations", func(c *Config) { c.RecentLogon = 0; c.WizardLifetime = 30 * time.Second }, []string{"--recent-logon 0s: must be positive", "--wizard-lifetime 30s: must be at least 1m"}},
		{"lost key wait", func(c *Config) { c.LostKeyWait = 30 * time.Minute }, []string{"--lost-key-wait 30m0s: must be between 1h and 720h"}},
		{"lost key wait too long", func(c *Config) { c.LostKeyWait = 721 * time.Hour }, []string{"--lost-key-wait 721h0m0s: must be between 1h and 720h"}},
		{"lost key wait zero", func(c *Config) { c.LostKeyWait = 0 }, []string{"--lost-key-wait 0s: must be positive"}},
		{"recent logon beyond absolute", func(c *Config) { c.RecentLogon = 9 * time.Hour }, []string{"--recent-logon 9h0m0s: must not exceed --session-absolute"}},
		{"idle beyond absolute", func(c *Config) { c.SessionIdle = 9 * time.Hour }, []string{"must not exceed --session-absolute"}},
		{"argon2 memory", func(c *Config) { c.PasswordMemoryKiB = 1 }, []string{"--password-memory-kib 1"}},
		{"counts", func(c *Config) { c.LockAfter = 0; c.EmailCodeTries = -1 }, []string{"--lock-after 0: must be at least 1", "--email-code-tries -1"}},
		{"logon starts", func(c *Config) { c.LogonStarts = 0 }, []string{"--logon-starts-per-address 0: must be at least 1"}},
		{"registration limits", func(c *Config) {
			c.RegistrationsPerAddress, c.RegistrationsPerEmail, c.RegistrationLifetime = 0, -1, 30*time.Second
		}, []string{"--registrations-per-address 0: must be at least 1", "--registrations-per-email -1: must be at least 1",
			"--registration-lifetime 30s: must be at least 1m"}},
		{"smtp", func(c *Config) { c.SMTPHost = "m"; c.SMTPTLS = "maybe"; c.SMTPUsername = "u" }, []string{"--smtp-tls", "set both --smtp-username and --smtp-password"}},
		{"mail from", func(c *Config) { c.MailFrom = "a@b\r\nBcc: x@y" }, []string{"--mail-from"}},
		{"operator contact", func(c *Config) {
			c.OperatorEmail, c.OperatorPhone, c.OperatorURL = "Help Desk <help@example.org>", "call us", "javascript:alert(1)"
		}, []string{`--operator-email "Help Desk <help@example.org>": want a plain address`, `--operator-phone "call us"`, `--operator-url "javascript:alert(1)": want an absolute http:// or https:// URL, or a path`}},
		{"statement links", func(c *Config) { c.PrivacyURL, c.AccessibilityURL = "//evil.example/privacy", "privacy.html" }, []string{`--privacy-url "//evil.example/privacy"`, `--accessibility-url "privacy.html"`}},
		{"dev mailbox behind a proxy", func(c *Config) { c.DevMailbox, c.TrustProxy = true, true }, []string{"--dev-mailbox true:", "refused together with --trust-proxy"}},
		{"dev mailbox on https", func(c *Config) { c.DevMailbox, c.BaseURL = true, "HTTPS://login.example.test" }, []string{"--dev-mailbox true:", "refused together with an https:// --base-url"}},
		{"dev mailbox with smtp", func(c *Config) { c.DevMailbox, c.SMTPHost = true, "mail.example.org" }, []string{"--dev-mailbox true:", "--smtp-host"}},
		{"test clock without demo", func(c *Config) { c.TestClockFile = "/tmp/clock" }, []string{`--test-clock-file "/tmp/clock":`, "refused without --demo"}},
		{"acr table", func(c *Config) { c.ACRValues = "urn:a=low,urn:b=medium" }, []string{"--acr-values", "entry 2", "medium"}},
		{"acr table without high", func(c *Config) { c.ACRValues = "urn:a=low,urn:b=substantial" }, []string{"--acr-values", "no acr value names level high"}},
		{"oidc lifetimes", func(c *Config) {
			c.OIDCCodeLifetime = time.Hour
			c.OIDCTokenLifetime = 0
			c.OIDCJWKSMaxAge = time.Second
		},
			[]string{"--oidc-code-lifetime 1h0m0s: want 10s to 10m0s", "--oidc-token-lifetime 0s", "--oidc-jwks-max-age 1s"}},
		{"oidc request shorter than a logon", func(c *Config) { c.OIDCRequestLifetime = 5 * time.Minute }, []string{"--oidc-request-lifetime 5m0s: must be at least --logon-lifetime"}},
		{"key rotation too often", func(c *Config) { c.OIDCKeyRotation = 30 * time.Minute }, []string{"--oidc-key-rotation 30m0s", "at least 1h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") && !strings.Contains(err.Error(), "secrets") {
				t.Errorf("error %q leaks a password", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	if got := Redact("postgres://u:hunter2@h/db"); strings.Contains(got, "hunter2") {
		t.Errorf("Redact leaked the password: %s", got)
	}
	if got := Redact("postgres://u@h/db"); got != "postgres://u@h/db" {
		t.Errorf("Redact changed a URL without password: %s", got)
	}
}

func TestDatabaseDefault(t *testing.T) {
	t.Parallel()
	c := Default()
	if got := c.Database(); got != "sqlite:"+filepath.Join("data", "sleutelbos.db") {
		t.Errorf("Database() = %q", got)
	}
	if got := c.PublicURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("PublicURL() = %q", got)
	}
}

func TestOperatorSettings(t *testing.T) {
	t.Parallel()
	c := Default()
	c.OperatorEmail, c.OperatorPhone, c.OperatorURL = "helpdesk@example.be", "+32 (0)2 123.45-67", "https://example.be/contact"
	c.PrivacyURL, c.AccessibilityURL = "https://example.be/privacy", "/accessibility"
	if err := c.Validate(); err != nil {
		t.Errorf("valid operator settings refused: %v", err)
	}
	// Demo mode has a helpdesk address unless one is configured; other modes have none.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--demo"}, DemoOperatorEmail},
		{[]string{"--demo", "--operator-email", "help@example.be"}, "help@example.be"},
		{[]string{"--demo", "--operator-phone", "+32 2 000 00 00"}, ""},
	} {
		c, _, err := Load("serve", tt.args, env(nil), io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.OperatorEmail != tt.want {
			t.Errorf("%v: operator e-mail %q, want %q", tt.args, c.OperatorEmail, tt.want)
		}
		if c.PrivacyURL != "/privacy" || c.AccessibilityURL != "/accessibility" {
			t.Errorf("%v: statement links %q, %q", tt.args, c.PrivacyURL, c.AccessibilityURL)
		}
	}
}

// TestRegistrationSetting: self-registration is on by default and the operator turns it off
// with the flag, the environment or the file.
func TestRegistrationSetting(t *testing.T) {
	t.Parallel()
	c, _, err := Load("serve", nil, env(nil), io.Discard, nil)
	if err != nil || !c.Registration {
		t.Fatalf("default: Registration = %v, %v; want on", c.Registration, err)
	}
	file := filepath.Join(t.TempDir(), "sleutelbos.conf")
	if err := os.WriteFile(file, []byte("registration = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() (Config, []string, error){
		"flag": func() (Config, []string, error) {
			return Load("serve", []string{"--registration=false"}, env(nil), io.Discard, nil)
		},
		"env": func() (Config, []string, error) {
			return Load("serve", nil, env(map[string]string{"SLEUTELBOS_REGISTRATION": "false"}), io.Discard, nil)
		},
		"file": func() (Config, []string, error) {
			return Load("serve", []string{"--config", file}, env(nil), io.Discard, nil)
		},
	} {
		if c, _, err := load(); err != nil || c.Registration {
			t.Errorf("%s: Registration = %v, %v; want off", name, c.Registration, err)
		}
	}
}
