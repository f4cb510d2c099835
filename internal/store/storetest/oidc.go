package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var authRequestTests = []test{
	{"Lifecycle", testAuthRequestLifecycle},
	{"CompleteOnce", testAuthRequestCompleteOnce},
	{"CompleteExpired", testAuthRequestCompleteExpired},
	{"Replay", testAuthRequestReplay},
	{"RevokeBeforeToken", testAuthRequestRevokeBeforeToken},
	{"NotFound", testAuthRequestNotFound},
	{"Sweep", testAuthRequestSweep},
	{"ConsumeConcurrently", testAuthRequestConsumeConcurrently},
	{"ConsumeOtherClient", testAuthRequestConsumeOtherClient},
}

var clientTests = []test{
	{"Lifecycle", testClientLifecycle},
	{"Public", testClientPublic},
}

var signingKeyTests = []test{
	{"Lifecycle", testSigningKeyLifecycle},
}

// newAuthRequest creates a pending request expiring 30 minutes after t0.
func newAuthRequest(t *testing.T, s store.Store, id string) store.AuthRequest {
	t.Helper()
	r := store.AuthRequest{ID: id, ClientID: "client-" + id, Data: []byte(`{"state":"` + id + `"}`), CreatedAt: t0, ExpiresAt: at(30 * time.Minute)}
	must(t, s.CreateAuthRequest(ctxOf(t), &r))
	return r
}

func completion(code string) store.AuthCompletion {
	return store.AuthCompletion{AccountID: 42, Data: []byte(`{"done":true}`), CodeHash: []byte("hash of " + code), CodeExpiresAt: at(11 * time.Minute)}
}

func testAuthRequestLifecycle(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	r := newAuthRequest(t, s, "req-1")
	got, err := s.GetAuthRequest(ctx, "req-1")
	must(t, err)
	if d := diff(r, got); d != "" {
		t.Errorf("GetAuthRequest (-want +got):\n%s", d)
	}
	dup := store.AuthRequest{ID: "req-1", ClientID: "other", CreatedAt: t0, ExpiresAt: at(time.Hour)}
	wantErr(t, "CreateAuthRequest with a used id", s.CreateAuthRequest(ctx, &dup), store.ErrConflict)

	c := completion("code-1")
	ok, err := s.CompleteAuthRequest(ctx, "req-1", c, at(10*time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("CompleteAuthRequest of a pending request reported false")
	}
	r.AccountID, r.Data, r.DoneAt, r.CodeHash, r.ExpiresAt = 42, c.Data, at(10*time.Minute), c.CodeHash, c.CodeExpiresAt
	got, err = s.GetAuthRequest(ctx, "req-1")
	must(t, err)
	if d := diff(r, got); d != "" {
		t.Errorf("after CompleteAuthRequest (-want +got):\n%s", d)
	}

	got, err = s.ConsumeAuthCode(ctx, c.CodeHash, "client-req-1", at(10*time.Minute+time.Second))
	must(t, err)
	if d := diff(r, got); d != "" {
		t.Errorf("ConsumeAuthCode returned (-want +got):\n%s", d)
	}
	r.CodeUsedAt = at(10*time.Minute + time.Second)

	tokenHash := []byte("hash of token-1")
	ok, err = s.SetAuthRequestToken(ctx, "req-1", tokenHash, at(20*time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("SetAuthRequestToken of a consumed request reported false")
	}
	r.TokenHash, r.TokenExpiresAt, r.ExpiresAt = tokenHash, at(20*time.Minute), at(20*time.Minute)
	got, err = s.GetAuthRequestByToken(ctx, tokenHash)
	must(t, err)
	if d := diff(r, got); d != "" {
		t.Errorf("GetAuthRequestByToken (-want +got):\n%s", d)
	}
	ok, err = s.SetAuthRequestToken(ctx, "req-1", []byte("hash of token-2"), at(30*time.Minute))
	must(t, err)
	if ok {
		t.Error("a second token was recorded for one code")
	}

	must(t, s.DeleteAuthRequest(ctx, "req-1"))
	_, err = s.GetAuthRequest(ctx, "req-1")
	wantErr(t, "GetAuthRequest after DeleteAuthRequest", err, store.ErrNotFound)
	must(t, s.DeleteAuthRequest(ctx, "req-1"))
}

func testAuthRequestCompleteOnce(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	newAuthRequest(t, s, "req-1")
	ok, err := s.CompleteAuthRequest(ctx, "req-1", completion("first"), at(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("first completion refused")
	}
	ok, err = s.CompleteAuthRequest(ctx, "req-1", completion("second"), at(2*time.Minute))
	must(t, err)
	if ok {
		t.Error("a done request was completed a second time")
	}
	got, err := s.GetAuthRequest(ctx, "req-1")
	must(t, err)
	if string(got.CodeHash) != "hash of first" || !got.DoneAt.Equal(at(time.Minute)) {
		t.Errorf("second completion changed the request: %+v", got)
	}
	if _, err := s.ConsumeAuthCode(ctx, []byte("hash of second"), "client-req-1", at(3*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused completion's code: %v, want ErrNotFound", err)
	}
	ok, err = s.CompleteAuthRequest(ctx, "no-such-request", completion("x"), at(time.Minute))
	if err != nil || ok {
		t.Errorf("completing a missing request: %v, %v; want false, nil", ok, err)
	}
}

func testAuthRequestCompleteExpired(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	newAuthRequest(t, s, "req-1") // expires at t0 + 30 min
	ok, err := s.CompleteAuthRequest(ctx, "req-1", completion("late"), at(30*time.Minute))
	must(t, err)
	if ok {
		t.Error("an expired request was completed")
	}
}

func testAuthRequestReplay(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	newAuthRequest(t, s, "req-1")
	c := completion("code-1")
	if _, err := s.CompleteAuthRequest(ctx, "req-1", c, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	first, err := s.ConsumeAuthCode(ctx, c.CodeHash, "client-req-1", at(2*time.Minute))
	must(t, err)
	if !first.CodeUsedAt.IsZero() {
		t.Fatalf("first use of the code reported as a replay: %v", first.CodeUsedAt)
	}
	if ok, err := s.SetAuthRequestToken(ctx, "req-1", []byte("token"), at(12*time.Minute)); err != nil || !ok {
		t.Fatalf("SetAuthRequestToken: %v, %v", ok, err)
	}
	second, err := s.ConsumeAuthCode(ctx, c.CodeHash, "client-req-1", at(3*time.Minute))
	must(t, err)
	if !second.CodeUsedAt.Equal(at(2 * time.Minute)) {
		t.Errorf("replay: CodeUsedAt = %v, want the first use %v", second.CodeUsedAt, at(2*time.Minute))
	}
	must(t, s.RevokeAuthRequest(ctx, "req-1", at(3*time.Minute)))
	must(t, s.RevokeAuthRequest(ctx, "req-1", at(4*time.Minute)))
	got, err := s.GetAuthRequestByToken(ctx, []byte("token"))
	must(t, err)
	if !got.RevokedAt.Equal(at(3 * time.Minute)) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, at(3*time.Minute))
	}
	wantErr(t, "RevokeAuthRequest of a missing request", s.RevokeAuthRequest(ctx, "nope", t0), store.ErrNotFound)
}

func testAuthRequestRevokeBeforeToken(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	newAuthRequest(t, s, "req-1")
	c := completion("code-1")
	if _, err := s.CompleteAuthRequest(ctx, "req-1", c, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.SetAuthRequestToken(ctx, "req-1", []byte("token"), at(12*time.Minute)); err != nil || ok {
		t.Errorf("a token recorded before the code was consumed: %v, %v", ok, err)
	}
	if _, err := s.ConsumeAuthCode(ctx, c.CodeHash, "client-req-1", at(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A replay revoked the request between the exchange's consumption and its token.
	must(t, s.RevokeAuthRequest(ctx, "req-1", at(2*time.Minute)))
	if ok, err := s.SetAuthRequestToken(ctx, "req-1", []byte("token"), at(12*time.Minute)); err != nil || ok {
		t.Errorf("a token recorded for a revoked request: %v, %v", ok, err)
	}
}

func testAuthRequestNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	_, err := s.GetAuthRequest(ctx, "nope")
	wantErr(t, "GetAuthRequest", err, store.ErrNotFound)
	_, err = s.ConsumeAuthCode(ctx, []byte("nope"), "client-pending", t0)
	wantErr(t, "ConsumeAuthCode", err, store.ErrNotFound)
	_, err = s.ConsumeAuthCode(ctx, nil, "client-pending", t0)
	wantErr(t, "ConsumeAuthCode of an empty hash", err, store.ErrNotFound)
	_, err = s.GetAuthRequestByToken(ctx, []byte("nope"))
	wantErr(t, "GetAuthRequestByToken", err, store.ErrNotFound)
	// Pending requests have no code and no token: an empty hash must not find them.
	newAuthRequest(t, s, "pending")
	_, err = s.GetAuthRequestByToken(ctx, nil)
	wantErr(t, "GetAuthRequestByToken of an empty hash", err, store.ErrNotFound)
	_, err = s.ConsumeAuthCode(ctx, []byte{}, "client-pending", t0)
	wantErr(t, "ConsumeAuthCode of an empty hash with a pending request", err, store.ErrNotFound)
}

func testAuthRequestSweep(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	for i, exp := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		r := store.AuthRequest{ID: fmt.Sprint("r", i), ClientID: "c", CreatedAt: t0, ExpiresAt: at(exp)}
		must(t, s.CreateAuthRequest(ctx, &r))
	}
	n, err := s.DeleteAuthRequestsBefore(ctx, at(2*time.Minute))
	must(t, err)
	if n != 1 {
		t.Errorf("DeleteAuthRequestsBefore removed %d, want 1", n)
	}
	for i, kept := range []bool{false, true, true} {
		_, err := s.GetAuthRequest(ctx, fmt.Sprint("r", i))
		if kept != (err == nil) {
			t.Errorf("r%d: %v, want kept=%v", i, err, kept)
		}
	}
}

func testAuthRequestConsumeConcurrently(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	newAuthRequest(t, s, "req-1")
	c := completion("code-1")
	if _, err := s.CompleteAuthRequest(ctx, "req-1", c, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	fresh := make(chan bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.ConsumeAuthCode(ctx, c.CodeHash, "client-req-1", at(2*time.Minute))
			if err != nil {
				t.Error(err)
				return
			}
			fresh <- r.CodeUsedAt.IsZero()
		}()
	}
	wg.Wait()
	close(fresh)
	count := 0
	for f := range fresh {
		if f {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d of %d concurrent exchanges consumed the code, want exactly 1", count, n)
	}
}

func testClientLifecycle(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	c := store.Client{
		ID: "tax", Name: "Tax on web", SecretHash: []byte("secret hash"),
		RedirectURIs:           []string{"https://tax.example.be/callback", "https://tax.example.be/cb2"},
		PostLogoutRedirectURIs: []string{"https://tax.example.be/"},
		Scopes:                 []string{"openid", "profile"}, DefaultLevel: "substantial", Pairwise: true,
		CreatedAt: t0, UpdatedAt: t0,
	}
	must(t, s.CreateClient(ctx, &c))
	got, err := s.GetClient(ctx, "tax")
	must(t, err)
	if d := diff(c, got); d != "" {
		t.Errorf("GetClient (-want +got):\n%s", d)
	}
	dup := store.Client{ID: "tax", Name: "Other", DefaultLevel: "low"}
	wantErr(t, "CreateClient with a taken id", s.CreateClient(ctx, &dup), store.ErrConflict)

	c.Name, c.SecretHash, c.RedirectURIs, c.Pairwise, c.UpdatedAt = "Tax", []byte("new hash"), []string{"https://tax.example.be/new"}, false, at(time.Hour)
	must(t, s.UpdateClient(ctx, &c))
	got, err = s.GetClient(ctx, "tax")
	must(t, err)
	if d := diff(c, got); d != "" {
		t.Errorf("after UpdateClient (-want +got):\n%s", d)
	}
	other := store.Client{ID: "alpha", Name: "Alpha", DefaultLevel: "low", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateClient(ctx, &other))
	list, err := s.ListClients(ctx)
	must(t, err)
	if d := diff([]store.Client{other, c}, list); d != "" {
		t.Errorf("ListClients (-want +got):\n%s", d)
	}
	must(t, s.DeleteClient(ctx, "tax"))
	_, err = s.GetClient(ctx, "tax")
	wantErr(t, "GetClient after DeleteClient", err, store.ErrNotFound)
	wantErr(t, "DeleteClient twice", s.DeleteClient(ctx, "tax"), store.ErrNotFound)
	wantErr(t, "UpdateClient of a missing client", s.UpdateClient(ctx, &c), store.ErrNotFound)
}

func testClientPublic(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	c := store.Client{ID: "app", Name: "App", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}, DefaultLevel: "low", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateClient(ctx, &c))
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	if !got.Public || got.SecretHash != nil || got.Scopes != nil || got.PostLogoutRedirectURIs != nil {
		t.Errorf("public client = %+v", got)
	}
}

func testSigningKeyLifecycle(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	k2 := store.SigningKey{ID: "kid-2", Generation: 2, Algorithm: "RS256", PrivateKey: []byte("sealed 2"), PublicKey: []byte("public 2"),
		CreatedAt: at(time.Hour), ActiveFrom: at(2 * time.Hour)}
	k1 := store.SigningKey{ID: "kid-1", Generation: 1, Algorithm: "RS256", PrivateKey: []byte("sealed 1"), PublicKey: []byte("public 1"),
		CreatedAt: t0, ActiveFrom: t0}
	must(t, s.CreateSigningKey(ctx, &k2))
	must(t, s.CreateSigningKey(ctx, &k1))
	sameGen := store.SigningKey{ID: "kid-3", Generation: 2, Algorithm: "RS256", PrivateKey: []byte("x"), PublicKey: []byte("y"), CreatedAt: t0, ActiveFrom: t0}
	wantErr(t, "CreateSigningKey with a taken generation", s.CreateSigningKey(ctx, &sameGen), store.ErrConflict)
	sameID := store.SigningKey{ID: "kid-1", Generation: 9, Algorithm: "RS256", PrivateKey: []byte("x"), PublicKey: []byte("y"), CreatedAt: t0, ActiveFrom: t0}
	wantErr(t, "CreateSigningKey with a taken id", s.CreateSigningKey(ctx, &sameID), store.ErrConflict)
	list, err := s.ListSigningKeys(ctx)
	must(t, err)
	if d := diff([]store.SigningKey{k1, k2}, list); d != "" {
		t.Errorf("ListSigningKeys (-want +got):\n%s", d)
	}
	must(t, s.DeleteSigningKey(ctx, "kid-1"))
	must(t, s.DeleteSigningKey(ctx, "kid-1"))
	list, err = s.ListSigningKeys(ctx)
	must(t, err)
	if d := diff([]store.SigningKey{k2}, list); d != "" {
		t.Errorf("after DeleteSigningKey (-want +got):\n%s", d)
	}
}

// testAuthRequestConsumeOtherClient: a code presented by another client is not found and not
// spent; its own client consumes it afterwards.
func testAuthRequestConsumeOtherClient(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	newAuthRequest(t, s, "req-1")
	c := completion("code-1")
	if _, err := s.CompleteAuthRequest(ctx, "req-1", c, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := s.ConsumeAuthCode(ctx, c.CodeHash, "client-other", at(2*time.Minute))
		wantErr(t, "ConsumeAuthCode by another client", err, store.ErrNotFound)
	}
	got, err := s.GetAuthRequest(ctx, "req-1")
	must(t, err)
	if !got.CodeUsedAt.IsZero() {
		t.Fatalf("another client's attempt spent the code at %v", got.CodeUsedAt)
	}
	first, err := s.ConsumeAuthCode(ctx, c.CodeHash, "client-req-1", at(3*time.Minute))
	must(t, err)
	if !first.CodeUsedAt.IsZero() {
		t.Errorf("the owner's first use was reported as a replay (used at %v)", first.CodeUsedAt)
	}
}
