package totp

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/keystest"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func testKeyring(t testing.TB, current string) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.NewKeyring(keystest.NewRand(99), current, map[string][]byte{
		"k1": bytes.Repeat([]byte{1}, 32),
		"k2": bytes.Repeat([]byte{2}, 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

type env struct {
	kind   *Kind
	st     store.Store
	clock  *keystest.Clock
	acct   store.Account
	key    store.Key
	secret []byte
}

func newKind(t testing.TB, kr *secrets.Keyring, clock *keystest.Clock, seed uint64) *Kind {
	t.Helper()
	k, err := New(DefaultConfig("Sleutelbos"), kr, keystest.NewRand(seed), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEnv(t testing.TB, st store.Store, seed uint64) env {
	t.Helper()
	e := env{st: st, clock: keystest.NewClock(keystest.Start())}
	e.kind = newKind(t, testKeyring(t, "k1"), e.clock, seed)
	e.acct = keystest.NewAccount(t, st, "app"+strconv.FormatUint(seed, 10))
	e.secret = NewSecretForDemo([]byte("seed"), e.acct.Username)
	var err error
	e.key, err = e.kind.NewKey(e.acct.ID, e.secret, keystest.Start())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(context.Background(), &e.key); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e env) verify(answer string) error {
	return e.kind.Verify(context.Background(), e.st, e.acct, e.key, keys.Challenge{Prompt: "login.totp.prompt"}, answer)
}

func TestChallenger(t *testing.T) {
	t.Parallel()
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var seed atomic.Uint64
			keystest.RunChallenger(t, keystest.Harness{
				Setup: func(t *testing.T) keystest.Fixture {
					e := newEnv(t, b.Open(t), seed.Add(1))
					return keystest.Fixture{
						Kind: e.kind, Store: e.st, Clock: e.clock, Account: e.acct, Key: e.key,
						Answer: func(t *testing.T, ch keys.Challenge) string { return Code(e.secret, e.clock.Now()) },
					}
				},
				SingleUse: true,
				Expires:   true,
			})
		})
	}
}

func TestRFC6238Vectors(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	for _, tt := range []struct {
		unix int64
		want string // the last 6 of RFC 6238's 8-digit SHA-1 values
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		if got := Code(secret, time.Unix(tt.unix, 0)); got != tt.want {
			t.Errorf("Code(t=%d) = %s, want %s", tt.unix, got, tt.want)
		}
	}
}

func TestSkew(t *testing.T) {
	t.Parallel()
	eachStore(t, testSkew)
}

func testSkew(t *testing.T, st *sqlstore.DB) {
	var seed uint64
	for _, tt := range []struct {
		offset time.Duration
		ok     bool
	}{
		{-2 * DefaultPeriod, false}, {-DefaultPeriod, true}, {0, true}, {DefaultPeriod, true}, {2 * DefaultPeriod, false},
		{-DefaultPeriod - time.Second, true}, // the clock 1 s into the step: t-1 is still the previous step
	} {
		seed++
		e := newEnv(t, st, seed)
		e.clock.Advance(time.Second) // mid-step
		code := Code(e.secret, e.clock.Now().Add(tt.offset))
		err := e.verify(code)
		if tt.ok && err != nil {
			t.Errorf("code of now%+v: %v, want accepted", tt.offset, err)
		}
		if !tt.ok && !errors.Is(err, keys.ErrWrongCode) {
			t.Errorf("code of now%+v: %v, want wrong code", tt.offset, err)
		}
		if tt.ok && err == nil {
			k, err := st.GetKey(context.Background(), e.key.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := e.clock.Now().Add(tt.offset).Unix() / 30; k.Counter != want {
				t.Errorf("counter after code of now%+v = %d, want step %d", tt.offset, k.Counter, want)
			}
		}
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	eachStore(t, testReplay)
}

func testReplay(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, 1)
	now := e.clock.Now()
	if err := e.verify(Code(e.secret, now)); err != nil {
		t.Fatal(err)
	}
	// The same step again, even 20 s later within the same window.
	e.clock.Advance(20 * time.Second)
	err := e.verify(Code(e.secret, now))
	// A replay is no wrong code (the logon counts no failure for it), but the citizen may
	// answer again with the next code.
	if !errors.Is(err, ErrReplayed) || !errors.Is(err, keys.ErrCodeUsed) || errors.Is(err, keys.ErrWrongCode) || !keys.IsRetryable(err) {
		t.Fatalf("same step twice: %v, want %v (retryable, not %v)", err, keys.ErrCodeUsed, keys.ErrWrongCode)
	}
	var le interface{ Error() string }
	if le = err; !strings.HasPrefix(le.Error(), "login.error.code_used") {
		t.Errorf("replay error %q, want the code_used message key", err)
	}
	// An earlier step (still inside the window) after a later one was accepted.
	if err := e.verify(Code(e.secret, now.Add(-DefaultPeriod))); !errors.Is(err, ErrReplayed) {
		t.Errorf("earlier step after a later one: %v, want %v", err, ErrReplayed)
	}
	// The next step is fine.
	if err := e.verify(Code(e.secret, now.Add(DefaultPeriod))); err != nil {
		t.Errorf("next step: %v", err)
	}
}

func TestSecretNotStoredInPlaintext(t *testing.T) {
	t.Parallel()
	eachStore(t, testSecretNotStoredInPlaintext)
}

func testSecretNotStoredInPlaintext(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, 1)
	k, err := e.st.GetKey(context.Background(), e.key.ID)
	if err != nil {
		t.Fatal(err)
	}
	b32 := encodeSecret(e.secret)
	for _, form := range [][]byte{e.secret, []byte(b32), []byte(strings.ToLower(b32)), []byte(base64.StdEncoding.EncodeToString(e.secret))} {
		if bytes.Contains(k.Data, form) {
			t.Fatalf("stored key data holds the secret (%q)", form)
		}
	}
	// The sealed secret only opens for its own account.
	moved := e.key
	moved.AccountID++
	if err := e.kind.Verify(context.Background(), e.st, e.acct, moved, keys.Challenge{}, Code(e.secret, e.clock.Now())); err == nil || errors.Is(err, keys.ErrWrongCode) {
		t.Errorf("key data moved to another account: %v, want a decryption error", err)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	eachStore(t, testKeyRotation)
}

func testKeyRotation(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, 1) // sealed under k1
	rotated := newKind(t, testKeyring(t, "k2"), e.clock, 2)
	if err := rotated.Verify(context.Background(), e.st, e.acct, e.key, keys.Challenge{}, Code(e.secret, e.clock.Now())); err != nil {
		t.Errorf("key sealed under the previous key: %v", err)
	}
	k2, err := rotated.NewKey(e.acct.ID, e.secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k2.Data, e.key.Data) {
		t.Error("new key sealed like the old one")
	}
	if _, err := testKeyring(t, "k2").Decrypt(k2.Data, []byte("totp:"+strconv.FormatInt(e.acct.ID, 10))); err != nil {
		t.Errorf("new key does not open with the rotated keyring: %v", err)
	}
}

func TestEnroller(t *testing.T) {
	t.Parallel()
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var seed atomic.Uint64
			keystest.RunEnroller(t, keystest.EnrolHarness{
				Setup: func(t *testing.T) keystest.EnrolFixture {
					st := b.Open(t)
					clock := keystest.NewClock(keystest.Start())
					n := seed.Add(1)
					return keystest.EnrolFixture{
						Kind: newKind(t, testKeyring(t, "k1"), clock, n), Store: st, Clock: clock,
						Account: keystest.NewAccount(t, st, "new"+strconv.FormatUint(n, 10)),
						Answer: func(t *testing.T, _ keys.Enrolment, v keys.EnrolmentView) string {
							return Code(secretOf(t, v), clock.Now())
						},
						LogonAnswer: func(t *testing.T, v keys.EnrolmentView, _ keys.Challenge) string {
							return Code(secretOf(t, v), clock.Now())
						},
					}
				},
			})
		})
	}
}

// secretOf decodes the secret a citizen would type from the page.
func secretOf(t *testing.T, v keys.EnrolmentView) []byte {
	t.Helper()
	s, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(v.Secret, " ", ""))
	if err != nil {
		t.Fatalf("secret %q: %v", v.Secret, err)
	}
	return s
}

func TestEnrolment(t *testing.T) {
	t.Parallel()
	eachStore(t, testEnrolment)
}

func testEnrolment(t *testing.T, st *sqlstore.DB) {
	clock := keystest.NewClock(keystest.Start())
	kind := newKind(t, testKeyring(t, "k1"), clock, 5)
	acct := keystest.NewAccount(t, st, "Jan Peeters")
	ctx := context.Background()
	if got := kind.Preparation(); got != "portal.totp.prepare" {
		t.Errorf("Preparation() = %q", got)
	}
	en, err := kind.BeginEnrolment(ctx, st, acct)
	if err != nil {
		t.Fatal(err)
	}
	if en.Kind != "totp" || !en.ExpiresAt.Equal(keystest.Start().Add(DefaultEnrolmentWindow)) {
		t.Errorf("enrolment %+v", en)
	}
	v, err := kind.ViewEnrolment(acct, en)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(v.URI)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Sleutelbos:Jan Peeters" ||
		q.Get("issuer") != "Sleutelbos" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("otpauth URI %s", v.URI)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(q.Get("secret"))
	if err != nil || len(secret) != SecretSize {
		t.Fatalf("URI secret %q: %d bytes, %v", q.Get("secret"), len(secret), err)
	}
	if strings.ReplaceAll(v.Secret, " ", "") != q.Get("secret") || len(strings.Fields(v.Secret)) != 8 {
		t.Errorf("displayed secret %q, URI secret %q", v.Secret, q.Get("secret"))
	}
	if v.WindowSeconds != 60 {
		t.Errorf("window %d s, want 60 (SPEC: the code remains valid for 60 seconds)", v.WindowSeconds)
	}
	if strings.Contains(en.State, q.Get("secret")) || bytes.Contains([]byte(en.State), secret) {
		t.Error("enrolment state holds the plaintext secret")
	}

	// Another account cannot even open this enrolment.
	other := keystest.NewAccount(t, st, "other")
	if _, err := kind.CheckEnrolment(ctx, st, other, en, Code(secret, clock.Now())); err == nil || errors.Is(err, keys.ErrWrongCode) {
		t.Errorf("enrolment finished by another account: %v, want a decryption error", err)
	}
	clock.Advance(40 * time.Second)
	// The window: the previous and the next step are accepted, two steps away is not.
	for _, tt := range []struct {
		at time.Duration
		ok bool
	}{{-2 * DefaultPeriod, false}, {-DefaultPeriod, true}, {0, true}, {DefaultPeriod, true}, {2 * DefaultPeriod, false}} {
		_, err := kind.CheckEnrolment(ctx, st, acct, en, Code(secret, clock.Now().Add(tt.at)))
		if (err == nil) != tt.ok {
			t.Errorf("code of now%+v: %v, want accepted %v", tt.at, err, tt.ok)
		}
	}
	key, err := kind.CheckEnrolment(ctx, st, acct, en, Code(secret, clock.Now()))
	if err != nil {
		t.Fatalf("CheckEnrolment: %v", err)
	}
	if err := st.CreateKey(ctx, &key); err != nil {
		t.Fatal(err)
	}
	step := clock.Now().Unix() / 30
	if key.Kind != "totp" || key.Status != store.KeyActive || key.Counter != step || key.AccountID != acct.ID {
		t.Errorf("new key = %+v, want active with counter %d", key, step)
	}
	// The registration code cannot log on again.
	if err := kind.Verify(ctx, st, acct, key, keys.Challenge{}, Code(secret, clock.Now())); !errors.Is(err, ErrReplayed) {
		t.Errorf("registration code at logon: %v, want %v", err, ErrReplayed)
	}
	if _, err := kind.CheckEnrolment(ctx, st, acct, keys.Enrolment{Kind: "totp", State: "!!", ExpiresAt: en.ExpiresAt}, "123456"); err == nil {
		t.Error("garbage enrolment state accepted")
	}
}

func TestDemoSecretAndGrouping(t *testing.T) {
	t.Parallel()
	a := NewSecretForDemo([]byte("s"), "alice")
	if len(a) != SecretSize || !bytes.Equal(a, NewSecretForDemo([]byte("s"), "alice")) {
		t.Errorf("demo secret %x not %d deterministic bytes", a, SecretSize)
	}
	if bytes.Equal(a, NewSecretForDemo([]byte("s"), "bob")) || bytes.Equal(a, NewSecretForDemo([]byte("t"), "alice")) {
		t.Error("demo secret ignores the username or the seed")
	}
	if got := GroupedSecret([]byte("12345678901234567890")); got != "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ" {
		t.Errorf("GroupedSecret = %q", got)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	kr := testKeyring(t, "k1")
	k, err := New(Config{Issuer: "Sleutelbos"}, kr, keystest.NewRand(1), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if k.cfg.Period != DefaultPeriod {
		t.Errorf("zero period became %v", k.cfg.Period)
	}
	if k.Name() != "totp" || k.Level() != keys.LevelSubstantial || strings.Join(k.AMR(), ",") != "pwd,otp,mfa" {
		t.Errorf("kind = %s %v %v", k.Name(), k.Level(), k.AMR())
	}
	_, err = New(Config{Issuer: "a:b", Period: 1500 * time.Millisecond, Skew: 11}, nil, nil, nil)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"colon", "period", "skew", "keyring", "random", "clock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := New(Config{}, kr, keystest.NewRand(1), time.Now); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("empty issuer: %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	// SQLite store (a file in a temporary directory): Verify decrypts the secret, computes the
	// three codes of the window and advances the key's counter. Moving the clock one step and
	// computing the expected code for each round is not timed.
	e := newEnv(b, sqltest.SQLite(b), 1)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		e.clock.Advance(DefaultPeriod)
		code := Code(e.secret, e.clock.Now())
		b.StartTimer()
		if err := e.verify(code); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	// No store: decryption and the constant-time window check only.
	e := env{clock: keystest.NewClock(keystest.Start())}
	e.kind = newKind(b, testKeyring(b, "k1"), e.clock, 1)
	secret := NewSecretForDemo([]byte("seed"), "bench")
	key, err := e.kind.NewKey(1, secret, keystest.Start())
	if err != nil {
		b.Fatal(err)
	}
	code := Code(secret, e.clock.Now())
	b.ReportAllocs()
	for b.Loop() {
		plain, err := e.kind.keyring.Decrypt(key.Data, keyAAD(1))
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, err := e.kind.match(plain, code); !ok || err != nil {
			b.Fatal("no match", err)
		}
	}
}

// eachStore runs fn in parallel on SQLite and PostgreSQL, each with a fresh store.
func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		fn(t, db)
	})
}
