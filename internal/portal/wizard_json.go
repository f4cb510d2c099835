package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

// wizardSnapshot is the stored form of a Wizard (session data). It is private: only the
// wizard reads and writes it, and Unmarshal refuses a snapshot the transitions could not have
// produced.
type wizardSnapshot struct {
	ID           string               `json:"id"`
	AccountID    int64                `json:"account_id"`
	Step         Step                 `json:"step"`
	StartedAt    time.Time            `json:"started_at"`
	ExpiresAt    time.Time            `json:"expires_at"`
	Change       *emailChangeSnapshot `json:"change,omitempty"`
	EmailChanged bool                 `json:"email_changed,omitempty"`
	Kind         string               `json:"kind,omitempty"`
	Enrolment    *keys.Enrolment      `json:"enrolment,omitempty"`
	Token        int64                `json:"token,omitempty"`
	KeyID        int64                `json:"key_id,omitempty"`
	Replace      int64                `json:"replace,omitempty"`
	Skip         int64                `json:"skip,omitempty"`
}

// MarshalJSON stores the wizard.
func (w *Wizard) MarshalJSON() ([]byte, error) {
	s := wizardSnapshot{ID: w.id, AccountID: w.accountID, Step: w.step, StartedAt: w.startedAt, ExpiresAt: w.expiresAt,
		EmailChanged: w.emailChanged, Kind: w.kind, Enrolment: w.enrolment, Token: w.token, KeyID: w.keyID, Replace: w.replace, Skip: w.skip}
	if w.change != nil {
		c := w.change.snapshot()
		s.Change = &c
	}
	return json.Marshal(s)
}

// UnmarshalJSON restores a wizard, refusing one that is inconsistent.
func (w *Wizard) UnmarshalJSON(b []byte) error {
	var s wizardSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("wizard: %w", err)
	}
	var problems []error
	if s.ID == "" || s.AccountID <= 0 || !s.Step.valid() || s.StartedAt.IsZero() || !s.ExpiresAt.After(s.StartedAt) {
		problems = append(problems, errors.New("id, account, step or times missing"))
	}
	switch s.Step {
	case StepEmailCode:
		if s.Change == nil {
			problems = append(problems, errors.New("waiting for an e-mail code without a change"))
		}
	case StepPrepare:
		if s.Kind == "" {
			problems = append(problems, errors.New("preparing without a kind"))
		}
	case StepActivate:
		if s.Kind == "" || s.Enrolment == nil || s.Enrolment.Kind != s.Kind || s.Token <= 0 {
			problems = append(problems, errors.New("activating without a matching enrolment and token"))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("wizard: %w", err)
	}
	*w = Wizard{id: s.ID, accountID: s.AccountID, step: s.Step, startedAt: s.StartedAt, expiresAt: s.ExpiresAt,
		emailChanged: s.EmailChanged, kind: s.Kind, enrolment: s.Enrolment, token: s.Token, keyID: s.KeyID, replace: s.Replace, skip: s.Skip}
	if s.Change != nil {
		c, err := s.Change.restore()
		if err != nil {
			return fmt.Errorf("wizard: %w", err)
		}
		w.change = c
	}
	return nil
}
