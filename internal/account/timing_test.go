package account_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestImportedFailuresCostTheSame: after an import of citizens with bcrypt hashes dearer than
// the service's argon2id and of citizens without a password, a wrong password of an imported
// citizen, any password of a citizen without one and an unknown username take the same time
// through the logon service: no answer tells whether a username exists, or how it was
// imported. (A wrong password of a cheaper argon2id class is padded to the same time; the
// password package tests that with a fake clock, the login package through the service.) A measurement, not a
// performance target: pairs taken back to back, the median of their ratios compared with a
// tolerance the unequalised service fails by far (bcrypt cost 8 against argon2id with 64 KiB
// and one pass: some 10× here).
func TestImportedFailuresCostTheSame(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		// The configured class costs about a millisecond: padding scales the configured hash's
		// own duration, which for a 64 KiB hash (some 50 µs) is mostly scheduling noise.
		params := password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
		configured := "$argon2id$v=19$" + params.String()
		var mu sync.Mutex
		var hashed []string // the classes hashed since the last reset
		observe := func(class string) { mu.Lock(); hashed = append(hashed, class); mu.Unlock() }
		takeHashed := func() []string { mu.Lock(); defer mu.Unlock(); h := hashed; hashed = nil; return h }
		w := logintest.New(t, db, logintest.Options{Deps: func(d *login.Deps) {
			d.Passwords = password.New(params, 0, rand.Reader, password.WithStoredClasses(db.PasswordHashParams), password.WithHashObserver(observe))
			d.Limiter = attempts.New(db, attempts.Policy{Threshold: 1 << 30, Base: time.Minute, Max: time.Hour}, d.Now)
		}})
		// A cost whose hash outweighs the logon's database work by far, in the time the race
		// detector leaves.
		cost := 8
		if raceDetector {
			cost = 5
		}
		legacy, err := bcrypt.GenerateFromPassword([]byte("an old password"), cost)
		if err != nil {
			t.Fatal(err)
		}
		var file strings.Builder
		for i := range 4 {
			fmt.Fprintf(&file, "imported%d,Imported,i%d@example.org,nl,%s\n", i, i, legacy)
			fmt.Fprintf(&file, "nopassword%d,No Password,n%d@example.org,nl,none\n", i, i)
		}
		importFile(t, db, file.String())
		fail := func(user string) time.Duration {
			t.Helper()
			tx := w.Service.Start(keys.LevelLow, "/")
			if err := w.Service.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := w.Service.SubmitPassword(ctx, tx, user, "not the password", login.Client{IP: "192.0.2.1"})
			took := time.Since(start)
			if !errors.Is(err, login.ErrBadCredentials) {
				t.Fatalf("%s: %v, want bad credentials", user, err)
			}
			return took
		}
		for i := range 4 { // warm up: every class measured, connections open
			fail(fmt.Sprintf("imported%d", i))
			fail(fmt.Sprintf("nopassword%d", i))
			fail(fmt.Sprintf("warm-up-%d", i))
		}
		// An unknown username, and a citizen without a password, cost one hash of the configured
		// class and a wait: never a hash of the dear imported class (which each guess would then
		// cost, in CPU and in a hashing slot).
		for _, user := range []string{"nobody-at-all", "nopassword0"} {
			takeHashed()
			fail(user)
			if got := takeHashed(); len(got) != 1 || got[0] != configured {
				t.Errorf("a failed logon of %s hashed %v, want one hash of the configured class %s", user, got, configured)
			}
		}
		// A wrong password of an imported account hashes its own (bcrypt) class once and is
		// padded by waiting; the wait's length is measured where it is made, in
		// internal/login's TestFailuresCostTheSameWhateverTheStoredParams and in
		// internal/password's padding tests, not here by wall-clock ratios, which a busy
		// two-core machine turns into noise.
		takeHashed()
		fail("imported0")
		if got := takeHashed(); len(got) != 1 || !strings.HasPrefix(got[0], "$2") {
			t.Errorf("a wrong password of an imported bcrypt account hashed %v, want its own bcrypt class once", got)
		}
	})
}
