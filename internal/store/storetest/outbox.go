package storetest

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var outboxTests = []test{
	{"EnqueueAndGet", testOutboxEnqueueAndGet},
	{"ClaimDue", testOutboxClaimDue},
	{"ClaimLimit", testOutboxClaimLimit},
	{"Lease", testOutboxLease},
	{"RetryFailRequeue", testOutboxRetryFailRequeue},
	{"RequeueFailed", testOutboxRequeueFailed},
	{"CodeFailed", testOutboxCodeFailed},
	{"ExpireSecrets", testOutboxExpireSecrets},
	{"List", testOutboxList},
	{"RecentOfAccount", testOutboxRecentOfAccount},
	{"Status", testOutboxStatus},
	{"NotFound", testOutboxNotFound},
}

// lease is how long the suite's claims hold.
const lease = 5 * time.Minute

func testOutboxEnqueueAndGet(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	m := enqueue(t, s, newMessage(1, t0))
	if m.ID == 0 || m.State != store.MessagePending {
		t.Errorf("Enqueue filled ID %d, State %q; want an ID and pending", m.ID, m.State)
	}
	got, err := s.GetMessage(ctx, m.ID)
	must(t, err)
	if d := diff(m, got); d != "" {
		t.Errorf("GetMessage (-want +got):\n%s", d)
	}

	held := newMessage(2, t0)
	held.State = store.MessageHeld
	held = enqueue(t, s, held)
	got, err = s.GetMessage(ctx, held.ID)
	must(t, err)
	if got.State != store.MessageHeld {
		t.Errorf("held message stored as %q", got.State)
	}

	noTime := newMessage(3, time.Time{})
	noTime.CreatedAt = time.Time{}
	noTime = enqueue(t, s, noTime)
	if noTime.CreatedAt.IsZero() {
		t.Error("Enqueue left CreatedAt zero")
	}
}

func testOutboxClaimDue(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	due := enqueue(t, s, newMessage(1, t0))
	enqueue(t, s, newMessage(2, at(time.Minute))) // not yet due
	overdue := enqueue(t, s, newMessage(3, at(-time.Minute)))
	held := newMessage(4, time.Time{})
	held.State = store.MessageHeld
	enqueue(t, s, held)
	immediate := enqueue(t, s, newMessage(5, time.Time{}))
	for _, state := range []store.MessageState{store.MessageSent, store.MessageFailed} {
		m := newMessage(6, time.Time{})
		m.State = state
		enqueue(t, s, m)
	}

	got, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 10)
	must(t, err)
	if d := diff([]int64{immediate.ID, overdue.ID, due.ID}, ids(got)); d != "" {
		t.Fatalf("claimed IDs, oldest due first (-want +got):\n%s", d)
	}
	for i, want := range []store.Message{immediate, overdue, due} {
		want.State, want.LeaseOwner, want.LeaseUntil, want.Attempts = store.MessageSending, "node-a", at(lease), 1
		if d := diff(want, got[i]); d != "" {
			t.Errorf("claimed message %d (-want +got):\n%s", want.ID, d)
		}
		stored, err := s.GetMessage(ctx, want.ID)
		must(t, err)
		if d := diff(want, stored); d != "" {
			t.Errorf("stored claimed message %d (-want +got):\n%s", want.ID, d)
		}
	}
	// While the lease holds, nobody else gets them.
	again, err := s.ClaimMessages(ctx, "node-b", at(30*time.Second), at(2*lease), 10)
	must(t, err)
	if d := diff([]int64{}, ids(again)); d != "" {
		t.Errorf("second claim while the leases hold, before message 2 is due (-want +got):\n%s", d)
	}
}

func testOutboxClaimLimit(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var all []int64
	for i := range 5 {
		all = append(all, enqueue(t, s, newMessage(i, t0)).ID)
	}
	none, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 0)
	must(t, err)
	if len(none) != 0 {
		t.Errorf("ClaimMessages with limit 0 claimed %d", len(none))
	}
	first, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 2)
	must(t, err)
	if d := diff(all[:2], ids(first)); d != "" {
		t.Errorf("first claim of 2 (-want +got):\n%s", d)
	}
	rest, err := s.ClaimMessages(ctx, "node-b", t0, at(lease), 10)
	must(t, err)
	if d := diff(all[2:], ids(rest)); d != "" {
		t.Errorf("second claim (-want +got):\n%s", d)
	}
}

func testOutboxLease(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	m := enqueue(t, s, newMessage(1, t0))
	claimed, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 10)
	must(t, err)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d messages, want 1", len(claimed))
	}
	wantErr(t, "MarkSent by a node without the lease", s.MarkSent(ctx, m.ID, "node-b", t0), store.ErrNotFound)
	wantErr(t, "RetryLater by a node without the lease", s.RetryLater(ctx, m.ID, "node-b", at(time.Hour), "x"), store.ErrNotFound)
	wantErr(t, "MarkFailed by a node without the lease", s.MarkFailed(ctx, m.ID, "node-b", "x"), store.ErrNotFound)
	got, err := s.GetMessage(ctx, m.ID)
	must(t, err)
	if got.State != store.MessageSending || got.LeaseOwner != "node-a" {
		t.Errorf("after refused updates: state %s, owner %q; want sending by node-a", got.State, got.LeaseOwner)
	}

	// node-a dies; once its lease ends node-b takes the message over.
	reclaimed, err := s.ClaimMessages(ctx, "node-b", at(lease), at(2*lease), 10)
	must(t, err)
	if len(reclaimed) != 1 || reclaimed[0].ID != m.ID || reclaimed[0].LeaseOwner != "node-b" || reclaimed[0].Attempts != 2 ||
		!reclaimed[0].LeaseUntil.Equal(at(2*lease)) {
		t.Fatalf("reclaim after the lease ended = %+v, want message %d leased to node-b until %v, attempt 2", reclaimed, m.ID, at(2*lease))
	}
	wantErr(t, "MarkSent by the node whose lease expired", s.MarkSent(ctx, m.ID, "node-a", at(lease)), store.ErrNotFound)

	must(t, s.MarkSent(ctx, m.ID, "node-b", at(lease+time.Second)))
	got, err = s.GetMessage(ctx, m.ID)
	must(t, err)
	if got.State != store.MessageSent || !got.SentAt.Equal(at(lease+time.Second)) {
		t.Errorf("after MarkSent: state %s, sent at %v", got.State, got.SentAt)
	}
	if got.TextBody != "" || got.HTMLBody != "" || got.Subject == "" || got.MessageID == "" {
		t.Errorf("after MarkSent the bodies should be gone and the envelope kept: %+v", got)
	}
	wantErr(t, "MarkSent of a sent message", s.MarkSent(ctx, m.ID, "node-b", at(lease)), store.ErrNotFound)
	after, err := s.ClaimMessages(ctx, "node-c", at(10*lease), at(11*lease), 10)
	must(t, err)
	if len(after) != 0 {
		t.Errorf("a sent message was claimed again: %v", ids(after))
	}
}

func testOutboxRetryFailRequeue(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	m := enqueue(t, s, newMessage(1, t0))
	_, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 1)
	must(t, err)
	must(t, s.RetryLater(ctx, m.ID, "node-a", at(10*time.Minute), "451 4.7.1 try again later"))
	got, err := s.GetMessage(ctx, m.ID)
	must(t, err)
	if got.State != store.MessagePending || !got.NextAttemptAt.Equal(at(10*time.Minute)) ||
		got.LastError != "451 4.7.1 try again later" || got.LeaseOwner != "" || got.Attempts != 1 {
		t.Errorf("after RetryLater = %+v", got)
	}
	early, err := s.ClaimMessages(ctx, "node-a", at(9*time.Minute), at(20*time.Minute), 10)
	must(t, err)
	if len(early) != 0 {
		t.Errorf("claimed before NextAttemptAt: %v", ids(early))
	}
	claimed, err := s.ClaimMessages(ctx, "node-a", at(10*time.Minute), at(20*time.Minute), 10)
	must(t, err)
	if len(claimed) != 1 || claimed[0].Attempts != 2 {
		t.Fatalf("claim at NextAttemptAt = %+v, want the message with attempt 2", claimed)
	}

	must(t, s.MarkFailed(ctx, m.ID, "node-a", "550 5.1.1 no such user"))
	got, err = s.GetMessage(ctx, m.ID)
	must(t, err)
	if got.State != store.MessageFailed || got.LastError != "550 5.1.1 no such user" || got.LeaseOwner != "" {
		t.Errorf("after MarkFailed = %+v", got)
	}
	none, err := s.ClaimMessages(ctx, "node-a", at(time.Hour), at(2*time.Hour), 10)
	must(t, err)
	if len(none) != 0 {
		t.Errorf("a failed message was claimed: %v", ids(none))
	}

	must(t, s.RequeueMessage(ctx, m.ID, at(time.Hour)))
	got, err = s.GetMessage(ctx, m.ID)
	must(t, err)
	if got.State != store.MessagePending || !got.NextAttemptAt.Equal(at(time.Hour)) {
		t.Errorf("after RequeueMessage: state %s, next attempt %v; want pending at %v", got.State, got.NextAttemptAt, at(time.Hour))
	}
	wantErr(t, "RequeueMessage of a pending message", s.RequeueMessage(ctx, m.ID, at(time.Hour)), store.ErrConflict)

	held := newMessage(2, time.Time{})
	held.State = store.MessageHeld
	held = enqueue(t, s, held)
	must(t, s.RequeueMessage(ctx, held.ID, at(time.Hour)))
	got, err = s.GetMessage(ctx, held.ID)
	must(t, err)
	if got.State != store.MessagePending {
		t.Errorf("held message after RequeueMessage: %s, want pending", got.State)
	}
}

func testOutboxRequeueFailed(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var failed []int64
	for i := range 4 {
		failed = append(failed, enqueue(t, s, newMessage(i, t0)).ID)
	}
	keep := enqueue(t, s, newMessage(9, at(time.Hour)))
	held := newMessage(10, t0)
	held.State = store.MessageHeld
	held = enqueue(t, s, held)
	_, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 10)
	must(t, err)
	for _, id := range failed {
		must(t, s.MarkFailed(ctx, id, "node-a", "550 rejected"))
	}
	n, skipped, err := s.RequeueFailed(ctx, at(time.Minute))
	must(t, err)
	if n != 4 || skipped != 0 {
		t.Errorf("RequeueFailed = %d requeued, %d skipped; want 4, 0", n, skipped)
	}
	for _, id := range failed {
		got, err := s.GetMessage(ctx, id)
		must(t, err)
		if got.State != store.MessagePending || !got.NextAttemptAt.Equal(at(time.Minute)) {
			t.Errorf("message %d after RequeueFailed: %s due %v", id, got.State, got.NextAttemptAt)
		}
	}
	for _, m := range []store.Message{keep, held} {
		got, err := s.GetMessage(ctx, m.ID)
		must(t, err)
		if got.State != m.State {
			t.Errorf("message %d changed from %s to %s", m.ID, m.State, got.State)
		}
	}
	n, skipped, err = s.RequeueFailed(ctx, at(time.Minute))
	must(t, err)
	if n != 0 || skipped != 0 {
		t.Errorf("second RequeueFailed = %d requeued, %d skipped; want 0, 0", n, skipped)
	}
	// Requeued messages are delivered afresh.
	claimed, err := s.ClaimMessages(ctx, "node-b", at(time.Minute), at(time.Minute+lease), 10)
	must(t, err)
	if d := diff(failed, ids(claimed)); d != "" {
		t.Errorf("claim after RequeueFailed (-want +got):\n%s", d)
	}
}

func testOutboxList(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var all []int64
	for i := range 4 {
		all = append(all, enqueue(t, s, newMessage(i, t0)).ID)
	}
	got, err := s.ListMessages(ctx, 2)
	must(t, err)
	if d := diff([]int64{all[3], all[2]}, ids(got)); d != "" {
		t.Errorf("ListMessages(2), newest first (-want +got):\n%s", d)
	}
	got, err = s.ListMessages(ctx, 0)
	must(t, err)
	if d := diff([]int64{all[3], all[2], all[1], all[0]}, ids(got)); d != "" {
		t.Errorf("ListMessages(0) (-want +got):\n%s", d)
	}
}

func testOutboxStatus(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	st, err := s.OutboxStatus(ctx)
	must(t, err)
	if !st.OldestPending.IsZero() {
		t.Errorf("empty outbox: oldest pending %v, want zero", st.OldestPending)
	}
	for state, n := range st.Counts {
		if n != 0 {
			t.Errorf("empty outbox: %d %s", n, state)
		}
	}

	add := func(n int, created time.Time, state store.MessageState) store.Message {
		m := newMessage(n, t0)
		m.CreatedAt, m.State = created, state
		return enqueue(t, s, m)
	}
	add(1, at(-time.Hour), store.MessagePending) // claimed below (lowest ID): no longer pending
	add(2, at(2*time.Minute), store.MessagePending)
	add(3, at(3*time.Minute), store.MessagePending)
	add(4, at(-time.Hour), store.MessageHeld)
	add(5, at(time.Minute), store.MessagePending)
	add(6, at(-2*time.Hour), store.MessageSent)
	add(7, at(-2*time.Hour), store.MessageFailed)
	add(8, at(-2*time.Hour), store.MessageFailed)
	claimed, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 1)
	must(t, err)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d, want 1", len(claimed))
	}

	st, err = s.OutboxStatus(ctx)
	must(t, err)
	want := map[store.MessageState]int{
		store.MessagePending: 3,
		store.MessageSending: 1,
		store.MessageSent:    1,
		store.MessageFailed:  2,
		store.MessageHeld:    1,
	}
	for state, n := range want {
		if st.Counts[state] != n {
			t.Errorf("OutboxStatus: %d %s, want %d", st.Counts[state], state, n)
		}
	}
	// All pending messages share NextAttemptAt, so the claim took the lowest ID, created an hour ago.
	if !st.OldestPending.Equal(at(time.Minute)) {
		t.Errorf("OutboxStatus: oldest pending %v, want %v", st.OldestPending, at(time.Minute))
	}
}

func testOutboxNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	missing := enqueue(t, s, newMessage(1, t0)).ID + 1000
	_, err := s.GetMessage(ctx, missing)
	wantErr(t, "GetMessage", err, store.ErrNotFound)
	wantErr(t, "MarkSent", s.MarkSent(ctx, missing, "node-a", t0), store.ErrNotFound)
	wantErr(t, "RetryLater", s.RetryLater(ctx, missing, "node-a", t0, "x"), store.ErrNotFound)
	wantErr(t, "MarkFailed", s.MarkFailed(ctx, missing, "node-a", "x"), store.ErrNotFound)
	wantErr(t, "RequeueMessage", s.RequeueMessage(ctx, missing, t0), store.ErrNotFound)
}

// codeMessage returns a message numbered n that carries a code valid until until.
func codeMessage(n int, next, until time.Time) store.Message {
	m := newMessage(n, next)
	m.SecretUntil = until
	return m
}

// wantBodies checks whether message id still has its bodies.
func wantBodies(t *testing.T, s store.Store, what string, id int64, kept bool) store.Message {
	t.Helper()
	got, err := s.GetMessage(ctxOf(t), id)
	must(t, err)
	if has := got.TextBody != "" || got.HTMLBody != ""; has != kept {
		t.Errorf("%s: bodies kept = %v, want %v (text %q, html %q)", what, has, kept, got.TextBody, got.HTMLBody)
	}
	return got
}

// testOutboxCodeFailed: a message that carries a code loses its bodies when it fails for good and
// is never sent again — neither by RequeueMessage nor by RequeueFailed, which says how many it
// skipped. A message without a code keeps its bodies and is requeued.
func testOutboxCodeFailed(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	code := enqueue(t, s, codeMessage(1, t0, at(5*time.Minute)))
	plain := enqueue(t, s, newMessage(2, t0))
	got, err := s.GetMessage(ctx, code.ID)
	must(t, err)
	if !got.SecretUntil.Equal(at(5 * time.Minute)) {
		t.Errorf("SecretUntil = %v, want %v", got.SecretUntil, at(5*time.Minute))
	}
	_, err = s.ClaimMessages(ctx, "node-a", t0, at(lease), 10)
	must(t, err)
	must(t, s.MarkFailed(ctx, code.ID, "node-a", "550 rejected"))
	must(t, s.MarkFailed(ctx, plain.ID, "node-a", "550 rejected"))
	got = wantBodies(t, s, "failed code message", code.ID, false)
	if got.State != store.MessageFailed || got.LastError != "550 rejected" {
		t.Errorf("failed code message: %s, %q", got.State, got.LastError)
	}
	wantBodies(t, s, "failed message without a code", plain.ID, true)

	// The code is still valid, but its text is gone: nothing to send.
	wantErr(t, "RequeueMessage of a failed code message", s.RequeueMessage(ctx, code.ID, at(time.Minute)), store.ErrSecretGone)
	n, skipped, err := s.RequeueFailed(ctx, at(time.Minute))
	must(t, err)
	if n != 1 || skipped != 1 {
		t.Errorf("RequeueFailed = %d requeued, %d skipped; want 1, 1", n, skipped)
	}
	if got, err := s.GetMessage(ctx, code.ID); err != nil || got.State != store.MessageFailed {
		t.Errorf("code message after RequeueFailed: %+v, %v; want it failed", got, err)
	}
	claimed, err := s.ClaimMessages(ctx, "node-b", at(time.Minute), at(time.Minute+lease), 10)
	must(t, err)
	if d := diff([]int64{plain.ID}, ids(claimed)); d != "" {
		t.Errorf("claim after RequeueFailed (-want +got):\n%s", d)
	}
}

// testOutboxExpireSecrets: once a message's code expired its bodies go, in every state; one still
// waiting to be sent fails, a held one stays held (the development mailbox lists it), and none of
// them can be requeued. A message without a code, or whose code is still valid, is untouched.
func testOutboxExpireSecrets(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	expiry := at(5 * time.Minute)
	sending := enqueue(t, s, codeMessage(1, t0, expiry))
	_, err := s.ClaimMessages(ctx, "node-a", t0, at(lease), 10)
	must(t, err)
	pending := enqueue(t, s, codeMessage(2, at(time.Minute), expiry))
	heldMsg := codeMessage(3, t0, expiry)
	heldMsg.State = store.MessageHeld
	held := enqueue(t, s, heldMsg)
	laterMsg := codeMessage(4, t0, at(10*time.Minute))
	laterMsg.State = store.MessageHeld
	later := enqueue(t, s, laterMsg)
	plain := enqueue(t, s, newMessage(5, at(time.Hour)))

	// An expired code is refused even before the sweep removed its text.
	wantErr(t, "RequeueMessage of a held message whose code expired", s.RequeueMessage(ctx, held.ID, expiry), store.ErrSecretGone)

	n, err := s.ExpireSecrets(ctx, expiry.Add(-time.Microsecond))
	must(t, err)
	if n != 0 {
		t.Errorf("ExpireSecrets before the expiry changed %d messages", n)
	}
	n, err = s.ExpireSecrets(ctx, expiry)
	must(t, err)
	if n != 3 {
		t.Errorf("ExpireSecrets changed %d messages, want 3", n)
	}
	for _, c := range []struct {
		what  string
		m     store.Message
		state store.MessageState
		kept  bool
	}{
		{"sending", sending, store.MessageSending, false},
		{"pending", pending, store.MessageFailed, false},
		{"held", held, store.MessageHeld, false},
		{"held, code still valid", later, store.MessageHeld, true},
		{"without a code", plain, store.MessagePending, true},
	} {
		got := wantBodies(t, s, c.what, c.m.ID, c.kept)
		if got.State != c.state {
			t.Errorf("%s: state %s, want %s", c.what, got.State, c.state)
		}
	}
	if got, err := s.GetMessage(ctx, pending.ID); err != nil || got.LastError != store.CodeExpiredBeforeDelivery {
		t.Errorf("pending message failed with %q, %v; want %q", got.LastError, err, store.CodeExpiredBeforeDelivery)
	}
	wantErr(t, "RequeueMessage of an expired held message", s.RequeueMessage(ctx, held.ID, at(6*time.Minute)), store.ErrSecretGone)
	must(t, s.RequeueMessage(ctx, later.ID, at(6*time.Minute)))
	n, err = s.ExpireSecrets(ctx, expiry)
	must(t, err)
	if n != 0 {
		t.Errorf("a second ExpireSecrets changed %d messages", n)
	}
}

func testOutboxRecentOfAccount(t *testing.T, s store.Store) {
	a := newAccount(t, s, "recent-mail")
	var mine []int64
	for i, tmpl := range []string{"logon_code", "key_activated", "logon_code", "welcome"} {
		m := newMessage(i+1, t0)
		m.AccountID, m.Template = a.ID, tmpl
		mine = append(mine, enqueue(t, s, m).ID)
		enqueue(t, s, newMessage(100+i, t0)) // nobody's
	}
	for _, c := range []struct {
		template string
		limit    int
		want     []int64
	}{
		{"", 0, []int64{mine[3], mine[2], mine[1], mine[0]}},
		{"", 1, []int64{mine[3]}},
		{"logon_code", 0, []int64{mine[2], mine[0]}},
		{"logon_code", 1, []int64{mine[2]}},
		{"nothing", 0, nil},
	} {
		got, err := s.RecentAccountMessages(ctxOf(t), a.ID, c.template, c.limit)
		must(t, err)
		var ids []int64
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		if d := diff(c.want, ids); d != "" {
			t.Errorf("RecentAccountMessages(%q, %d) (-want +got):\n%s", c.template, c.limit, d)
		}
	}
}
