package login_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestLogonUsesTheNewestKeyOfAKind: should a citizen ever have two active keys of a kind (rows
// from before activation replaced them), the logon asks for the newest, whatever order the
// rows come in; a code of an older one is refused.
func TestLogonUsesTheNewestKeyOfAKind(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		w := logintest.New(t, db, logintest.Options{Kinds: []string{keys.TOTP}})
		old := w.TOTPSecret
		newer := bytes.Repeat([]byte{5}, 20)
		k, err := w.TOTP.NewKey(w.Account.ID, newer, w.Clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateKey(t.Context(), &k); err != nil {
			t.Fatal(err)
		}
		// An older key written after it: a larger id, an earlier activation.
		older, err := w.TOTP.NewKey(w.Account.ID, bytes.Repeat([]byte{6}, 20), w.Clock.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateKey(t.Context(), &older); err != nil {
			t.Fatal(err)
		}
		c := login.Client{IP: "192.0.2.1"}
		tx := w.Service.Start(keys.LevelSubstantial, "/")
		if err := w.Service.Choose(tx, keys.TOTP); err != nil {
			t.Fatal(err)
		}
		if err := w.Service.SubmitPassword(t.Context(), tx, w.Citizen.Username, w.Citizen.Password, c); err != nil {
			t.Fatal(err)
		}
		if tx.KeyID != k.ID {
			t.Errorf("the logon asks for key %d, want the newest, %d", tx.KeyID, k.ID)
		}
		if err := w.Service.SubmitCode(t.Context(), tx, totp.Code(old, w.Clock.Now()), c); err == nil {
			t.Error("the oldest key's code was accepted")
		}
		if err := w.Service.SubmitCode(t.Context(), tx, totp.Code(newer, w.Clock.Now()), c); err != nil {
			t.Errorf("the newest key's code: %v", err)
		}
		if res, ok := w.Service.Result(tx); !ok || res.Level != keys.LevelSubstantial {
			t.Errorf("result %+v %v", res, ok)
		}
	})
}
