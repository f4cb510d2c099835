package smtptest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/mail"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// failure is a scripted answer to the next message.
type failure struct {
	code     int
	enhanced smtp.EnhancedCode
	text     string
}

// Option configures a Server at Start.
type Option func(*Server)

// WithSTARTTLS makes the server offer STARTTLS with a self-signed certificate for 127.0.0.1;
// ClientTLSConfig returns a client configuration that trusts it.
func WithSTARTTLS() Option {
	return func(s *Server) { s.wantTLS = true }
}

// Server is an in-process SMTP server for tests. Its methods are safe for concurrent use.
type Server struct {
	t       testing.TB
	wantTLS bool

	mu        sync.Mutex
	addr      string
	srv       *smtp.Server
	listener  net.Listener
	serveDone chan struct{}
	serverTLS *tls.Config
	clientTLS *tls.Config
	user      string
	pass      string
	failures  []failure
	delay     time.Duration
	attempts  []Received
	accepted  []Received
}

// Start runs a server on 127.0.0.1 with a random port and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t}
	for _, o := range opts {
		o(s)
	}
	if s.wantTLS {
		srvCfg, cliCfg, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.serverTLS, s.clientTLS = srvCfg, cliCfg
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// Listen runs a server on addr (127.0.0.1:0 for a random port) outside a test, for the browser
// tests' mail sink (cmd/smtpsink); Stop ends it.
func Listen(addr string, opts ...Option) (*Server, error) {
	s := &Server{}
	for _, o := range opts {
		o(s)
	}
	if s.wantTLS {
		srvCfg, cliCfg, err := selfSigned()
		if err != nil {
			return nil, fmt.Errorf("smtptest: certificate: %w", err)
		}
		s.serverTLS, s.clientTLS = srvCfg, cliCfg
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	return s, nil
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Domain = "smtptest.localhost"
	srv.AllowInsecureAuth = true
	srv.TLSConfig = s.serverTLS
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxRecipients = 50
	srv.MaxMessageBytes = 10 << 20
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.listener, s.serveDone = srv, l, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(l) // returns when Stop closes the listener
	}()
}

// Addr returns host:port.
func (s *Server) Addr() string { return s.addr }

// Host returns the server's host (127.0.0.1).
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.addr)
	return h
}

// Port returns the server's TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// ClientTLSConfig returns a TLS client configuration that trusts the server's certificate (nil
// without WithSTARTTLS).
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Stop closes the listener and every open connection; connecting then fails until Restart.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, l, done := s.srv, s.listener, s.serveDone
	s.srv, s.listener = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// Close the listener too: Serve may not have registered it with srv yet.
	_ = l.Close()
	<-done
}

// Restart starts a stopped server again on the same port. Recorded messages and knobs are kept.
// Only for a server from Start (it fails the test when the port is gone).
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return
	}
	var l net.Listener
	var err error
	// The port was just released; another process could take it, which Restart reports.
	for range 50 {
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtptest: restart on %s: %v", s.addr, err)
	}
	s.serve(l)
}

// RequireAuth makes the server offer AUTH PLAIN and refuse MAIL FROM (502 5.7.0) until the
// client authenticated with user and pass; wrong credentials get 535 5.7.8. An empty user turns
// authentication off again.
func (s *Server) RequireAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass = user, pass
}

// FailNext answers the next n messages, after reading their DATA, with code (4xx or 5xx) and
// text (enhanced status X.0.0). Calls queue up.
func (s *Server) FailNext(n, code int, text string) {
	s.failNext(n, code, smtp.EnhancedCode{code / 100, 0, 0}, text)
}

// TempFailNext answers the next n messages with 451 4.3.0 (try again later).
func (s *Server) TempFailNext(n int) {
	s.failNext(n, 451, smtp.EnhancedCode{4, 3, 0}, "Temporary local problem, try again later")
}

// RejectNext answers the next n messages with 550 5.1.1 (mailbox unavailable).
func (s *Server) RejectNext(n int) {
	s.failNext(n, 550, smtp.EnhancedCode{5, 1, 1}, "Requested action not taken: mailbox unavailable")
}

func (s *Server) failNext(n, code int, enhanced smtp.EnhancedCode, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{code: code, enhanced: enhanced, text: text})
	}
}

// SetDelay makes the server wait d before answering each DATA (a slow or hanging relay).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Messages returns the accepted messages in arrival order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.accepted...)
}

// Attempts returns every message whose DATA the server read, accepted or not.
func (s *Server) Attempts() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.attempts...)
}

// WaitForMessages polls until at least n messages were accepted or timeout passes (then the test
// fails), and returns the accepted messages.
func (s *Server) WaitForMessages(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: %d messages accepted after %v, want %d", len(msgs), timeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) record(r Received) error {
	s.mu.Lock()
	delay := s.delay
	var fail *failure
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		fail = &f
	}
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	var err error
	if fail != nil {
		e := &smtp.SMTPError{Code: fail.code, EnhancedCode: fail.enhanced, Message: fail.text}
		r.Answer, err = e.Error(), e
	} else {
		r.Accepted = true
	}
	s.mu.Lock()
	s.attempts = append(s.attempts, r)
	if r.Accepted {
		s.accepted = append(s.accepted, r)
	}
	s.mu.Unlock()
	return err
}

// session is one SMTP connection.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) AuthMechanisms() []string {
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	if se.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		se.s.mu.Lock()
		ok := se.s.user != "" && username == se.s.user && password == se.s.pass
		se.s.mu.Unlock()
		if !ok {
			return smtp.ErrAuthFailed
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.s.mu.Lock()
	needAuth := se.s.user != ""
	se.s.mu.Unlock()
	if needAuth && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := Received{From: se.from, To: append([]string(nil), se.to...), Data: data, At: time.Now()}
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		rec.Header = m.Header
		rec.Body, _ = io.ReadAll(m.Body)
	}
	return se.s.record(rec)
}

func (se *session) Reset() {
	se.from, se.to = "", nil
}

func (se *session) Logout() error { return nil }
