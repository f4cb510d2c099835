package app

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// parallelPosts is how many copies of one right answer race each other.
const parallelPosts = 24

// TestParallelCompletionIsSingle: a browser (or a script) that sends the right code many times
// at once on one logon session completes the logon once. Exactly one request rotates the
// session and records logon.success; the others are told the logon was completed elsewhere
// (a redirect) or that the code is spent — never a 500.
func TestParallelCompletionIsSingle(t *testing.T) {
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		for _, kind := range []string{"tokencard", "totp", "emailcode"} {
			t.Run(kind, func(t *testing.T) {
				tn := newTestNode(t, b.Name, nil)
				ctx := context.Background()
				acct, err := tn.Store.GetAccountByUsername(ctx, "demo")
				if err != nil {
					t.Fatal(err)
				}
				c := tn.citizen()
				p, err := c.StartLogon("?level=substantial", kind, "demo", "demo-password-1")
				mustOK(t, p, err, "/login/code")
				answer := tn.answer(t, kind, p)
				// The form's token is bound to the pre-logon session: every copy carries it.
				sid, csrf, token := c.Cookie("sid"), c.Cookie("csrf"), p.Hidden("csrf")
				if token == "" {
					t.Fatal("no CSRF token on the code page")
				}

				// No cookie jar and no redirects: every request carries the pre-logon session.
				client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				form := url.Values{"code": {answer}, "csrf": {token}}.Encode()
				start := make(chan struct{})
				type result struct {
					status   int
					location string
					flash    string
					alert    string
					err      error
				}
				results := make([]result, parallelPosts)
				var wg sync.WaitGroup
				for i := range parallelPosts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, err := http.NewRequest(http.MethodPost, tn.url+"/login/code", strings.NewReader(form))
						if err != nil {
							results[i].err = err
							return
						}
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.Header.Set("Origin", tn.url)
						req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
						req.AddCookie(&http.Cookie{Name: "csrf", Value: csrf})
						<-start
						res, err := client.Do(req)
						if err != nil {
							results[i].err = err
							return
						}
						body, _ := io.ReadAll(res.Body)
						res.Body.Close()
						results[i] = result{status: res.StatusCode, location: res.Header.Get("Location"), alert: webtest.Page{Body: string(body)}.Alert()}
						for _, c := range res.Cookies() {
							if c.Name == "flash" {
								results[i].flash = c.Value
							}
						}
					}()
				}
				close(start)
				wg.Wait()

				// The losers are sent to the chooser with a flash saying the logon was completed
				// elsewhere, or they lost earlier and see why on the code page (a TOTP step or
				// an e-mailed code is spent, or parallel guesses throttled the key).
				winners := 0
				for i, r := range results {
					switch {
					case r.err != nil:
						t.Errorf("request %d: %v", i, r.err)
					case r.status == http.StatusSeeOther && r.location == "/":
						winners++
					case r.status == http.StatusSeeOther && strings.HasPrefix(r.location, "/login") && r.flash == "completed":
					case r.status == http.StatusOK && r.alert != "":
					default:
						t.Errorf("request %d: status %d, Location %q, alert %q", i, r.status, r.location, r.alert)
					}
				}
				if winners != 1 {
					t.Errorf("%d responses completed the logon, want 1 (all: %+v)", winners, results)
				}
				var sessions int
				if err := tn.Store.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE account_id = $1`, acct.ID).Scan(&sessions); err != nil {
					t.Fatal(err)
				}
				if sessions != 1 {
					t.Errorf("%d logged-on sessions for the account, want 1", sessions)
				}
				evs, err := tn.Store.ListAudit(ctx, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				successes := 0
				for _, e := range evs {
					if e.Type == audit.LogonSuccess {
						successes++
					}
				}
				if successes != 1 {
					t.Errorf("%d %s audit events, want 1", successes, audit.LogonSuccess)
				}
			})
		}
	})
}
