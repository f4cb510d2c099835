package account_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
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
// citizen, any password of a citizen without one and an unknown username do the same work
// through the logon service — one hash of the dearest cost class in use, the imported bcrypt
// cost — so no answer tells whether a username exists, or how it was imported. The work is
// counted (password.WithHashObserver), not timed; that a cheaper class's wrong password is
// padded to the dearest class's time is the password package's test, with a fake clock.
func TestImportedFailuresCostTheSame(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		params := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
		var mu sync.Mutex
		var hashed []string
		observe := func(class string) {
			mu.Lock()
			defer mu.Unlock()
			hashed = append(hashed, class)
		}
		w := logintest.New(t, db, logintest.Options{Deps: func(d *login.Deps) {
			d.Passwords = password.New(params, 0, rand.Reader, password.WithStoredClasses(db.PasswordHashParams),
				password.WithHashObserver(observe))
			d.Limiter = attempts.New(db, attempts.Policy{Threshold: 1 << 30, Base: time.Minute, Max: time.Hour}, d.Now)
		}})
		// A cost that makes bcrypt the dearest class by far (argon2id with 64 KiB and one pass
		// takes a fraction of a millisecond), so which class is dearest is never in doubt.
		cost := 6
		if raceDetector {
			cost = 5
		}
		legacy, err := bcrypt.GenerateFromPassword([]byte("an old password"), cost)
		if err != nil {
			t.Fatal(err)
		}
		dearest := fmt.Sprintf("$2b$%02d", cost)
		var file strings.Builder
		for i := range 2 {
			fmt.Fprintf(&file, "imported%d,Imported,i%d@example.org,nl,%s\n", i, i, legacy)
			fmt.Fprintf(&file, "nopassword%d,No Password,n%d@example.org,nl,none\n", i, i)
		}
		importFile(t, db, file.String())
		fail := func(user string) []string {
			t.Helper()
			tx := w.Service.Start(keys.LevelLow, "/")
			if err := w.Service.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			hashed = nil
			mu.Unlock()
			err := w.Service.SubmitPassword(ctx, tx, user, "not the password", login.Client{IP: "192.0.2.1"})
			if !errors.Is(err, login.ErrBadCredentials) {
				t.Fatalf("%s: %v, want bad credentials", user, err)
			}
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(hashed)
		}
		// The first failures measure each class once (a dummy hash); from then on every failure
		// is one hash of the dearest class.
		fail("warm-up")
		for i := range 2 {
			for _, user := range []string{fmt.Sprintf("imported%d", i), fmt.Sprintf("nopassword%d", i), fmt.Sprintf("nobody-%d", i)} {
				if got := fail(user); !slices.Equal(got, []string{dearest}) {
					t.Errorf("a failed logon of %s hashed %q, want one hash of the dearest class %s", user, got, dearest)
				}
			}
		}
	})
}
