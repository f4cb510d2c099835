package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

const (
	// sessionCookie holds the random session id (its name gets the __Host- prefix on https).
	sessionCookie = "sid"
	// sessionIDBytes is the amount of randomness in a session id.
	sessionIDBytes = 32
	// touchEvery bounds the writes of LastSeenAt: at most one per session per interval. The
	// idle timeout is therefore measured from a last-seen time up to this much in the past.
	touchEvery = time.Minute
)

// sessionData is the web layer's part of a session, stored as JSON in store.Session.Data.
type sessionData struct {
	// Login is the logon transaction in progress, if any.
	Login *login.Transaction `json:"login,omitempty"`
	// Kind is the key kind of the completed logon ("tokencard").
	Kind string `json:"kind,omitempty"`

	// SID is the session's stable identifier for online services (the sid claim); OIDC is
	// the logon running for an authorization request (oidc_login.go).
	SID  string       `json:"sid,omitempty"`
	OIDC *oidcPending `json:"oidc,omitempty"`
	// Issued are the authorization requests this session answered (the most recent
	// maxIssued): their access tokens end with it at an online service's logout.
	Issued []string `json:"issued,omitempty"`
	// Wizard is the activation of a new key in progress (My digital keys).
	Wizard *portal.Wizard `json:"wizard,omitempty"`
	// EmailChange is the profile's change of e-mail address awaiting its code.
	EmailChange *portal.EmailChange `json:"email_change,omitempty"`
	// Signup is the self-registration in progress (register.go); After is where its citizen
	// goes once registered (an online service's request), kept until the wizard's last step
	// when the new citizen needs a stronger key for it first.
	Signup *signup.Pending `json:"signup,omitempty"`
	After  string          `json:"after,omitempty"`
	// Reset is the password reset in progress, once its link was followed (reset.go).
	Reset *recovery.Reset `json:"reset,omitempty"`
	// Recovered is the right a helpdesk recovery code leaves after its new password: to
	// activate one key in the wizard (portal.Auth.Recovery). It waits through the logon with
	// the new password and is spent by the first key activated.
	Recovered *recoveryRight `json:"recovered,omitempty"`
	// Start is the logon start this session took of its address's quota (takeStart), given
	// back when a logon completes in it.
	Start *takenStart `json:"start,omitempty"`
}

// takenStart is one use of the logon-starts quota: whose, and when it was taken.
type takenStart struct {
	Scope attempts.Scope `json:"scope"`
	At    time.Time      `json:"at"`
}

// recoveryRight lets the citizen AccountID activate one key in the wizard after a logon below
// substantial, until ExpiresAt or the session's end, whichever comes first.
type recoveryRight struct {
	AccountID int64     `json:"account_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// valid reports whether the right belongs to accountID and still holds at now.
func (r *recoveryRight) valid(accountID int64, now time.Time) bool {
	return r != nil && accountID != 0 && r.AccountID == accountID && now.Before(r.ExpiresAt)
}

// session is one server-side session as a request sees it.
type session struct {
	id     string // the cookie value; never logged
	row    store.Session
	data   sessionData
	stored bool // a row exists in the store
}

// loggedOn reports whether the session belongs to a citizen who completed a logon.
func (s *session) loggedOn() bool { return s != nil && s.row.AccountID != 0 }

// errSessionGone says the request's session row vanished while the request ran: another request
// rotated it (completed the logon), ended it (logged off), or the sweeper removed it. The
// request answers with a redirect and a notice, never an error page, and leaves the session
// cookie alone: the browser may hold the winner's new session by now.
var errSessionGone = errors.New("the session is gone")

// rotateStore is what a rotation writes in its transaction: the session rows, the audit event
// of the logon that the rotation completes, and — as a Transactor that joins the rotation's
// transaction — whatever else commits with it (the account a registration creates).
type rotateStore interface {
	store.Sessions
	audit.Appender
	store.Transactor
}

var _ rotateStore = store.Store(nil)

// sessionStore is what the session manager uses: the session rows, and a transaction to rotate
// a session id (create the new row, delete the old) in one step.
type sessionStore interface {
	store.Sessions
	store.Transactor
}

// sessionManager loads, saves, rotates and destroys sessions.
type sessionManager struct {
	store    sessionStore
	now      func() time.Time
	rand     io.Reader
	idle     time.Duration
	absolute time.Duration
	secure   bool
	cookie   string // the session cookie's name
}

// hashID is what the store keeps instead of the id.
func hashID(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// newToken returns n random bytes, base64url-encoded without padding.
func newToken(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// validToken reports whether v looks like a token of n random bytes.
func validToken(v string, n int) bool {
	if len(v) != base64.RawURLEncoding.EncodedLen(n) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

func (m *sessionManager) expired(row store.Session, now time.Time) bool {
	return now.Sub(row.LastSeenAt) >= m.idle || now.Sub(row.CreatedAt) >= m.absolute
}

// Load returns the request's session, or nil when the request has none or it expired (an
// expired session is deleted and its cookie cleared). A well-formed cookie that names no session
// returns errSessionGone: the session was rotated, ended or swept.
func (m *sessionManager) Load(ctx context.Context, w http.ResponseWriter, r *http.Request) (*session, error) {
	c, err := r.Cookie(m.cookie)
	if err != nil {
		return nil, nil
	}
	if !validToken(c.Value, sessionIDBytes) {
		m.clearCookie(w)
		return nil, nil
	}
	h := hashID(c.Value)
	row, err := m.store.GetSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		// The cookie is left alone: this may be one of several requests sent at once with
		// the pre-logon id, and the browser may already hold the new id another of them got.
		// Clearing it here would log that browser off.
		return nil, errSessionGone
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	now := m.now()
	if m.expired(row, now) {
		if err := m.store.DeleteSession(ctx, h); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("delete expired session: %w", err)
		}
		m.clearCookie(w)
		var data sessionData
		if json.Unmarshal(row.Data, &data) == nil && data.Login != nil {
			stateOf(r).expiredLogon = data.Login
		}
		return nil, nil
	}
	s := &session{id: c.Value, row: row, stored: true}
	if len(row.Data) > 0 {
		// Data written by an older release that no longer decodes is dropped: the citizen
		// starts the logon again rather than seeing an error on every request.
		if err := json.Unmarshal(row.Data, &s.data); err != nil {
			s.data = sessionData{}
		}
	}
	if now.Sub(row.LastSeenAt) >= touchEvery {
		err := m.store.TouchSession(ctx, h, now)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errSessionGone // rotated or ended since it was read, as above
		}
		if err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
		s.row.LastSeenAt = now
	}
	return s, nil
}

// New returns a fresh anonymous session; it is stored by the first Save.
func (m *sessionManager) New() *session { return &session{} }

// Save writes s, creating the row and setting the cookie when s is new.
func (m *sessionManager) Save(ctx context.Context, w http.ResponseWriter, s *session) error {
	raw, err := json.Marshal(s.data)
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	now := m.now()
	s.row.Data, s.row.LastSeenAt = raw, now
	if s.stored {
		err := m.store.UpdateSession(ctx, &s.row)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("save session: %w", errSessionGone)
		}
		if err != nil {
			return fmt.Errorf("save session: %w", err)
		}
		return nil
	}
	if s.id, err = newToken(m.rand, sessionIDBytes); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	s.row.IDHash, s.row.CreatedAt = hashID(s.id), now
	if err := m.store.CreateSession(ctx, &s.row); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	s.stored = true
	m.setCookie(w, s.id)
	return nil
}

// Rotate stores s under a new id and deletes the old row, in one transaction, so a session id
// known before a logon is worthless after it. It is called at logon and whenever the level of
// assurance changes — both fresh authentications — so the absolute lifetime restarts too.
//
// A rotation commits only when it removed the old row: of several requests rotating one
// session at once (the right code sent many times), one wins and the others get an error
// wrapping errSessionGone, with nothing written. also, when not nil, runs in the same
// transaction after the old row is gone and before the new one is written (recording the
// logon; a registration creates its account there and names it in row), so it runs for the
// winner only, and an error of also leaves everything as it was.
func (m *sessionManager) Rotate(ctx context.Context, w http.ResponseWriter, s *session, also func(st rotateStore, row *store.Session) error) error {
	if s.row.AccountID != 0 && s.data.SID == "" {
		// The logon's session gets its sid (the online services' name for it) here, in the
		// row the rotation writes: every later request reads it, so it never changes while
		// the session lasts. Given later by the first authorization, parallel authorizations
		// each made one and the last save won (and any request that saved data read before
		// it dropped it), so one session showed online services several sids.
		sid, err := newToken(m.rand, sidBytes)
		if err != nil {
			return fmt.Errorf("rotate session: %w", err)
		}
		s.data.SID = sid
	}
	raw, err := json.Marshal(s.data)
	if err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	id, err := newToken(m.rand, sessionIDBytes)
	if err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	now := m.now()
	old, oldStored := s.row.IDHash, s.stored
	row := s.row
	row.IDHash, row.CreatedAt, row.LastSeenAt, row.Data = hashID(id), now, now, raw
	err = store.InTx(ctx, m.store, func(st rotateStore) error {
		if oldStored {
			err := st.DeleteSession(ctx, old)
			if errors.Is(err, store.ErrNotFound) {
				return errSessionGone
			}
			if err != nil {
				return err
			}
		}
		if also != nil {
			if err := also(st, &row); err != nil {
				return err
			}
		}
		return st.CreateSession(ctx, &row)
	})
	if err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	s.id, s.row, s.stored = id, row, true
	m.setCookie(w, id)
	return nil
}

// Destroy deletes s (when stored) and clears the cookie.
func (m *sessionManager) Destroy(ctx context.Context, w http.ResponseWriter, s *session) error {
	m.clearCookie(w)
	if s == nil || !s.stored {
		return nil
	}
	if err := m.store.DeleteSession(ctx, s.row.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("destroy session: %w", err)
	}
	s.stored = false
	return nil
}

// sweep deletes every session past a timeout.
func (m *sessionManager) sweep(ctx context.Context) (int64, error) {
	now := m.now()
	return m.store.DeleteSessionsBefore(ctx, now.Add(-m.idle), now.Add(-m.absolute))
}

func (m *sessionManager) setCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, newCookie(m.cookie, id, 0, m.secure))
}

func (m *sessionManager) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, newCookie(m.cookie, "", -1, m.secure))
}
