package password

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// legacy are hashes of legacyPassword in every imported format. The PBKDF2 ones were made with
// Python's hashlib.pbkdf2_hmac (OpenSSL), not Go, and written in each system's form; the bcrypt
// one is crypt_blowfish's test vector for "U*U" (and legacyBcryptPassword).
const (
	legacyPassword       = "lètmein correct"
	legacyBcryptPassword = "U*U"
)

var legacy = []struct {
	name, encoded, password, format, class string
}{
	{"bcrypt 2a", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", legacyBcryptPassword, "bcrypt", "$2b$05"},
	{"bcrypt 2b", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", legacyBcryptPassword, "bcrypt", "$2b$05"},
	{"bcrypt 2y", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", legacyBcryptPassword, "bcrypt", "$2b$05"},
	{"django sha256", "pbkdf2_sha256$10000$seasaltseasalt$0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmgM=", legacyPassword,
		"django pbkdf2_sha256", "$pbkdf2-sha256$i=10000,l=32"},
	{"django sha512", "pbkdf2_sha512$12000$seasaltseasalt$Ej9//faWz8O2x+N7OQmuqCMBC3yFaVQz0g3q5w9rPrgibl8xjdEKdifr6vlAf12JcsCSdyBJssrNFNNjZ/3P6w==",
		legacyPassword, "django pbkdf2_sha512", "$pbkdf2-sha512$i=12000,l=64"},
	{"phc sha256", "$pbkdf2-sha256$i=10000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SI", legacyPassword,
		"pbkdf2-sha256", "$pbkdf2-sha256$i=10000,l=32"},
	{"phc sha256 without l", "$pbkdf2-sha256$i=10000$MDEyMzQ1Njc4OWFiY2RlZg$J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SI", legacyPassword,
		"pbkdf2-sha256", "$pbkdf2-sha256$i=10000,l=32"},
	{"phc sha256 two blocks", "$pbkdf2-sha256$i=10000,l=48$MDEyMzQ1Njc4OWFiY2RlZg$J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SJB49qqOkoNf4G42jXzHeEy",
		legacyPassword, "pbkdf2-sha256", "$pbkdf2-sha256$i=10000,l=48"},
	{"phc sha512", "$pbkdf2-sha512$i=10000,l=64$MDEyMzQ1Njc4OWFiY2RlZg$x70dq1zU9ASd6idjp2ZKInCzWBJtVaBqzY+y10jXU47t7w1gZeOaQTAZCNYtsa85iCFRfoHQjlPe6C1ZmGwRew",
		legacyPassword, "pbkdf2-sha512", "$pbkdf2-sha512$i=10000,l=64"},
	{"passlib sha256", "$pbkdf2-sha256$29000$....Pj9.cGFzc2xpYg$1LUjB0dN/JOk0bDkfvKkexG3whicEbzqnARPcclyzXU", legacyPassword,
		"passlib pbkdf2-sha256", "$pbkdf2-sha256$i=29000,l=32"},
	{"passlib sha512", "$pbkdf2-sha512$25000$....Pj9.cGFzc2xpYg$2Z1mroXuCilIHCd5uMtp7yYCrtNFT2rPwrDB4MyJlqJmtJwAMWamejueCyJibUqNwMZTqQuoOQdkys1ubPCB9Q",
		legacyPassword, "passlib pbkdf2-sha512", "$pbkdf2-sha512$i=25000,l=64"},
	{"argon2id, other parameters", "", legacyPassword, "argon2id", "$argon2id$v=19$m=128,t=2,p=2"},
}

// storedParams is what the store keeps beside a hash as its parameters (sqlstore's hashParams,
// whose values PasswordHashParams lists): the hash without its salt and digest, or for bcrypt
// without its last field.
func storedParams(hash string) string {
	fields := strings.Split(hash, "$")
	switch {
	case len(fields) == 4 && fields[0] == "" && strings.HasPrefix(fields[1], "2"):
		return strings.Join(fields[:3], "$")
	case len(fields) >= 4:
		return strings.Join(fields[:len(fields)-2], "$")
	}
	return ""
}

// TestImportedFormats: every accepted format is inspected, verified (right and wrong password)
// and asks for a rehash to the configured argon2id once right; the class the store reports for
// it is the same class, so its cost is equalised.
func TestImportedFormats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newCheap(t, 0)
	for _, tt := range legacy {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			encoded := tt.encoded
			if encoded == "" {
				var err error
				encoded, err = New(Params{Memory: 128, Time: 2, Threads: 2, SaltLen: 8, KeyLen: 16}, 1, rand.Reader).Hash(ctx, tt.password)
				if err != nil {
					t.Fatal(err)
				}
			}
			info, err := Inspect(encoded)
			if err != nil || info.Format != tt.format || info.Class != tt.class {
				t.Errorf("Inspect = %+v, %v; want format %q, class %q", info, err, tt.format, tt.class)
			}
			if c, ok := parseClass(storedParams(encoded), h.params); !ok || c.name != tt.class {
				t.Errorf("class of the stored parameters %q = %q, %v; want %q", storedParams(encoded), c.name, ok, tt.class)
			}
			if !Usable(encoded) {
				t.Error("Usable = false")
			}
			ok, rehash, err := h.Verify(ctx, encoded, tt.password)
			if err != nil || !ok || !rehash {
				t.Errorf("Verify(right) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			for _, wrong := range []string{tt.password + "!", "x" + tt.password, ""} {
				if ok, rehash, err := h.Verify(ctx, encoded, wrong); err != nil || ok || rehash {
					t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", wrong, ok, rehash, err)
				}
			}
		})
	}
}

// TestInspectRefuses: hashes of unknown formats or with parameters outside the bounds are
// refused with what is wrong and what is accepted; Verify treats them as no password.
func TestInspectRefuses(t *testing.T) {
	t.Parallel()
	const (
		bcryptTail = "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
		salt16     = "MDEyMzQ1Njc4OWFiY2RlZg"
		digest32   = "J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SI"
		django32   = "0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmgM="
	)
	tests := []struct {
		name, encoded string
		want          []string
	}{
		{"bcrypt cost 40", "$2b$40$" + bcryptTail, []string{"cost 40", "4 to 16"}},
		{"bcrypt cost 3", "$2b$03$" + bcryptTail, []string{"cost 3", "4 to 16"}},
		{"bcrypt cost 17", "$2b$17$" + bcryptTail, []string{"cost 17", "4 to 16"}},
		{"bcrypt cost one digit", "$2b$5$" + bcryptTail, []string{"two digits"}},
		{"bcrypt 2x", "$2x$05$" + bcryptTail, []string{"$2a$, $2b$ or $2y$"}},
		{"bcrypt short", "$2b$05$" + bcryptTail[1:], []string{"52 characters", "53"}},
		{"bcrypt alphabet", "$2b$05$" + strings.Replace(bcryptTail, "C", "+", 1), []string{"alphabet"}},
		{"pbkdf2 1 iteration", "$pbkdf2-sha256$i=1,l=32$" + salt16 + "$" + digest32, []string{"1 iterations is too few", "at least 10000", "none"}},
		{"django 1 iteration", "pbkdf2_sha256$1$seasaltseasalt$" + django32, []string{"too few", "at least 10000"}},
		{"passlib 9999", "$pbkdf2-sha256$9999$....Pj9.cGFzc2xpYg$" + strings.ReplaceAll(digest32, "+", "."), []string{"at least 10000"}},
		{"pbkdf2 too many", "$pbkdf2-sha256$i=10000001$" + salt16 + "$" + digest32, []string{"too many", "10000000"}},
		{"pbkdf2 overflowing", "pbkdf2_sha256$99999999999999999999999$seasaltseasalt$" + django32, []string{"too many"}},
		{"pbkdf2 not a number", "$pbkdf2-sha256$i=ten$" + salt16 + "$" + digest32, []string{"not a number"}},
		{"pbkdf2 sha1", "$pbkdf2$29000$" + salt16 + "$" + digest32, []string{"unknown format"}},
		{"pbkdf2-sha1 phc", "$pbkdf2-sha1$i=29000$" + salt16 + "$" + digest32, []string{"not pbkdf2-sha256 or pbkdf2-sha512"}},
		{"django sha1", "pbkdf2_sha1$29000$seasaltseasalt$" + django32, []string{"not pbkdf2_sha256 or pbkdf2_sha512"}},
		{"pbkdf2 l mismatch", "$pbkdf2-sha256$i=10000,l=64$" + salt16 + "$" + digest32, []string{"32 bytes", "l=64"}},
		{"pbkdf2 l too long", "$pbkdf2-sha256$i=10000,l=128$" + salt16 + "$" + digest32, []string{"l=128", "16 to 64"}},
		{"pbkdf2 salt short", "$pbkdf2-sha256$i=10000$MDEy$" + digest32, []string{"salt is 3 bytes", "8 to 64"}},
		{"pbkdf2 padded", "$pbkdf2-sha256$i=10000$" + salt16 + "==$" + digest32, []string{"salt is not base64"}},
		{"passlib digest short", "$pbkdf2-sha256$29000$....Pj9.cGFzc2xpYg$1LUjB0dN/JOk0bDkfvKkexG3whicEbzqnARP", []string{"want 32"}},
		{"pbkdf2 long digest without l", "$pbkdf2-sha256$i=10000$" + salt16 + "$J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SJB49qqOkoNf4G42jXzHeEy", []string{"l="}},
		{"django digest short", "pbkdf2_sha256$10000$seasaltseasalt$0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmg==", []string{"want 32"}},
		{"django unpadded", "pbkdf2_sha256$10000$seasaltseasalt$0yy8srt0ocY3W8ahxBUmpRuuzjE7kM7H9ep3gvEAmgM", []string{"padded base64"}},
		{"django salt short", "pbkdf2_sha256$10000$salt$" + django32, []string{"salt is 4 bytes"}},
		{"django extra field", "pbkdf2_sha256$10000$seasaltseasalt$x$" + django32, []string{"want pbkdf2_sha256$ITERATIONS$salt$hash"}},
		{"md5", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", []string{"unknown format", "argon2id", "bcrypt", "PBKDF2", "none"}},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", []string{"unknown format"}},
		{"argon2id huge memory", "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", []string{"memory", "at most"}},
		{"the word none", "none", []string{"unknown format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Inspect(tt.encoded)
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Inspect(%q) = %v, want ErrMalformedHash", tt.encoded, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Inspect(%q) = %q, does not say %q", tt.encoded, err, w)
				}
			}
			if c, ok := parseClass(storedParams(tt.encoded), cheap); ok && strings.Contains(tt.name, "cost") {
				t.Errorf("the stored parameters %q make the class %q: a hash out of bounds would be equalised to", storedParams(tt.encoded), c.name)
			}
		})
	}
}

// TestNoPassword: an account imported without a password ("none", stored empty) fails like a
// wrong password at the cost of an unknown username, and is not Usable.
func TestNoPassword(t *testing.T) {
	t.Parallel()
	if info, err := Inspect(""); err != nil || info.Format != FormatNone || info.Class != "" {
		t.Errorf("Inspect(\"\") = %+v, %v; want format none, no class", info, err)
	}
	if Usable("") {
		t.Error(`Usable("") = true`)
	}
	checkNoPassword(t, "")
}

// TestLegacyClassesAreEqualised: legacy hashes are cost classes like argon2id parameter sets.
// With a dearer PBKDF2 class stored, an unknown username (and an account without a password)
// costs one hash of the configured class and waits until it cost as much as one of that class;
// a wrong password of a cheaper bcrypt or argon2id account waits likewise; a wrong password of
// the dearest class and right passwords do not wait.
func TestLegacyClassesAreEqualised(t *testing.T) {
	t.Parallel()
	const dearClass = "$pbkdf2-sha256$i=20000,l=32" // 20 ms on the fake clock
	h := New(cheap, 1, rand.Reader, WithStoredClasses(func(context.Context) ([]string, error) {
		return []string{"$2a$05", "$pbkdf2-sha256$i=20000", "$argon2id$v=19$m=64,t=1,p=1"}, nil
	}))
	used, waits := fakeCost(h, 0)
	ctx := context.Background()
	argonHash, err := h.Hash(ctx, legacyPassword)
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash := legacy[0].encoded
	// The dearest class, with its own salt and digest.
	dearHash := "$pbkdf2-sha256$i=20000$MDEyMzQ1Njc4OWFiY2RlZg$J03ONLDQnK9y66QJPMb3bPlJGnB+9shZR1LVLc5G9SI"
	verify := func(encoded, plain string) {
		t.Helper()
		if _, _, err := h.Verify(ctx, encoded, plain); err != nil {
			t.Fatal(err)
		}
	}
	configured := classOf(cheap).name
	*used = nil
	h.Equalize(ctx, "nobody's password") // one configured hash, the others measured once, a wait
	if want := fmt.Sprint([]string{configured, "$2b$05", dearClass}); fmt.Sprint(*used) != want {
		t.Errorf("Equalize hashed %v, want %s (the configured class, then the two others measured)", *used, want)
	}
	*used, *waits = nil, nil
	h.Equalize(ctx, "nobody's password")     // 1 ms, waits 19: never a hash of the dear class
	verify(bcryptHash, "wrong")              // 5 ms, waits 15
	verify(argonHash, "wrong")               // 1 ms, waits 19
	verify(dearHash, "wrong")                // 20 ms, no wait
	verify(bcryptHash, legacyBcryptPassword) // right: no wait
	verify("", "anything")                   // none: as an unknown username, 1 ms, waits 19
	ms := time.Millisecond
	if want := fmt.Sprint([]time.Duration{19 * ms, 15 * ms, 19 * ms, 19 * ms}); fmt.Sprint(*waits) != want {
		t.Errorf("waits %v, want %s", *waits, want)
	}
	if want := fmt.Sprint([]string{configured, "$2b$05", configured, dearClass, "$2b$05", configured}); fmt.Sprint(*used) != want {
		t.Errorf("hashed %v, want %s", *used, want)
	}
}

// TestLegacyHashesShareTheSlots: bcrypt and PBKDF2 verifications run in the same bounded
// hashing slots as argon2id: never more at once than the limit.
func TestLegacyHashesShareTheSlots(t *testing.T) {
	t.Parallel()
	h := newCheap(t, 2)
	calls, peak := observe(h)
	var wg sync.WaitGroup
	for i := range 12 {
		l := legacy[i%(len(legacy)-1)] // the PBKDF2 and bcrypt vectors
		wg.Go(func() {
			if ok, _, err := h.Verify(context.Background(), l.encoded, l.password); err != nil || !ok {
				t.Errorf("Verify(%s) = %v, %v", l.name, ok, err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 12 || peak.Load() > 2 {
		t.Errorf("%d hashes, at most %d at once; want 12, at most 2", calls.Load(), peak.Load())
	}
}

// TestCheckImportBounds: an import refuses hashes whose class would make every failed logon
// ruinous — and says which bound — while Inspect (what Verify accepts) still takes them.
func TestCheckImportBounds(t *testing.T) {
	t.Parallel()
	salt, key := b64.EncodeToString(make([]byte, 16)), b64.EncodeToString(make([]byte, 32))
	argon := func(m, tm, p int) string {
		return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p, salt, key)
	}
	bcryptOf := func(cost int) string { return fmt.Sprintf("$2b$%02d$%s", cost, strings.Repeat("a", 53)) }
	pbkdf2Of := func(iter int) string {
		return fmt.Sprintf("$pbkdf2-sha256$i=%d,l=32$%s$%s", iter, b64.EncodeToString(make([]byte, 16)), key)
	}
	const slot = 19456
	for _, tc := range []struct {
		hash, bound string // bound: a part of the error, "" for accepted
	}{
		{"", ""},
		{argon(19456, 2, 1), ""},
		{argon(19456, 10, 8), ""},
		{argon(19457, 2, 1), "19456 KiB a hashing slot"},
		{argon(1<<20, 2, 1), "19456 KiB a hashing slot"},
		{argon(19456, 11, 1), "time t=11 is more than 10"},
		{argon(19456, 2, 9), "parallelism p=9 is more than 8"},
		{bcryptOf(14), ""},
		{bcryptOf(15), "bcrypt cost 15 is more than 14"},
		{pbkdf2Of(2_000_000), ""},
		{pbkdf2Of(2_000_001), "more than 2000000 iterations"},
		{"$pbkdf2-sha256$i=1500000,l=64$" + b64.EncodeToString(make([]byte, 16)) + "$" + b64.EncodeToString(make([]byte, 64)), "2 blocks of output"},
	} {
		_, err := CheckImport(tc.hash, slot)
		switch {
		case tc.bound == "" && err != nil:
			t.Errorf("CheckImport(%.40s…) = %v, want accepted", tc.hash, err)
		case tc.bound != "" && (!errors.Is(err, ErrImportBound) || !strings.Contains(err.Error(), tc.bound)):
			t.Errorf("CheckImport(%.40s…) = %v, want ErrImportBound naming %q", tc.hash, err, tc.bound)
		}
		if _, err := Inspect(tc.hash); err != nil {
			t.Errorf("Inspect(%.40s…) = %v: a stored hash beyond the import bounds must still verify", tc.hash, err)
		}
	}
}
