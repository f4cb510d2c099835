package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var phaseoutTests = []test{
	{"PolicyPutGetList", testPolicyPutGetList},
	{"PolicyReplace", testPolicyReplace},
	{"PolicyDelete", testPolicyDelete},
	{"JobLease", testJobLease},
	{"JobLeaseConcurrent", testJobLeaseConcurrent},
	{"ActiveKeysOfKind", testActiveKeysOfKind},
	{"UnusedKeys", testUnusedKeys},
	{"UnusedWarningOnce", testUnusedWarningOnce},
	{"CountStranded", testCountStranded},
}

func testPolicyPutGetList(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if got, err := s.ListPhaseoutPolicies(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListPhaseoutPolicies on an empty store = %v, %v; want none", got, err)
	}
	_, err := s.GetPhaseoutPolicy(ctx, "tokencard")
	wantErr(t, "GetPhaseoutPolicy of a kind without one", err, store.ErrNotFound)
	token := store.PhaseoutPolicy{Kind: "tokencard", ActivationClosedFrom: at(-time.Hour), MigrationPromptFrom: t0,
		DisabledFrom: at(24 * time.Hour), UnusedMonths: 12, UpdatedAt: t0}
	app := store.PhaseoutPolicy{Kind: "totp", DisabledFrom: at(48 * time.Hour), UpdatedAt: at(time.Second)}
	must(t, s.PutPhaseoutPolicy(ctx, token))
	must(t, s.PutPhaseoutPolicy(ctx, app))
	got, err := s.GetPhaseoutPolicy(ctx, "tokencard")
	must(t, err)
	if d := diff(token, got); d != "" {
		t.Errorf("GetPhaseoutPolicy (-want +got):\n%s", d)
	}
	list, err := s.ListPhaseoutPolicies(ctx)
	must(t, err)
	if d := diff([]store.PhaseoutPolicy{token, app}, list); d != "" {
		t.Errorf("ListPhaseoutPolicies (-want +got):\n%s", d)
	}
}

func testPolicyReplace(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	must(t, s.PutPhaseoutPolicy(ctx, store.PhaseoutPolicy{Kind: "tokencard", ActivationClosedFrom: t0,
		MigrationPromptFrom: at(time.Hour), DisabledFrom: at(2 * time.Hour), UnusedMonths: 12, UpdatedAt: t0}))
	// Unset instants and no unused period replace set ones: the policy is replaced whole.
	want := store.PhaseoutPolicy{Kind: "tokencard", DisabledFrom: at(3 * time.Hour), UpdatedAt: at(time.Minute)}
	must(t, s.PutPhaseoutPolicy(ctx, want))
	got, err := s.GetPhaseoutPolicy(ctx, "tokencard")
	must(t, err)
	if d := diff(want, got); d != "" {
		t.Errorf("after a replacement (-want +got):\n%s", d)
	}
}

func testPolicyDelete(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	wantErr(t, "DeletePhaseoutPolicy of a kind without one", s.DeletePhaseoutPolicy(ctx, "tokencard"), store.ErrNotFound)
	must(t, s.PutPhaseoutPolicy(ctx, store.PhaseoutPolicy{Kind: "tokencard", DisabledFrom: t0, UpdatedAt: t0}))
	must(t, s.DeletePhaseoutPolicy(ctx, "tokencard"))
	_, err := s.GetPhaseoutPolicy(ctx, "tokencard")
	wantErr(t, "GetPhaseoutPolicy after its deletion", err, store.ErrNotFound)
}

func testJobLease(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	steps := []struct {
		what       string
		owner      string
		now, until time.Time
		want       bool
	}{
		{"first taker", "node-a", t0, at(time.Minute), true},
		{"another node while it holds", "node-b", at(30 * time.Second), at(90 * time.Second), false},
		{"the holder renews", "node-a", at(30 * time.Second), at(2 * time.Minute), true},
		{"another node just before the renewed lease ends", "node-b", at(2*time.Minute - time.Microsecond), at(3 * time.Minute), false},
		{"another node once it ran out", "node-b", at(2 * time.Minute), at(3 * time.Minute), true},
		{"the old holder after losing it", "node-a", at(2 * time.Minute), at(4 * time.Minute), false},
	}
	for _, st := range steps {
		got, err := s.AcquireJobLease(ctx, "phaseout", st.owner, st.now, st.until)
		must(t, err)
		if got != st.want {
			t.Errorf("%s: AcquireJobLease = %v, want %v", st.what, got, st.want)
		}
	}
	// Other jobs have leases of their own.
	if ok, err := s.AcquireJobLease(ctx, "other", "node-a", at(2*time.Minute), at(4*time.Minute)); err != nil || !ok {
		t.Errorf("AcquireJobLease of another job = %v, %v; want true", ok, err)
	}
	must(t, s.ReleaseJobLease(ctx, "phaseout", "node-a")) // not the holder: nothing
	if ok, _ := s.AcquireJobLease(ctx, "phaseout", "node-a", at(2*time.Minute), at(4*time.Minute)); ok {
		t.Error("a release by a node that does not hold the lease freed it")
	}
	must(t, s.ReleaseJobLease(ctx, "phaseout", "node-b"))
	if ok, err := s.AcquireJobLease(ctx, "phaseout", "node-a", at(2*time.Minute), at(4*time.Minute)); err != nil || !ok {
		t.Errorf("AcquireJobLease after the holder released it = %v, %v; want true", ok, err)
	}
}

func testJobLeaseConcurrent(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const n = 8
	var wg sync.WaitGroup
	won := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := string(rune('a' + i))
			ok, err := s.AcquireJobLease(ctx, "race", owner, t0, at(time.Minute))
			if err != nil {
				t.Errorf("AcquireJobLease(%s): %v", owner, err)
			}
			if ok {
				won <- owner
			}
		}()
	}
	wg.Wait()
	close(won)
	var winners []string
	for w := range won {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Errorf("%d nodes acquired one free lease at once (%v), want exactly 1", len(winners), winners)
	}
}

func testActiveKeysOfKind(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bart")
	k1 := newKey(t, s, a.ID, "tokencard", "A1")
	newKey(t, s, a.ID, "totp", "")
	k3 := newKey(t, s, b.ID, "tokencard", "B1")
	k4 := newKey(t, s, b.ID, "tokencard", "B2")
	must(t, s.SetKeyStatus(ctx, k3.ID, store.KeyDeactivated, "citizen", t0))
	var got []int64
	after := int64(0)
	for {
		page, err := s.ListActiveKeysOfKind(ctx, "tokencard", after, 1)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, k := range page {
			if k.Kind != "tokencard" || k.Status != store.KeyActive {
				t.Errorf("listed %s key %d in state %s", k.Kind, k.ID, k.Status)
			}
			got = append(got, k.ID)
		}
		after = page[len(page)-1].ID
	}
	if d := diff([]int64{k1.ID, k4.ID}, got); d != "" {
		t.Errorf("active token keys, a page of one at a time (-want +got):\n%s", d)
	}
}

func testUnusedKeys(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	usedOld := newKey(t, s, a.ID, "tokencard", "1") // activated t0, used at t0+1h
	must(t, s.TouchKey(ctx, usedOld.ID, at(time.Hour)))
	usedNew := newKey(t, s, a.ID, "tokencard", "2") // used at t0+3h
	must(t, s.TouchKey(ctx, usedNew.ID, at(3*time.Hour)))
	never := newKey(t, s, a.ID, "tokencard", "3") // never used, activated t0
	gone := newKey(t, s, a.ID, "tokencard", "4")
	must(t, s.SetKeyStatus(ctx, gone.ID, store.KeyDeactivated, "citizen", t0))
	newKey(t, s, a.ID, "totp", "") // another kind
	got, err := s.ListUnusedKeys(ctx, "tokencard", at(2*time.Hour), 0, 0)
	must(t, err)
	if d := diff([]int64{usedOld.ID, never.ID}, keyIDs(got)); d != "" {
		t.Errorf("keys unused since t0+2h (-want +got):\n%s", d)
	}
	got, err = s.ListUnusedKeys(ctx, "tokencard", at(time.Hour), 0, 0)
	must(t, err)
	if d := diff([]int64{never.ID}, keyIDs(got)); d != "" {
		t.Errorf("keys unused since t0+1h, a last use at that instant being a use (-want +got):\n%s", d)
	}
	got, err = s.ListUnusedKeys(ctx, "tokencard", at(4*time.Hour), usedOld.ID, 1)
	must(t, err)
	if d := diff([]int64{usedNew.ID}, keyIDs(got)); d != "" {
		t.Errorf("a page of one after the first (-want +got):\n%s", d)
	}
}

func testUnusedWarningOnce(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	k := newKey(t, s, a.ID, "tokencard", "1")
	for _, st := range []struct {
		what          string
		due, deadline time.Time
		want          bool
	}{
		{"the first warning", at(24 * time.Hour), at(24 * time.Hour), true},
		{"the same warning again", at(24 * time.Hour), at(24 * time.Hour), false},
		{"a warning for a later deadline (used meanwhile)", at(48 * time.Hour), at(48 * time.Hour), true},
		{"that one again", at(48 * time.Hour), at(48 * time.Hour), false},
		{"a late warning postpones the deadline", at(72 * time.Hour), at(400 * time.Hour), true},
		{"the same due date again, a later run", at(72 * time.Hour), at(420 * time.Hour), false},
	} {
		got, err := s.MarkUnusedWarning(ctx, k.ID, st.due, st.deadline)
		must(t, err)
		if got != st.want {
			t.Errorf("%s: MarkUnusedWarning = %v, want %v", st.what, got, st.want)
		}
	}
	if got, err := s.GetKey(ctx, k.ID); err != nil || !got.UnusedWarnedFor.Equal(at(400*time.Hour)) {
		t.Errorf("UnusedWarnedFor = %v, %v; want the postponed deadline", got.UnusedWarnedFor, err)
	}
}

// keyIDs returns the IDs of ks in order.
func keyIDs(ks []store.Key) []int64 {
	out := make([]int64, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

func testCountStranded(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	onlyToken := newAccount(t, s, "anna")
	newKey(t, s, onlyToken.ID, "tokencard", "A")
	newKey(t, s, onlyToken.ID, "password", "")
	both := newAccount(t, s, "bart")
	newKey(t, s, both.ID, "tokencard", "B")
	newKey(t, s, both.ID, "totp", "")
	deadOther := newAccount(t, s, "carla")
	newKey(t, s, deadOther.ID, "tokencard", "C")
	e := newKey(t, s, deadOther.ID, "emailcode", "")
	must(t, s.SetKeyStatus(ctx, e.ID, store.KeyDeactivated, "citizen", t0))
	twoCards := newAccount(t, s, "dirk")
	newKey(t, s, twoCards.ID, "tokencard", "D1")
	newKey(t, s, twoCards.ID, "tokencard", "D2")
	noToken := newAccount(t, s, "els")
	newKey(t, s, noToken.ID, "totp", "")
	for _, tc := range []struct {
		others []string
		want   int64
	}{
		{[]string{"emailcode", "totp"}, 3}, // anna, carla (her e-mail key is deactivated), dirk once
		{[]string{"emailcode"}, 4},
		{nil, 4},
	} {
		got, err := s.CountStranded(ctx, "tokencard", tc.others)
		must(t, err)
		if got != tc.want {
			t.Errorf("CountStranded(tokencard, %v) = %d, want %d", tc.others, got, tc.want)
		}
	}
}
