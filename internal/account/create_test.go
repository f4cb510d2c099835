package account_test

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/account"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// The account's creation time is the service's clock (a test or demo clock), not the wall
// clock the store would otherwise read.
func TestCreateUsesTheInjectedClock(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		w := logintest.New(t, db, logintest.Options{})
		at := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
		s := account.New(db, w.Passwords, audit.New(func() time.Time { return at }, nil), func() time.Time { return at })
		a, err := s.Create(t.Context(), account.NewAccount{Username: "tijd", Name: "Tijd", Email: "tijd@example.org",
			Language: "nl", Password: "a long enough passphrase"}, audit.ActorOperator)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.GetAccount(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(at) || !got.UpdatedAt.Equal(at) {
			t.Errorf("created %v, updated %v; want both %v", got.CreatedAt, got.UpdatedAt, at)
		}
	})
}
