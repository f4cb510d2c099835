package portal

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// wizardAt returns a wizard standing at step, as the transitions would have left it.
func wizardAt(step Step) *Wizard {
	w := NewWizard("w1", 7, t0, 30*time.Minute)
	e := keys.Enrolment{Kind: "emailcode", StartedAt: t0, ExpiresAt: t0.Add(5 * time.Minute), State: "{}"}
	switch step {
	case StepEmailCode:
		w.step, w.change = step, &EmailChange{accountID: 7, address: "new@example.org", codeID: 3, sentAt: t0, expiresAt: t0.Add(5 * time.Minute)}
	case StepSelect:
		w.step = step
	case StepPrepare:
		w.step, w.kind = step, "totp"
	case StepActivate:
		w.step, w.kind, w.enrolment, w.token = step, "emailcode", &e, 9
	case StepDone:
		w.step, w.kind, w.keyID = step, "emailcode", 12
	}
	return w
}

var allSteps = []Step{StepEmail, StepEmailCode, StepSelect, StepPrepare, StepActivate, StepDone}

// transition is one transition of the wizard, applied at now.
type transition struct {
	name string
	do   func(w *Wizard, now time.Time) error
	// from lists the steps it may be taken from, and to the step it leads to from each.
	to map[Step]Step
}

var transitions = []transition{
	{"ConfirmEmail", func(w *Wizard, now time.Time) error { return w.ConfirmEmail(now) },
		map[Step]Step{StepEmail: StepSelect}},
	{"AwaitEmailCode", func(w *Wizard, now time.Time) error {
		return w.AwaitEmailCode(&EmailChange{accountID: 7, address: "x@example.org", codeID: 1}, now)
	}, map[Step]Step{StepEmail: StepEmailCode}},
	{"EmailConfirmed", func(w *Wizard, now time.Time) error { return w.EmailConfirmed(now) },
		map[Step]Step{StepEmailCode: StepEmail}},
	{"Prepare", func(w *Wizard, now time.Time) error { return w.Prepare("totp", now) },
		map[Step]Step{StepSelect: StepPrepare}},
	{"Begin", func(w *Wizard, now time.Time) error {
		return w.Begin("totp", keys.Enrolment{Kind: "totp", StartedAt: now, ExpiresAt: now.Add(time.Minute)}, 4, now)
	}, map[Step]Step{StepSelect: StepActivate, StepPrepare: StepActivate}},
	{"Resent", func(w *Wizard, now time.Time) error {
		return w.Resent(keys.Enrolment{Kind: "emailcode", StartedAt: t0, ExpiresAt: now.Add(5 * time.Minute)}, now)
	}, map[Step]Step{StepActivate: StepActivate}},
	{"Finish", func(w *Wizard, now time.Time) error { return w.Finish(12, now) },
		map[Step]Step{StepActivate: StepDone}},
	{"Abandon", func(w *Wizard, now time.Time) error { return w.Abandon(now) },
		map[Step]Step{StepActivate: StepSelect}},
	{"Back", func(w *Wizard, now time.Time) error { return w.Back(now) },
		map[Step]Step{StepEmailCode: StepEmail, StepSelect: StepEmail, StepPrepare: StepSelect, StepActivate: StepSelect}},
}

// TestWizardTransitions takes every transition from every step: allowed ones land where they
// should, every other one is refused with ErrOutOfOrder and changes nothing.
func TestWizardTransitions(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Minute)
	for _, tr := range transitions {
		for _, from := range allSteps {
			w := wizardAt(from)
			before, _ := json.Marshal(w)
			err := tr.do(w, now)
			want, allowed := tr.to[from]
			switch {
			case allowed && err != nil:
				t.Errorf("%s from %s: %v, want it allowed", tr.name, from, err)
			case allowed && w.Step() != want:
				t.Errorf("%s from %s: at %s, want %s", tr.name, from, w.Step(), want)
			case !allowed && !errors.Is(err, ErrOutOfOrder):
				t.Errorf("%s from %s: %v, want %v", tr.name, from, err, ErrOutOfOrder)
			case !allowed:
				if after, _ := json.Marshal(w); string(after) != string(before) {
					t.Errorf("%s from %s was refused but changed the wizard:\n%s\n%s", tr.name, from, before, after)
				}
			}
		}
	}
}

func TestWizardTransitionEffects(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Minute)
	w := wizardAt(StepEmailCode)
	if err := w.EmailConfirmed(now); err != nil || w.PendingEmail() != nil || !w.EmailChanged() {
		t.Errorf("EmailConfirmed: %v, pending %v, changed %v", err, w.PendingEmail(), w.EmailChanged())
	}
	if err := w.ConfirmEmail(now); err != nil || w.EmailChanged() {
		t.Errorf("ConfirmEmail: %v, changed notice kept %v", err, w.EmailChanged())
	}
	if err := w.Prepare("totp", now); err != nil || w.Kind() != "totp" {
		t.Fatalf("Prepare: %v, kind %q", err, w.Kind())
	}
	// Preparing one kind and beginning another is out of order.
	if err := w.Begin("emailcode", keys.Enrolment{Kind: "emailcode"}, 1, now); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Begin of another kind after Prepare: %v", err)
	}
	if err := w.Begin("totp", keys.Enrolment{Kind: "totp", ExpiresAt: now.Add(time.Minute)}, 5, now); err != nil {
		t.Fatal(err)
	}
	if e, ok := w.Enrolment(); !ok || e.Kind != "totp" || w.token != 5 {
		t.Errorf("after Begin: enrolment %+v %v, token %d", e, ok, w.token)
	}
	if err := w.Resent(keys.Enrolment{Kind: "emailcode"}, now); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Resent with another kind's enrolment: %v", err)
	}
	if err := w.Back(now); err != nil || w.Step() != StepSelect || w.Kind() != "" || w.token != 0 {
		t.Errorf("Back from activate: %v; step %s kind %q token %d", err, w.Step(), w.Kind(), w.token)
	}
	if _, ok := w.Enrolment(); ok {
		t.Error("Back kept the enrolment")
	}
	w = wizardAt(StepActivate)
	if err := w.Finish(12, now); err != nil || w.KeyID() != 12 {
		t.Fatalf("Finish: %v, key %d", err, w.KeyID())
	}
	if _, ok := w.Enrolment(); ok {
		t.Error("a finished wizard keeps its enrolment")
	}
	// Back after the confirmation never re-enters the activation.
	if err := w.Back(now); !errors.Is(err, ErrOutOfOrder) || w.Step() != StepDone {
		t.Errorf("Back after done: %v, at %s", err, w.Step())
	}
}

// TestWizardExpiry: with a fixed clock, every transition is refused from the moment the
// wizard expires; the confirmation stays.
func TestWizardExpiry(t *testing.T) {
	t.Parallel()
	for _, tr := range transitions {
		for from := range tr.to {
			w := wizardAt(from)
			if err := tr.do(w, w.ExpiresAt().Add(-time.Nanosecond)); err != nil {
				t.Errorf("%s from %s just before expiry: %v", tr.name, from, err)
			}
			w = wizardAt(from)
			if err := tr.do(w, w.ExpiresAt()); !errors.Is(err, ErrExpired) || w.Step() != from {
				t.Errorf("%s from %s at expiry: %v, at %s; want %v and no change", tr.name, from, err, w.Step(), ErrExpired)
			}
		}
	}
	w := wizardAt(StepDone)
	if w.Expired(w.ExpiresAt().Add(time.Hour)) {
		t.Error("a finished wizard expired")
	}
	if w := wizardAt(StepEmail); !w.Expired(w.ExpiresAt()) || w.Expired(w.ExpiresAt().Add(-time.Second)) {
		t.Error("Expired is wrong around the expiry")
	}
}

func TestStepNumbers(t *testing.T) {
	t.Parallel()
	want := map[Step]int{StepEmail: 1, StepEmailCode: 1, StepSelect: 2, StepPrepare: 3, StepActivate: 3, StepDone: 4, "other": 0}
	for s, n := range want {
		if got := s.Number(); got != n {
			t.Errorf("%s.Number() = %d, want %d", s, got, n)
		}
	}
}

func TestWizardJSON(t *testing.T) {
	t.Parallel()
	for _, step := range allSteps {
		w := wizardAt(step)
		w.replace = 44
		raw, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		var got Wizard
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: %v\n%s", step, err, raw)
		}
		again, _ := json.Marshal(&got)
		if string(again) != string(raw) {
			t.Errorf("%s: round trip\n%s\n%s", step, raw, again)
		}
		if got.Step() != step || got.Replacing() != 44 || got.ID() != "w1" || got.AccountID() != 7 {
			t.Errorf("%s: restored %+v", step, got)
		}
	}
	for name, raw := range map[string]string{
		"not json":            `{`,
		"no id":               `{"account_id":7,"step":"email","started_at":"2026-11-25T10:00:00Z","expires_at":"2026-11-25T10:30:00Z"}`,
		"unknown step":        `{"id":"w","account_id":7,"step":"teleport","started_at":"2026-11-25T10:00:00Z","expires_at":"2026-11-25T10:30:00Z"}`,
		"activate no token":   `{"id":"w","account_id":7,"step":"activate","kind":"totp","enrolment":{"kind":"totp"},"started_at":"2026-11-25T10:00:00Z","expires_at":"2026-11-25T10:30:00Z"}`,
		"activate other kind": `{"id":"w","account_id":7,"step":"activate","kind":"totp","token":3,"enrolment":{"kind":"emailcode"},"started_at":"2026-11-25T10:00:00Z","expires_at":"2026-11-25T10:30:00Z"}`,
		"code without change": `{"id":"w","account_id":7,"step":"email-code","started_at":"2026-11-25T10:00:00Z","expires_at":"2026-11-25T10:30:00Z"}`,
		"prepare no kind":     `{"id":"w","account_id":7,"step":"prepare","started_at":"2026-11-25T10:00:00Z","expires_at":"2026-11-25T10:30:00Z"}`,
		"no lifetime":         `{"id":"w","account_id":7,"step":"email","started_at":"2026-11-25T10:00:00Z","expires_at":"2026-11-25T10:00:00Z"}`,
	} {
		var w Wizard
		if err := json.Unmarshal([]byte(raw), &w); err == nil {
			t.Errorf("%s: accepted %s", name, raw)
		}
	}
}
