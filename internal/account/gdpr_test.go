package account_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/account"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestExportAndDelete: the export holds everything about the citizen — account, keys, sessions,
// codes, e-mails, audit events — and no secret; delete needs a reason, removes the citizen and
// all their rows, keeps their audit events under one negative pseudonym with the deletion as
// the last, leaves another citizen alone, and frees the username.
func TestExportAndDelete(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := logintest.New(t, db, logintest.Options{})
		other := logintest.New(t, db, logintest.Options{Citizen: logintest.Citizen{Username: "els", Name: "Els", Email: "els@example.org",
			Language: "en", Password: "another long password"}})
		c := login.Client{IP: "198.51.100.7"}
		// A logon with an e-mailed code: a session-less logon transaction, a code, an e-mail,
		// audit events (a wrong password first).
		tx := w.Service.Start(keys.LevelSubstantial, "/")
		if err := w.Service.Choose(tx, keys.EmailCode); err != nil {
			t.Fatal(err)
		}
		if err := w.Service.SubmitPassword(ctx, tx, "jan", "wrong", c); !errors.Is(err, login.ErrBadCredentials) {
			t.Fatal(err)
		}
		if err := w.Service.SubmitPassword(ctx, tx, "jan", w.Citizen.Password, c); err != nil {
			t.Fatal(err)
		}
		must(t, db.CreateSession(ctx, &store.Session{IDHash: []byte("a session of jan"), AccountID: w.Account.ID, CreatedAt: w.Clock.Now(),
			LastSeenAt: w.Clock.Now(), AuthTime: w.Clock.Now(), LoA: "substantial", AMR: []string{"pwd", "otp"}, Data: []byte(`{"secret":"x"}`)}))
		otherTx := other.Service.Start(keys.LevelLow, "/")
		must(t, other.Service.Choose(otherTx, keys.Password))
		must(t, other.Service.SubmitPassword(ctx, otherTx, "els", other.Citizen.Password, c))
		must(t, other.Service.Complete(ctx, db, otherTx, c))

		var out bytes.Buffer
		must(t, account.Export(ctx, db, &out, "JAN", w.Clock.Now()))
		var doc struct {
			Format  string `json:"format"`
			Account struct {
				ID       int64  `json:"id"`
				Username string `json:"username"`
				Email    string `json:"email"`
				Password string `json:"password_format"`
			} `json:"account"`
			Keys []struct {
				Kind, Status, Serial string
			} `json:"keys"`
			Sessions []struct {
				Level   string   `json:"level"`
				Methods []string `json:"methods"`
			} `json:"sessions"`
			Codes []struct {
				Purpose string `json:"purpose"`
				SentTo  string `json:"sent_to"`
			} `json:"codes"`
			Emails []struct {
				To, Subject, State string
			} `json:"emails"`
			Audit []struct {
				Type, Reason, IP string
			} `json:"audit_events"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("the export is not JSON: %v\n%s", err, out.String())
		}
		if doc.Format != account.ExportFormat || doc.Account.ID != w.Account.ID || doc.Account.Username != "Jan" ||
			doc.Account.Email != "jan@example.org" || doc.Account.Password != "argon2id" {
			t.Errorf("exported account %+v", doc)
		}
		if len(doc.Keys) != 3 || doc.Keys[0].Kind != keys.TokenCard || doc.Keys[0].Serial != "SER-Jan" || doc.Keys[0].Status != "active" {
			t.Errorf("exported keys %+v", doc.Keys)
		}
		if len(doc.Sessions) != 1 || doc.Sessions[0].Level != "substantial" || len(doc.Sessions[0].Methods) != 2 {
			t.Errorf("exported sessions %+v", doc.Sessions)
		}
		if len(doc.Codes) != 1 || doc.Codes[0].Purpose != "logon" || doc.Codes[0].SentTo != "jan@example.org" {
			t.Errorf("exported codes %+v", doc.Codes)
		}
		if len(doc.Emails) != 1 || doc.Emails[0].To != "jan@example.org" || doc.Emails[0].Subject == "" {
			t.Errorf("exported e-mails %+v", doc.Emails)
		}
		if len(doc.Audit) != 1 || doc.Audit[0].Type != audit.LogonFailure || doc.Audit[0].IP != c.IP {
			t.Errorf("exported audit events %+v, want the wrong password", doc.Audit)
		}
		// No secret: no password hash, key data, code hash, session data or e-mail body.
		acct, _ := db.GetAccount(ctx, w.Account.ID)
		msgs, _ := db.ListAccountMessages(ctx, w.Account.ID)
		hidden := []string{acct.PasswordHash, "$argon2id$", `"secret"`, msgs[0].TextBody, `"text_body"`, "html"}
		ks, _ := db.ListKeys(ctx, w.Account.ID)
		for _, k := range ks {
			if len(k.Data) > 0 {
				hidden = append(hidden, string(k.Data), base64.StdEncoding.EncodeToString(k.Data), `"data"`)
			}
		}
		for _, secret := range hidden {
			if strings.Contains(out.String(), secret) {
				t.Errorf("the export holds %q:\n%s", secret, out.String())
			}
		}
		if err := account.Export(ctx, db, io.Discard, "nobody", w.Clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("export of nobody: %v, want not found", err)
		}

		rec := audit.New(w.Clock.Now, slog.New(slog.DiscardHandler))
		for _, reason := range []string{"", "   "} {
			if _, err := account.Delete(ctx, db, cardKey(t), rec, "jan", reason, audit.ActorOperator); !errors.Is(err, account.ErrNoReason) {
				t.Errorf("delete with reason %q: %v, want ErrNoReason", reason, err)
			}
		}
		if _, err := db.GetAccount(ctx, w.Account.ID); err != nil {
			t.Fatalf("a refused delete deleted: %v", err)
		}
		if _, err := account.Delete(ctx, db, cardKey(t), rec, "nobody", "asked", audit.ActorOperator); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete of nobody: %v, want not found", err)
		}
		d, err := account.Delete(ctx, db, cardKey(t), rec, "jan", "the citizen asked (ticket 42)", audit.ActorOperator)
		must(t, err)
		if d.AccountID != w.Account.ID || d.Pseudonym >= 0 || d.Pseudonym != account.Pseudonym(cardKey(t), w.Account.ID) {
			t.Errorf("Delete = %+v", d)
		}
		if _, err := db.GetAccountByUsername(ctx, "jan"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("jan after the delete: %v", err)
		}
		for what, n := range map[string]func() int{
			"keys":     func() int { x, _ := db.ListKeys(ctx, w.Account.ID); return len(x) },
			"sessions": func() int { x, _ := db.ListAccountSessions(ctx, w.Account.ID); return len(x) },
			"codes":    func() int { x, _ := db.ListAccountCodes(ctx, w.Account.ID); return len(x) },
			"e-mails":  func() int { x, _ := db.ListAccountMessages(ctx, w.Account.ID); return len(x) },
			"events":   func() int { x, _ := db.ListAccountAudit(ctx, w.Account.ID, 0, 0); return len(x) },
		} {
			if n() != 0 {
				t.Errorf("%d %s of jan left", n(), what)
			}
		}
		trail, err := db.ListAccountAudit(ctx, d.Pseudonym, 0, 0)
		must(t, err)
		if len(trail) != 2 || trail[0].Type != audit.LogonFailure || trail[0].IP != c.IP || trail[1].Type != audit.AccountDeleted ||
			trail[1].Reason != "the citizen asked (ticket 42)" || trail[1].Actor != audit.ActorOperator {
			t.Errorf("the pseudonymised trail: %+v", trail)
		}
		if evs, _ := db.ListAccountAudit(ctx, other.Account.ID, 0, 0); len(evs) != 1 || evs[0].Type != audit.LogonSuccess {
			t.Errorf("els's events: %+v", evs)
		}
		if ks, _ := db.ListKeys(ctx, other.Account.ID); len(ks) != 3 {
			t.Errorf("els has %d keys, want 3", len(ks))
		}
		// The username and the card serial can be used again.
		importFile(t, db, "jan,Jan Again,jan@example.org,nl,none,SER-Jan,"+strings.Join(cardCodes(), ",")+"\n")
		if _, err := account.Delete(ctx, db, cardKey(t), rec, "jan", "again", audit.ActorOperator); err != nil {
			t.Errorf("deleting the new jan: %v", err)
		}
	})
}

// TestExportAndDeleteRegistration: what a self-registration left before the account existed —
// the code e-mail and other mail to the address without an account, the registration rows
// (with the address in any case, or the username) — is exported (the text of an e-mail only
// when it carries no code) and deleted with the account; another citizen's event that names
// the account (bound_account) is pseudonymised too. Rows of other addresses and names stay.
func TestExportAndDeleteRegistration(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := logintest.New(t, db, logintest.Options{})
		now := w.Clock.Now()
		signup := func(email, username string) int64 {
			t.Helper()
			su := store.Signup{Email: email, Username: username, Name: "Nele Nieuw", Language: "nl", CodeHash: []byte("h"),
				StartedAt: now, EndsAt: now.Add(time.Hour), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), VerifiedAt: now}
			must(t, db.CreateSignup(ctx, &su))
			return su.ID
		}
		n := 0
		message := func(to, body string, code bool) int64 {
			t.Helper()
			n++
			m := store.Message{MessageID: fmt.Sprintf("<m%d@example.org>", n), Template: "signup_code", Language: "nl", ToAddress: to,
				Subject: "Uw code", TextBody: body, HTMLBody: "<p>" + body + "</p>"}
			if code {
				m.SecretUntil = now.Add(10 * time.Minute)
			}
			must(t, db.Enqueue(ctx, &m))
			return m.ID
		}
		mine := []int64{signup("Nele@Example.org", "someone-else"), signup("other@example.org", "NELE")}
		theirs := signup("other@example.org", "somebody")
		codeMail := message("NELE@example.org", "your code is 481516", true)
		plainMail := message("nele@example.org", "welcome text", false)
		otherMail := message("other@example.org", "for someone else", false)
		importFile(t, db, "nele,Nele Nieuw,nele@example.org,nl,none\n")
		nele, err := db.GetAccountByUsername(ctx, "nele")
		must(t, err)
		// Jan's password tried for a step-up bound to Nele, and one bound to an account whose
		// ID starts with Nele's.
		for _, bound := range []int64{nele.ID, nele.ID*10 + 1} {
			must(t, db.AppendAudit(ctx, &store.AuditEvent{Type: audit.LogonFailure, AccountID: w.Account.ID, Reason: audit.ReasonOtherAccount,
				Detail: map[string]string{"bound_account": strconv.FormatInt(bound, 10), "client": "tax"}}))
		}

		var out bytes.Buffer
		must(t, account.Export(ctx, db, &out, "nele", now))
		var doc struct {
			Emails []struct {
				ID       int64  `json:"id"`
				TextBody string `json:"text_body"`
				Withheld bool   `json:"text_body_withheld"`
			} `json:"emails"`
			Registrations []struct {
				Email, Username string
			} `json:"registrations"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("the export is not JSON: %v\n%s", err, out.String())
		}
		if len(doc.Emails) != 2 || doc.Emails[0].ID != codeMail || !doc.Emails[0].Withheld || doc.Emails[0].TextBody != "" ||
			doc.Emails[1].ID != plainMail || doc.Emails[1].TextBody != "welcome text" || doc.Emails[1].Withheld {
			t.Errorf("exported e-mails %+v, want the code mail withheld and the other's text", doc.Emails)
		}
		if strings.Contains(out.String(), "481516") {
			t.Errorf("the export holds a code:\n%s", out.String())
		}
		if len(doc.Registrations) != 2 || doc.Registrations[0].Email != "Nele@Example.org" || doc.Registrations[1].Username != "NELE" {
			t.Errorf("exported registrations %+v", doc.Registrations)
		}

		d, err := account.Delete(ctx, db, cardKey(t), audit.New(w.Clock.Now, slog.New(slog.DiscardHandler)), "nele", "asked", audit.ActorOperator)
		must(t, err)
		for _, id := range mine {
			if _, err := db.GetSignup(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("registration %d after the delete: %v", id, err)
			}
		}
		if _, err := db.GetSignup(ctx, theirs); err != nil {
			t.Errorf("another's registration: %v", err)
		}
		for _, id := range []int64{codeMail, plainMail} {
			if _, err := db.GetMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("e-mail %d to Nele's address after the delete: %v", id, err)
			}
		}
		if _, err := db.GetMessage(ctx, otherMail); err != nil {
			t.Errorf("another's e-mail: %v", err)
		}
		evs, err := db.ListAccountAudit(ctx, w.Account.ID, 0, 0)
		must(t, err)
		var bound []string
		for _, e := range evs {
			if e.Reason == audit.ReasonOtherAccount {
				bound = append(bound, e.Detail["bound_account"])
			}
		}
		want := []string{strconv.FormatInt(d.Pseudonym, 10), strconv.FormatInt(nele.ID*10+1, 10)}
		if !slices.Equal(bound, want) {
			t.Errorf("bound_account of Jan's events %q, want %q (Nele's pseudonym, the other untouched)", bound, want)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
