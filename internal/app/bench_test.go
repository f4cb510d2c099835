package app

import (
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
)

// BenchmarkHTTPLogon measures whole logons (chooser, password, code, welcome page) over HTTP
// against the real router and a SQLite store, with the SPEC's argon2id parameters. The
// logons/s metric is the end-to-end rate one client achieves.
func BenchmarkHTTPLogon(b *testing.B) {
	for _, kind := range []string{"password", "tokencard", "totp"} {
		b.Run(kind, func(b *testing.B) {
			tn := newBenchNode(b)
			b.ReportAllocs()
			start, stmts := time.Now(), tn.Store.Statements()
			for i := 0; i < b.N; i++ {
				c := tn.citizen()
				level := "?level=substantial"
				if kind == "password" {
					level = ""
				}
				p, err := c.StartLogon(level, kind, "demo", "demo-password-1")
				if err != nil {
					b.Fatal(err)
				}
				if kind != "password" {
					if kind == "totp" {
						tn.clock.Advance(30 * time.Second)
					}
					code := ""
					switch kind {
					case "tokencard":
						code = tn.demo["demo"].CardCodes[p.Position()-1]
					case "totp":
						code = totpCode(tn)
					}
					if p, err = c.SubmitCode(code); err != nil {
						b.Fatal(err)
					}
				}
				if p.URL.Path != "/" || !strings.Contains(p.Body, "Demo Citizen") {
					b.Fatalf("logon %d ended at %s: %q", i, p.URL.Path, p.Alert())
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logons/s")
			b.ReportMetric(float64(tn.Store.Statements()-stmts)/float64(b.N), "stmts/logon")
		})
	}
}

func newBenchNode(b *testing.B) *testNode {
	b.Helper()
	return newTestNode(b, "sqlite", func(c *config.Config) {
		c.PasswordMemoryKiB, c.PasswordTime = 19*1024, 2 // the SPEC's argon2id parameters
		c.LogonStarts = 1 << 30                          // every logon is a fresh browser from 127.0.0.1
	})
}

func totpCode(tn *testNode) string { return totp.Code(tn.secret, tn.clock.Now()) }

// BenchmarkHTTPLogonParallel measures password logons from many clients at once: the argon2id
// semaphore (GOMAXPROCS hashes at a time) bounds memory while the cores stay busy.
func BenchmarkHTTPLogonParallel(b *testing.B) {
	tn := newBenchNode(b)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := tn.citizen().StartLogon("", "password", "demo", "demo-password-1")
			if err != nil {
				b.Error(err)
				return
			}
			if p.URL.Path != "/" {
				b.Errorf("logon ended at %s: %q", p.URL.Path, p.Alert())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logons/s")
}
