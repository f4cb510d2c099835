package app

import (
	"context"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// BenchmarkOIDCLogon measures whole logons through OpenID Connect over HTTP — the
// authorization request, the key chooser, username and password, the continue page, the code
// exchanged for tokens (ID token verified by go-oidc), userinfo — with the SPEC's argon2id
// parameters, on SQLite and PostgreSQL. Each backend also measures the hash-only ceiling in
// the same run: argon2id verifications per second on all cores, which a password logon can
// never beat (it costs one).
func BenchmarkOIDCLogon(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			if backend == "postgres" {
				sqltest.PostgresURL(b) // skips or fails exactly as storetest decides
			}
			tn := startTestNode(b, backend, nowish(), func(c *config.Config) {
				c.PasswordMemoryKiB, c.PasswordTime = 19*1024, 2 // the SPEC's argon2id parameters
			}, nil)
			rp := newRP(b, tn, oidcop.ClientSpec{ID: "bench", Name: "Benchmark"})
			logon := func(b *testing.B) bool {
				res, _, err := rp.logon(tn.browser(), "password", "demo", "demo-password-1")
				if err == nil {
					_, err = rp.userinfo(res)
				}
				if err != nil {
					b.Error(err)
					return false
				}
				return true
			}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if !logon(b) {
						return
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logons/s")
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if !logon(b) {
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logons/s")
			})
			b.Run("hash-only", func(b *testing.B) {
				acct, err := tn.Store.GetAccountByUsername(context.Background(), "demo")
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if ok, _, err := tn.Passwords.Verify(context.Background(), acct.PasswordHash, "demo-password-1"); err != nil || !ok {
							b.Errorf("verify: %v, %v", ok, err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "hashes/s")
			})
		})
	}
}
