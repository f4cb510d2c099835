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
	tests := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"listen", func(c *Config) { c.Listen = "localhost" }, []string{`--listen "localhost": want host:port`}},
		{"port", func(c *Config) { c.Listen = "127.0.0.1:99999" }, []string{"port must be 0 to 65535"}},
		{"base url", func(c *Config) { c.BaseURL = "ftp://x" }, []string{"--base-url"}},
		{"database", func(c *Config) { c.DatabaseURL = "mysql://u:secret@x/db" }, []string{"--database-url", "want postgres://"}},
		{"postgres needs secrets", func(c *Config) { c.DatabaseURL = "postgres://x/db" }, []string{"--encryption-keys and --hash-key: required with PostgreSQL"}},
		{"language", func(c *Config) { c.DefaultLanguage = "es" }, []string{`--default-language "es": want nl, fr, de or en`}},
		{"durations", func(c *Config) { c.SessionIdle = 0; c.MailLease = -time.Second }, []string{"--session-idle 0s: must be positive", "--mail-lease -1s: must be positive"}},
		{"idle beyond absolute", func(c *Config) { c.SessionIdle = 9 * time.Hour }, []string{"must not exceed --session-absolute"}},
		{"argon2 memory", func(c *Config) { c.PasswordMemoryKiB = 1 }, []string{"--password-memory-kib 1"}},
		{"counts", func(c *Config) { c.LockAfter = 0; c.EmailCodeTries = -1 }, []string{"--lock-after 0: must be at least 1", "--email-code-tries -1"}},
		{"logon starts", func(c *Config) { c.LogonStarts = 0 }, []string{"--logon-starts-per-address 0: must be at least 1"}},
		{"smtp", func(c *Config) { c.SMTPHost = "m"; c.SMTPTLS = "maybe"; c.SMTPUsername = "u" }, []string{"--smtp-tls", "set both --smtp-username and --smtp-password"}},
		{"mail from", func(c *Config) { c.MailFrom = "a@b\r\nBcc: x@y" }, []string{"--mail-from"}},
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
