package outbox

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{Host: "smtp.example.be", From: "Sleutelbos <noreply@example.be>"}.WithDefaults()
	tests := []struct {
		name string
		mod  func(*Config)
		want []string // substrings of the error; none means valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"no host: only from matters", func(c *Config) { *c = Config{From: "noreply@example.be", Port: -1, TLSPolicy: "bogus"} }, nil},
		{"no host, no from", func(c *Config) { *c = Config{} }, []string{"smtp from: empty"}},
		{"from with line break", func(c *Config) { c.From = "a@example.be\r\nBcc: x@y.be" }, []string{"line break"}},
		{"from unparsable", func(c *Config) { c.From = "not an address" }, []string{`smtp from "not an address"`}},
		{"port", func(c *Config) { c.Port = 70000 }, []string{"smtp port 70000"}},
		{"tls policy", func(c *Config) { c.TLSPolicy = "always" }, []string{`tls policy "always"`}},
		{"username without password", func(c *Config) { c.Username = "u" }, []string{"both or neither"}},
		{"password without username", func(c *Config) { c.Password = "p" }, []string{"both or neither"}},
		{"lease shorter than two timeouts", func(c *Config) { c.Timeout, c.Lease = time.Minute, time.Minute }, []string{"mail lease 1m0s"}},
		{"max backoff below base", func(c *Config) { c.BaseBackoff, c.MaxBackoff = time.Minute, time.Second }, []string{"max backoff"}},
		{"every problem at once", func(c *Config) {
			c.Host, c.Port, c.TLSPolicy, c.Username = "smtp host", 0, "x", "u"
			c.Timeout, c.BatchSize, c.PollInterval, c.MaxAttempts, c.BaseBackoff, c.MaxBackoff = -1, -1, -1, -1, -1, -2
			c.HELO = "two words"
		}, []string{"smtp host", "smtp port 0", "tls policy", "both or neither", "helo", "smtp timeout", "batch size",
			"poll interval", "max attempts", "base backoff", "max backoff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.mod(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Host: "smtp.example.be", From: "noreply@example.be"}.WithDefaults()
	if c.Port != 587 || c.TLSPolicy != TLSMandatory || c.Timeout != DefaultTimeout || c.BatchSize != DefaultBatchSize ||
		c.Lease != DefaultLease || c.MaxAttempts != DefaultMaxAttempts || c.BaseBackoff != DefaultBaseBackoff ||
		c.MaxBackoff != DefaultMaxBackoff || c.PollInterval != DefaultPollInterval {
		t.Errorf("WithDefaults() = %+v", c)
	}
	if c := (Config{ImplicitTLS: true}).WithDefaults(); c.Port != 465 {
		t.Errorf("implicit TLS port = %d, want 465", c.Port)
	}
	if c.Enabled() != true || (Config{}).Enabled() {
		t.Error("Enabled() should follow Host")
	}
	if _, err := NewSMTPSender(Config{From: "noreply@example.be"}, nil); err == nil {
		t.Error("NewSMTPSender without a host: want an error")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	base, max := 30*time.Second, 10*time.Minute
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 30 * time.Second},
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{5, 8 * time.Minute},
		{6, 10 * time.Minute},
		{1000, 10 * time.Minute},
	}
	for _, tt := range tests {
		if got := Backoff(base, max, tt.attempt); got != tt.want {
			t.Errorf("Backoff(%v, %v, %d) = %v, want %v", base, max, tt.attempt, got, tt.want)
		}
	}
	if got := Backoff(time.Duration(1<<62), time.Duration(1<<62), 80); got != time.Duration(1<<62) {
		t.Errorf("Backoff near overflow = %v", got)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	if got := truncate("short"); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
	long := strings.Repeat("é", maxErrorLength) // 2 bytes each
	got := truncate(long)
	if len(got) > maxErrorLength+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Errorf("truncate(long) = %d bytes", len(got))
	}
	if strings.ContainsRune(got, '\uFFFD') {
		t.Error("truncate cut a character in half")
	}
}
