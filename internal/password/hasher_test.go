package password

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cheap are parameters that make tests fast; they are valid but far too weak for production.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newCheap(t testing.TB, maxConcurrent int) *Hasher {
	t.Helper()
	return New(cheap, maxConcurrent, rand.Reader)
}

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	h := newCheap(t, 0)
	ctx := context.Background()
	tests := []struct {
		name, password, attempt string
		wantOK                  bool
	}{
		{"right", "correct horse battery staple", "correct horse battery staple", true},
		{"wrong", "correct horse battery staple", "correct horse battery stapl", false},
		{"case matters", "Sleutelbos2024!", "sleutelbos2024!", false},
		{"unicode", "wachtwoord-één-ü-ß-漢字", "wachtwoord-één-ü-ß-漢字", true},
		{"empty attempt", "correct horse battery staple", "", false},
		{"trailing space matters", "password with space ", "password with space", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			encoded, err := h.Hash(ctx, tt.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			ok, rehash, err := h.Verify(ctx, encoded, tt.attempt)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.wantOK || rehash {
				t.Errorf("Verify = %v, %v; want %v, false", ok, rehash, tt.wantOK)
			}
		})
	}
}

func TestHashFormat(t *testing.T) {
	t.Parallel()
	h := New(cheap, 1, strings.NewReader(strings.Repeat("\x00", 16)))
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	if !strings.HasPrefix(encoded, prefix) {
		t.Errorf("Hash = %q, want prefix %q", encoded, prefix)
	}
	if got := len(encoded) - len(prefix); got != 43 { // 32 bytes, unpadded base64
		t.Errorf("hash part is %d characters, want 43", got)
	}
	// The salt source is exhausted now.
	if _, err := h.Hash(context.Background(), "x"); err == nil {
		t.Error("Hash with an exhausted random source succeeded")
	}
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	h := New(DefaultParams(), 0, rand.Reader)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want the default parameters in it", encoded)
	}
	ok, rehash, err := h.Verify(ctx, encoded, "correct horse battery staple")
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newCheap(t, 0)
	encoded, err := old.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params Params
	}{
		{"memory", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"time", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"threads", Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{"salt length", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 24, KeyLen: 32}},
		{"key length", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := New(tt.params, 0, rand.Reader)
			ok, rehash, err := h.Verify(ctx, encoded, "correct horse battery staple")
			if err != nil || !ok || !rehash {
				t.Fatalf("Verify with changed %s = %v, %v, %v; want true, true, nil", tt.name, ok, rehash, err)
			}
			// A wrong password never asks for a rehash: the caller must not store it.
			ok, rehash, err = h.Verify(ctx, encoded, "wrong password!!")
			if err != nil || ok || rehash {
				t.Errorf("Verify of a wrong password = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
			// After rehashing with the new parameters, no further rehash is needed.
			fresh, err := h.Hash(ctx, "correct horse battery staple")
			if err != nil {
				t.Fatal(err)
			}
			if ok, rehash, err := h.Verify(ctx, fresh, "correct horse battery staple"); err != nil || !ok || rehash {
				t.Errorf("Verify of the new hash = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	h := newCheap(t, 0)
	valid, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(valid, "$")
	salt, key := fields[4], fields[5]
	with := func(params string) string {
		return "$argon2id$v=19$" + params + "$" + salt + "$" + key
	}
	tests := []struct {
		name, encoded string
	}{
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"no leading dollar", strings.TrimPrefix(valid, "$")},
		{"missing hash", strings.Join(fields[:5], "$")},
		{"extra field", valid + "$x"},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"params reordered", with("t=1,m=64,p=1")},
		{"params missing", with("m=64,t=1")},
		{"params extra", with("m=64,t=1,p=1,k=2")},
		{"memory not a number", with("m=x,t=1,p=1")},
		{"memory signed", with("m=+64,t=1,p=1")},
		{"memory overflows", with("m=4294967296,t=1,p=1")},
		{"memory too large", with("m=4194304,t=1,p=1")},
		{"memory below 8 per thread", with("m=8,t=1,p=2")},
		{"zero time", with("m=64,t=0,p=1")},
		{"zero threads", with("m=64,t=1,p=0")},
		{"threads overflow", with("m=64,t=1,p=256")},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{"salt too short", "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + key},
		{"hash not base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$***"},
		{"hash too short", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Inspect(tt.encoded); !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Inspect(%q) = %v, want ErrMalformedHash", tt.encoded, err)
			}
			if Usable(tt.encoded) {
				t.Errorf("Usable(%q) = true", tt.encoded)
			}
			checkNoPassword(t, tt.encoded)
		})
	}
}

// checkNoPassword: Verify of a stored hash that cannot match (none, malformed) says "wrong
// password", not an error (which would tell the account exists), after the work an unknown
// username costs: one hash of the dearest class.
func checkNoPassword(t *testing.T, encoded string) {
	t.Helper()
	h := newCheap(t, 0)
	var classes []string
	var mu sync.Mutex
	derive := h.derive
	h.derive = func(c costClass, password, salt []byte) []byte {
		mu.Lock()
		classes = append(classes, c.name)
		mu.Unlock()
		return derive(c, password, salt)
	}
	ok, rehash, err := h.Verify(context.Background(), encoded, "correct horse battery staple")
	if err != nil || ok || rehash {
		t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", encoded, ok, rehash, err)
	}
	if want := "[" + classOf(cheap).name + "]"; fmt.Sprint(classes) != want {
		t.Errorf("Verify(%q) hashed %v, want %s (what an unknown username costs)", encoded, classes, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := h.Verify(ctx, encoded, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(%q) with a cancelled context: %v, want Canceled", encoded, err)
	}
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       Params
		wantErr []string
	}{
		{"defaults", DefaultParams(), nil},
		{"cheap", cheap, nil},
		{"zero", Params{}, []string{"threads is 0", "memory is 0 KiB, want at least 8 KiB", "time is 0", "salt length is 0", "key length is 0"}},
		{"memory per thread", Params{Memory: 31, Time: 1, Threads: 4, SaltLen: 16, KeyLen: 32}, []string{"memory is 31 KiB, want at least 32 KiB (8 KiB per thread)"}},
		{"memory too large", Params{Memory: 1<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, []string{"want at most 1048576 KiB"}},
		{"time too large", Params{Memory: 64, Time: 65, Threads: 1, SaltLen: 16, KeyLen: 32}, []string{"time is 65, want 1 to 64"}},
		{"salt too short", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}, []string{"salt length is 4 bytes, want 8 to 64"}},
		{"key too long", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 129}, []string{"key length is 129 bytes, want 16 to 128"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Errorf("Validate(%+v) = %v, want nil", tt.p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want errors %q", tt.p, tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate(%+v) = %q, want it to contain %q", tt.p, err, want)
				}
			}
		})
	}
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		new  func()
	}{
		{"invalid params", func() { New(Params{}, 1, rand.Reader) }},
		{"nil rand", func() { New(cheap, 1, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Errorf("New with %s did not panic", tt.name)
				}
			}()
			tt.new()
		})
	}
}

// observe replaces h's key derivation with one that counts the hashes running at once and
// remembers the highest count seen.
func observe(h *Hasher) (calls, peak *atomic.Int64) {
	var running atomic.Int64
	calls, peak = new(atomic.Int64), new(atomic.Int64)
	derive := h.derive
	h.derive = func(c costClass, password, salt []byte) []byte {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		return derive(c, password, salt)
	}
	return calls, peak
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			h := newCheap(t, limit)
			calls, peak := observe(h)
			encoded, err := h.Hash(context.Background(), "correct horse battery staple")
			if err != nil {
				t.Fatal(err)
			}
			const workers = 16
			var wg sync.WaitGroup
			for i := range workers {
				wg.Go(func() {
					var err error
					switch i % 3 {
					case 0:
						_, err = h.Hash(context.Background(), "correct horse battery staple")
					case 1:
						_, _, err = h.Verify(context.Background(), encoded, "wrong password!!")
					default:
						h.Equalize(context.Background(), "correct horse battery staple")
					}
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if got := calls.Load(); got != workers+1 {
				t.Errorf("%d hashes ran, want %d", got, workers+1)
			}
			if got := peak.Load(); got > int64(limit) {
				t.Errorf("%d hashes ran at once, want at most %d", got, limit)
			}
		})
	}
}

func TestWaitHonoursContext(t *testing.T) {
	t.Parallel()
	h := newCheap(t, 1)
	entered, release := make(chan struct{}), make(chan struct{})
	derive := h.derive
	h.derive = func(c costClass, password, salt []byte) []byte {
		select {
		case entered <- struct{}{}:
			<-release // the first hash holds the only slot until released
		default:
		}
		return derive(c, password, salt)
	}
	holder := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "correct horse battery staple")
		holder <- err
	}()
	<-entered

	// Every waiter gives up when its context ends while the slot is taken.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash while waiting: err = %v, want DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	verified := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx2, "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x")
		verified <- err
	}()
	cancel2()
	if err := <-verified; !errors.Is(err, context.Canceled) {
		t.Errorf("Verify while waiting: err = %v, want Canceled", err)
	}
	// Equalize returns too.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	h.Equalize(ctx3, "x")

	close(release)
	if err := <-holder; err != nil {
		t.Fatalf("the first Hash: %v", err)
	}
	// The slot is free again.
	if _, err := h.Hash(context.Background(), "x"); err != nil {
		t.Errorf("Hash after the slot was released: %v", err)
	}
}

func TestCancelledContextNeverHashes(t *testing.T) {
	t.Parallel()
	h := newCheap(t, 4)
	calls, _ := observe(h)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a cancelled context: err = %v, want Canceled", err)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("%d hashes ran with a cancelled context, want 0", got)
	}
}

func TestEqualizeCostsOneHash(t *testing.T) {
	t.Parallel()
	h := newCheap(t, 1)
	var got Params
	derive := h.derive
	var calls atomic.Int64
	h.derive = func(c costClass, password, salt []byte) []byte {
		calls.Add(1)
		got = c.params
		return derive(c, password, salt)
	}
	h.Equalize(context.Background(), "correct horse battery staple")
	if calls.Load() != 1 || got != cheap {
		t.Errorf("Equalize ran %d hashes with %+v, want 1 with %+v", calls.Load(), got, cheap)
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := New(DefaultParams(), 0, rand.Reader)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	h := New(DefaultParams(), 0, rand.Reader)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := h.Verify(ctx, encoded, "correct horse battery staple"); err != nil || !ok {
				b.Fatalf("Verify = %v, %v", ok, err)
			}
		}
	})
}

// fakeMillis is what a hash of class c costs on fakeCost's clock, in milliseconds: argon2id's
// passes, bcrypt's cost, PBKDF2's thousands of iterations.
func fakeMillis(c costClass) int {
	switch c.alg {
	case argon2id:
		return int(c.params.Time)
	case bcryptAlg:
		return c.cost
	}
	return c.cost / 1000
}

// fakeCost makes h's hashes cost exactly fakeMillis milliseconds on a fake clock (and skips the
// real argon2id work beyond a token amount), and its padding waits advance the clock by the
// wait plus late; it returns the classes hashed, in order, and the waits.
func fakeCost(h *Hasher, late time.Duration) (used *[]string, waits *[]time.Duration) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	used, waits = new([]string), new([]time.Duration)
	h.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h.derive = func(c costClass, password, salt []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		*used = append(*used, c.name)
		now = now.Add(time.Duration(fakeMillis(c)) * time.Millisecond)
		if c.alg == argon2id {
			c.params = Params{Memory: 8, Time: 1, Threads: 1, KeyLen: c.params.KeyLen}
		}
		return deriveKey(c, password, salt)
	}
	h.sleep = func(_ context.Context, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		*waits = append(*waits, d)
		now = now.Add(d + late)
	}
	return used, waits
}

// TestEqualizeUsesTheDearestStoredClass: an unknown username costs one hash of the configured
// class and a wait up to what a hash of the dearest class among the configured parameters and
// the stored hashes' costs — measured, not guessed, once — and classes this package cannot
// verify, or a store that does not answer, change nothing.
func TestEqualizeUsesTheDearestStoredClass(t *testing.T) {
	t.Parallel()
	stored := []string{"$2b$02", "$argon2id$v=19$m=64,t=3,p=1", "$argon2id$v=19$m=64,t=2,p=1", "garbage", "$pbkdf2-sha256$i=99000000"}
	var storeErr error
	h := New(cheap, 1, rand.Reader, WithStoredClasses(func(context.Context) ([]string, error) { return stored, storeErr }))
	used, waits := fakeCost(h, 0)
	ctx := context.Background()
	const (
		configured = "$argon2id$v=19$m=64,t=1,p=1"
		t3         = "$argon2id$v=19$m=64,t=3,p=1"
		t2         = "$argon2id$v=19$m=64,t=2,p=1"
	)
	// bcrypt cost 2 and PBKDF2 with 99,000,000 iterations are out of bounds: never verified.
	h.Equalize(ctx, "x") // hashes the configured class, measures the two others, waits
	if want := fmt.Sprint([]string{configured, t3, t2}); fmt.Sprint(*used) != want {
		t.Errorf("first Equalize hashed %v, want %s (the configured class, two measured)", *used, want)
	}
	*used, *waits = nil, nil
	h.Equalize(ctx, "x")
	if fmt.Sprint(*used) != "["+configured+"]" || fmt.Sprint(*waits) != "[2ms]" {
		t.Errorf("second Equalize hashed %v and waited %v, want [%s] and [2ms] (up to t=3's 3 ms)", *used, *waits, configured)
	}
	*used, *waits = nil, nil
	storeErr = errors.New("database is down")
	h.Equalize(ctx, "x")
	if fmt.Sprint(*used) != "["+configured+"]" || len(*waits) != 0 {
		t.Errorf("Equalize without the store's classes hashed %v and waited %v, want the configured [%s] and no wait", *used, *waits, configured)
	}
}

// TestWrongPasswordOfACheapClassIsPadded: a wrong password whose hash is of a cheaper class
// than the dearest in use waits until it took as long as a hash of the dearest class, starting
// its waits early by how late they end; a right password, and a wrong one of the dearest class,
// do not wait.
func TestWrongPasswordOfACheapClassIsPadded(t *testing.T) {
	t.Parallel()
	h := New(cheap, 1, rand.Reader, WithStoredClasses(func(context.Context) ([]string, error) {
		return []string{"$argon2id$v=19$m=64,t=40,p=1"}, nil
	}))
	_, waits := fakeCost(h, 2*time.Millisecond)
	ctx := context.Background()
	cheapHash, err := h.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	dear := cheap
	dear.Time = 40
	dearHash, err := New(dear, 1, rand.Reader).Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	verify := func(encoded, plain string) {
		t.Helper()
		if _, _, err := h.Verify(ctx, encoded, plain); err != nil {
			t.Fatal(err)
		}
	}
	verify(cheapHash, "wrong") // measures the dear class (40 ms), waits 40 - 1
	verify(cheapHash, "wrong") // waits 40 - 1 - 2, the last wait having ended 2 ms late
	verify(cheapHash, "right")
	verify(dearHash, "wrong")
	verify(dearHash, "right")
	if want := "[39ms 37ms]"; fmt.Sprint(*waits) != want {
		t.Errorf("waits %v, want %s", *waits, want)
	}
}

// TestEqualizeNeverHashesTheDearClass: with a dear class stored, an unknown username costs
// one hash of the configured class and a wait; many failures at once, before the dear class
// was ever measured here, measure it once between them — never one dear hash each.
func TestEqualizeNeverHashesTheDearClass(t *testing.T) {
	t.Parallel()
	const dear = "$2b$12"
	var mu sync.Mutex
	count := map[string]int{}
	h := New(cheap, 4, rand.Reader,
		WithStoredClasses(func(context.Context) ([]string, error) { return []string{dear}, nil }),
		WithHashObserver(func(class string) { mu.Lock(); count[class]++; mu.Unlock() }))
	_, waits := fakeCost(h, 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { h.Equalize(context.Background(), "x") })
	}
	wg.Wait()
	configured := classOf(cheap).name
	if count[configured] != 8 || count[dear] != 1 || len(count) != 2 {
		t.Errorf("8 failures hashed %v, want 8 of the configured class and 1 of %s (measured once)", count, dear)
	}
	if len(*waits) != 8 {
		t.Errorf("%d waits, want 8 (each failure padded up to the dear class)", len(*waits))
	}
}
