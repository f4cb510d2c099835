package emailcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/keystest"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

type env struct {
	kind   *Kind
	st     store.Store
	clock  *keystest.Clock
	mailer *keystest.Mailer
	acct   store.Account
	key    store.Key
}

func newEnv(t testing.TB, st store.Store, cfg Config, seed uint64) env {
	t.Helper()
	h, err := secrets.NewHasher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := env{st: st, clock: keystest.NewClock(keystest.Start()), mailer: &keystest.Mailer{}}
	e.kind, err = New(cfg, h, e.mailer, keystest.NewRand(seed), e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	e.acct = keystest.NewAccount(t, st, "mail"+strconv.FormatUint(seed, 10))
	e.key = store.Key{AccountID: e.acct.ID, Kind: keys.EmailCode, Status: store.KeyActive,
		CreatedAt: keystest.Start(), ActivatedAt: keystest.Start()}
	if err := st.CreateKey(context.Background(), &e.key); err != nil {
		t.Fatal(err)
	}
	return e
}

// begin starts a logon challenge and returns it with the e-mailed code.
func (e env) begin(t testing.TB) (keys.Challenge, string) {
	t.Helper()
	ch, err := e.kind.Begin(context.Background(), e.st, e.acct, e.key)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return ch, keystest.OutboxCode(t, e.st, e.acct.Email)
}

func (e env) verify(ch keys.Challenge, answer string) error {
	return e.kind.Verify(context.Background(), e.st, e.acct, e.key, ch, answer)
}

func wrong(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestChallenger(t *testing.T) {
	t.Parallel()
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var seed atomic.Uint64
			keystest.RunChallenger(t, keystest.Harness{
				Setup: func(t *testing.T) keystest.Fixture {
					e := newEnv(t, b.Open(t), Config{}, seed.Add(1))
					return keystest.Fixture{
						Kind: e.kind, Store: e.st, Clock: e.clock, Account: e.acct, Key: e.key,
						Answer: func(t *testing.T, ch keys.Challenge) string {
							return keystest.OutboxCode(t, e.st, e.acct.Email)
						},
					}
				},
				SingleUse: true,
				Expires:   true,
			})
		})
	}
}

func TestBeginSendsCode(t *testing.T) {
	t.Parallel()
	eachStore(t, testBeginSendsCode)
}

func testBeginSendsCode(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 1)
	ch, code := e.begin(t)
	if masked := mail.MaskAddress(e.acct.Email); ch.Prompt != "login.emailcode.prompt" || len(ch.Args) != 2 || ch.Args[0] != masked || ch.Args[1] != "5" {
		t.Errorf("challenge = %+v, want prompt with %s and 5 minutes", ch, masked)
	}
	if strings.Contains(strings.Join(ch.Args, " "), e.acct.Email) {
		t.Errorf("the challenge shows the whole address: %v", ch.Args)
	}
	sent := e.mailer.Sent()
	if len(sent) != 1 {
		t.Fatalf("%d messages sent, want 1", len(sent))
	}
	s := sent[0]
	if s.Template != "logon_code" || s.Data["Code"] != code || s.Data["Minutes"] != 5 {
		t.Errorf("sent %s with %v", s.Template, s.Data)
	}
	if s.To.Address != e.acct.Email || s.To.AccountID != e.acct.ID || s.To.Language != e.acct.Language || s.To.Name != e.acct.Name {
		t.Errorf("sent to %+v", s.To)
	}
	c, err := e.st.LatestCode(context.Background(), e.acct.ID, store.CodeLogon)
	if err != nil {
		t.Fatal(err)
	}
	if strconv.FormatInt(c.ID, 10) != ch.State || c.Target != e.acct.Email || !c.ExpiresAt.Equal(keystest.Start().Add(5*time.Minute)) {
		t.Errorf("stored code = %+v, challenge state %q", c, ch.State)
	}
	if bytes.Contains(c.Hash, []byte(code)) || len(c.Hash) != 32 {
		t.Errorf("stored hash %x is not a keyed hash of %s", c.Hash, code)
	}
	// The e-mail says until when its code is valid: the outbox drops its text then.
	if exp, ok := s.Data["ExpiresAt"].(time.Time); !ok || !exp.Equal(c.ExpiresAt) {
		t.Errorf("the e-mail's ExpiresAt is %v, want the code's expiry %v", s.Data["ExpiresAt"], c.ExpiresAt)
	}
}

func TestExpiresAtExactlyFiveMinutes(t *testing.T) {
	t.Parallel()
	eachStore(t, testExpiresAtExactlyFiveMinutes)
}

func testExpiresAtExactlyFiveMinutes(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 2)
	ch, code := e.begin(t)
	e.clock.Advance(5*time.Minute - time.Microsecond)
	if err := e.verify(ch, wrong(code)); !errors.Is(err, keys.ErrWrongCode) {
		t.Fatalf("wrong code just before expiry: %v, want wrong code", err)
	}
	e.clock.Advance(time.Microsecond)
	if err := e.verify(ch, code); !errors.Is(err, keys.ErrCodeExpired) {
		t.Errorf("right code at exactly 5 minutes: %v, want %v", err, keys.ErrCodeExpired)
	}

	ch, code = e.begin(t)
	e.clock.Advance(5*time.Minute - time.Microsecond)
	if err := e.verify(ch, code); err != nil {
		t.Errorf("right code just before 5 minutes: %v", err)
	}
}

func TestFiveTries(t *testing.T) {
	t.Parallel()
	eachStore(t, testFiveTries)
}

func testFiveTries(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 3)
	ch, code := e.begin(t)
	for i := 1; i <= 4; i++ {
		if err := e.verify(ch, wrong(code)); !errors.Is(err, keys.ErrWrongCode) {
			t.Fatalf("wrong guess %d: %v, want wrong code", i, err)
		}
	}
	// Malformed answers cost no try.
	if err := e.verify(ch, "12 34 5x"); !errors.Is(err, keys.ErrWrongCode) {
		t.Fatalf("malformed answer: %v", err)
	}
	err := e.verify(ch, wrong(code))
	if !errors.Is(err, keys.ErrCodeTries) || keys.IsRetryable(err) {
		t.Fatalf("5th wrong guess: %v, want %v (not retryable)", err, keys.ErrCodeTries)
	}
	if err := e.verify(ch, code); !errors.Is(err, keys.ErrCodeTries) {
		t.Errorf("right code after 5 wrong guesses: %v, want %v", err, keys.ErrCodeTries)
	}
	// A new code starts with fresh tries.
	ch, code = e.begin(t)
	if err := e.verify(ch, code); err != nil {
		t.Errorf("new code: %v", err)
	}
}

func TestResendLimit(t *testing.T) {
	t.Parallel()
	eachStore(t, testResendLimit)
}

func testResendLimit(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 4)
	ctx := context.Background()
	e.begin(t)
	e.clock.Advance(time.Minute)
	if _, err := e.kind.Resend(ctx, e.st, e.acct, e.key); err != nil {
		t.Fatalf("second code: %v", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.kind.Resend(ctx, e.st, e.acct, e.key); err != nil {
		t.Fatalf("third code: %v", err)
	}
	e.clock.Advance(time.Minute)
	for _, f := range []func() (keys.Challenge, error){
		func() (keys.Challenge, error) { return e.kind.Resend(ctx, e.st, e.acct, e.key) },
		func() (keys.Challenge, error) { return e.kind.Begin(ctx, e.st, e.acct, e.key) },
	} {
		_, err := f()
		if !errors.Is(err, keys.ErrResendLimit) {
			t.Fatalf("fourth code within 15 minutes: %v, want %v", err, keys.ErrResendLimit)
		}
		// Codes went at 0, 1 and 2 minutes; it is 3 minutes: the first leaves the window at 15.
		var limit *keys.ResendLimitError
		if !errors.As(err, &limit) || limit.Wait != 12*time.Minute || limit.Minutes() != 12 {
			t.Errorf("fourth code: %#v, want a wait of 12 minutes", err)
		}
	}
	if n := len(e.mailer.Sent()); n != 3 {
		t.Errorf("%d e-mails, want 3", n)
	}
	if msgs, _ := e.st.ListMessages(ctx, 10); len(msgs) != 3 {
		t.Errorf("%d outbox messages, want 3", len(msgs))
	}
	// Other purposes have their own limit.
	if _, err := e.kind.BeginEnrolment(ctx, e.st, e.acct); err != nil {
		t.Errorf("registration code while logon codes are limited: %v", err)
	}
	// Half a minute before the first code leaves the window: "1 minute".
	e.clock.Set(keystest.Start().Add(14*time.Minute + 30*time.Second))
	var limit *keys.ResendLimitError
	if _, err := e.kind.Resend(ctx, e.st, e.acct, e.key); !errors.As(err, &limit) || limit.Minutes() != 1 {
		t.Errorf("at 14m30s: %v, want a wait of 1 minute", err)
	}
	// The first code was sent at Start: exactly 15 minutes later it still counts ...
	e.clock.Set(keystest.Start().Add(15 * time.Minute))
	if _, err := e.kind.Resend(ctx, e.st, e.acct, e.key); !errors.Is(err, keys.ErrResendLimit) {
		t.Errorf("at 15 minutes: %v, want %v", err, keys.ErrResendLimit)
	}
	// ... and a moment later the window has moved past it.
	e.clock.Advance(time.Second)
	ch, err := e.kind.Resend(ctx, e.st, e.acct, e.key)
	if err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if err := e.verify(ch, keystest.OutboxCode(t, e.st, e.acct.Email)); err != nil {
		t.Errorf("code sent after the window: %v", err)
	}
}

func TestNewerCodeSupersedes(t *testing.T) {
	t.Parallel()
	eachStore(t, testNewerCodeSupersedes)
}

func testNewerCodeSupersedes(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 5)
	ch1, code1 := e.begin(t)
	ch2, code2 := e.begin(t)
	if ch1.State == ch2.State || code1 == code2 {
		t.Fatalf("two codes alike: %v %s / %v %s", ch1, code1, ch2, code2)
	}
	if err := e.verify(ch1, code1); !errors.Is(err, keys.ErrCodeExpired) {
		t.Errorf("superseded code: %v, want %v", err, keys.ErrCodeExpired)
	}
	if err := e.verify(ch2, code1); !errors.Is(err, keys.ErrWrongCode) {
		t.Errorf("old code for the new challenge: %v, want wrong code", err)
	}
	if err := e.verify(ch2, code2); err != nil {
		t.Errorf("newest code: %v", err)
	}
}

func TestSingleUseUnderConcurrency(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db, Config{}, 6)
		ch, code := e.begin(t)
		const n = 10
		var (
			wg        sync.WaitGroup
			successes atomic.Int32
		)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = e.verify(ch, code)
				if errs[i] == nil {
					successes.Add(1)
				}
			})
		}
		wg.Wait()
		if got := successes.Load(); got != 1 {
			t.Fatalf("%d successes, want exactly 1", got)
		}
		for _, err := range errs {
			// A loser finds the code used, or (past the fifth try) its tries used up.
			if err != nil && !errors.Is(err, keys.ErrCodeExpired) && !errors.Is(err, keys.ErrCodeTries) {
				t.Errorf("losing verification: %v, want %v or %v", err, keys.ErrCodeExpired, keys.ErrCodeTries)
			}
		}
	})
}

func TestCodesAreBoundToPurposeAndTarget(t *testing.T) {
	t.Parallel()
	eachStore(t, testCodesAreBoundToPurposeAndTarget)
}

func testCodesAreBoundToPurposeAndTarget(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 7)
	ctx := context.Background()
	c, err := e.kind.Issue(ctx, e.st, e.acct, store.CodeEmailChange, "new@example.test", "email_change_code")
	if err != nil {
		t.Fatal(err)
	}
	code := keystest.OutboxCode(t, e.st, "new@example.test")
	if s := e.mailer.Sent(); len(s) != 1 || s[0].Template != "email_change_code" || s[0].To.Address != "new@example.test" {
		t.Fatalf("sent %+v", s)
	}
	// Not a logon code.
	ch := keys.Challenge{State: strconv.FormatInt(c.ID, 10)}
	if err := e.verify(ch, code); !errors.Is(err, keys.ErrCodeExpired) {
		t.Errorf("e-mail change code used for logon: %v, want %v", err, keys.ErrCodeExpired)
	}
	// Not for another account.
	other := keystest.NewAccount(t, e.st, "other")
	if err := e.kind.Check(ctx, e.st, other, store.CodeEmailChange, c.ID, code); !errors.Is(err, keys.ErrCodeExpired) {
		t.Errorf("code checked for another account: %v, want %v", err, keys.ErrCodeExpired)
	}
	// The hash binds the address: the same code hashed for another target differs.
	if bytes.Equal(e.kind.hash(e.acct.ID, store.CodeEmailChange, "new@example.test", code),
		e.kind.hash(e.acct.ID, store.CodeEmailChange, "evil@example.test", code)) {
		t.Error("hash ignores the target address")
	}
	if err := e.kind.Check(ctx, e.st, e.acct, store.CodeEmailChange, c.ID, code); err != nil {
		t.Errorf("Check: %v", err)
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
					e := newEnv(t, st, Config{}, seed.Add(1))
					// The enroller's citizen has no key yet.
					acct := keystest.NewAccount(t, st, "new"+strconv.FormatUint(seed.Add(1), 10))
					return keystest.EnrolFixture{
						Kind: e.kind, Store: st, Clock: e.clock, Account: acct,
						Answer: func(t *testing.T, _ keys.Enrolment, v keys.EnrolmentView) string {
							return keystest.OutboxCode(t, st, v.Address)
						},
						LogonAnswer: func(t *testing.T, v keys.EnrolmentView, _ keys.Challenge) string {
							return keystest.OutboxCode(t, st, v.Address)
						},
					}
				},
				SingleUse: true,
			})
		})
	}
}

func TestEnrolment(t *testing.T) {
	t.Parallel()
	eachStore(t, testEnrolment)
}

func testEnrolment(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 8)
	ctx := context.Background()
	en, err := e.kind.BeginEnrolment(ctx, e.st, e.acct)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.kind.ViewEnrolment(e.acct, en)
	if err != nil {
		t.Fatal(err)
	}
	if en.Kind != "emailcode" || v.Address != e.acct.Email || v.CodeMinutes != 5 || !en.ExpiresAt.Equal(keystest.Start().Add(5*time.Minute)) {
		t.Errorf("enrolment = %+v, view %+v", en, v)
	}
	if s := e.mailer.Sent(); len(s) != 1 || s[0].Template != "registration_code" {
		t.Fatalf("sent %+v", s)
	}
	code := keystest.OutboxCode(t, e.st, e.acct.Email)
	// A registration code does not log on.
	var es enrolState
	if err := json.Unmarshal([]byte(en.State), &es); err != nil {
		t.Fatal(err)
	}
	if err := e.verify(keys.Challenge{State: strconv.FormatInt(es.CodeID, 10)}, code); err == nil {
		t.Error("registration code accepted at logon")
	}
	// Another kind's enrolment is not this kind's to check.
	if _, err := e.kind.CheckEnrolment(ctx, e.st, e.acct, keys.Enrolment{Kind: "totp", State: en.State, ExpiresAt: en.ExpiresAt}, code); err == nil {
		t.Error("a totp enrolment was checked by the emailcode kind")
	}
	// After the code's tries are used up, the right code no longer works.
	for range 5 {
		e.kind.CheckEnrolment(ctx, e.st, e.acct, en, wrong(code))
	}
	if _, err := e.kind.CheckEnrolment(ctx, e.st, e.acct, en, code); !errors.Is(err, keys.ErrCodeTries) {
		t.Errorf("after 5 wrong codes: %v, want %v", err, keys.ErrCodeTries)
	}
}

func TestIssueIsAtomic(t *testing.T) {
	t.Parallel()
	eachStore(t, testIssueIsAtomic)
}

func testIssueIsAtomic(t *testing.T, db *sqlstore.DB) {
	e := newEnv(t, db, Config{}, 10)
	e.mailer.Err = errors.New("template missing")
	ctx := context.Background()
	if _, err := e.kind.Begin(ctx, e.st, e.acct, e.key); err == nil || !strings.Contains(err.Error(), "template missing") {
		t.Fatalf("Begin with a failing mailer: %v", err)
	}
	if _, err := e.st.LatestCode(ctx, e.acct.ID, store.CodeLogon); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a code was stored although its e-mail failed: %v", err)
	}
}

func TestRandomCodeUniform(t *testing.T) {
	t.Parallel()
	// 0xFFFFFFFF is at or above the largest multiple of 10⁶ below 2³²: it must be redrawn.
	r := bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0x00, 0x0f, 0x42, 0x41})
	if got, err := randomCode(r); err != nil || got != "000001" {
		t.Errorf("randomCode = %q, %v; want 000001 (1000001 mod 10⁶)", got, err)
	}
	if _, err := randomCode(bytes.NewReader(nil)); err == nil {
		t.Error("randomCode on an empty reader: want error")
	}
	// Every digit position takes every value about equally often.
	rnd := keystest.NewRand(11)
	var counts [CodeLength][10]int
	const n = 20000
	for range n {
		c, err := randomCode(rnd)
		if err != nil || !keys.IsCode(c, CodeLength) {
			t.Fatalf("randomCode = %q, %v", c, err)
		}
		for i := range CodeLength {
			counts[i][c[i]-'0']++
		}
	}
	for i := range CodeLength {
		for d, got := range counts[i] {
			if got < n/10*8/10 || got > n/10*12/10 {
				t.Errorf("digit %d = %d: %d times in %d codes, want about %d", i+1, d, got, n, n/10)
			}
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	h, err := secrets.NewHasher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(Config{}, h, &keystest.Mailer{}, keystest.NewRand(1), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Config(); got != DefaultConfig() {
		t.Errorf("zero config = %+v, want the defaults %+v", got, DefaultConfig())
	}
	if k.Name() != "emailcode" || k.Level() != keys.LevelSubstantial || strings.Join(k.AMR(), ",") != "pwd,otp,mfa" {
		t.Errorf("kind = %s %v %v", k.Name(), k.Level(), k.AMR())
	}
	_, err = New(Config{Validity: time.Second, TriesPerCode: -1, MaxCodes: -2, Window: -time.Minute}, h, &keystest.Mailer{}, keystest.NewRand(1), time.Now)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"validity", "tries", "max codes", "window"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := New(Config{}, nil, &keystest.Mailer{}, keystest.NewRand(1), time.Now); err == nil {
		t.Error("New without hasher: want error")
	}
}

func BenchmarkVerify(b *testing.B) {
	// SQLite store (a file in a temporary directory): Verify reads the code and marks it used.
	// Issuing the code for each round is not timed.
	st := sqltest.SQLite(b)
	e := newEnv(b, st, Config{MaxCodes: 1 << 30}, 1)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ch, code := e.begin(b)
		b.StartTimer()
		if err := e.verify(ch, code); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRealComposer checks that the real mail.Composer renders what Issue sends: the code reaches
// the text body of every code template.
func TestRealComposer(t *testing.T) {
	t.Parallel()
	eachStore(t, testRealComposer)
}

func testRealComposer(t *testing.T, st *sqlstore.DB) {
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mail.NewComposer(b, mail.ComposerConfig{
		ServiceName: "Sleutelbos", BaseURL: "https://sleutelbos.example", From: "noreply@sleutelbos.example", Hold: true,
		Rand: keystest.NewRand(1), Now: func() time.Time { return keystest.Start() },
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := secrets.NewHasher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := keystest.NewClock(keystest.Start())
	k, err := New(Config{}, h, c, keystest.NewRand(2), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	acct := keystest.NewAccount(t, st, "composer")
	ctx := context.Background()
	for _, tt := range []struct {
		purpose  store.CodePurpose
		to       string
		template string
	}{
		{store.CodeLogon, acct.Email, TemplateLogon},
		{store.CodeRegistration, acct.Email, TemplateRegistration},
		{store.CodeEmailChange, "new.address@example.test", "email_change"},
	} {
		code, err := k.Issue(ctx, st, acct, tt.purpose, tt.to, tt.template)
		if err != nil {
			t.Fatalf("Issue %s: %v", tt.template, err)
		}
		msgs, err := st.ListMessages(ctx, 1)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("outbox: %v, %v", msgs, err)
		}
		m := msgs[0]
		if m.Template != tt.template || m.ToAddress != tt.to || strings.Contains(m.TextBody, "no value") {
			t.Errorf("%s: message %+v", tt.template, m)
		}
		if tt.purpose == store.CodeEmailChange && !strings.Contains(m.TextBody, tt.to) {
			t.Errorf("%s: text does not name the new address:\n%s", tt.template, m.TextBody)
		}
		found := ""
		for _, f := range strings.Fields(m.TextBody) {
			if keys.IsCode(f, CodeLength) && k.Check(ctx, st, acct, tt.purpose, code.ID, f) == nil {
				found = f
				break
			}
		}
		if found == "" {
			t.Errorf("%s: no valid code in the text body:\n%s", tt.template, m.TextBody)
		}
	}
}

// TestResendLimitUnderConcurrency: simultaneous code requests (as from several nodes) never
// issue more than MaxCodes codes in the window.
func TestResendLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db, DefaultConfig(), 77)
		var wg sync.WaitGroup
		var mu sync.Mutex
		issued := 0
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.kind.Issue(context.Background(), db, e.acct, store.CodeLogon, e.acct.Email, TemplateLogon)
				switch {
				case err == nil:
					mu.Lock()
					issued++
					mu.Unlock()
				case !errors.Is(err, keys.ErrResendLimit):
					t.Errorf("Issue: %v", err)
				}
			}()
		}
		wg.Wait()
		if issued != 3 {
			t.Errorf("%d codes issued by 12 simultaneous requests, want 3", issued)
		}
	})
}

// TestTriesUnderConcurrency: parallel wrong answers to one code are compared at most
// TriesPerCode times.
func TestTriesUnderConcurrency(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db, DefaultConfig(), 78)
		ch, code := e.begin(t)
		bad := "000000"
		if code == bad {
			bad = "111111"
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wrongs := 0
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.verify(ch, bad); errors.Is(err, keys.ErrWrongCode) && !errors.Is(err, keys.ErrCodeTries) {
					mu.Lock()
					wrongs++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wrongs != 4 {
			t.Errorf("%d answers judged merely wrong, want 4 (the 5th try ends the code)", wrongs)
		}
		if err := e.verify(ch, code); !errors.Is(err, keys.ErrCodeTries) {
			t.Errorf("right code after the tries ran out: %v", err)
		}
	})
}

// eachStore runs fn in parallel on SQLite and PostgreSQL, each with a fresh store.
func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		fn(t, db)
	})
}
