package main

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
)

// mailbox is the SMTP server the nodes deliver to (go-smtp, on 127.0.0.1, no TLS): the driver
// reads each e-mailed security code from the real message, as a citizen reads it, and keeps
// only the newest codes per address.
type mailbox struct {
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{}

	mu    sync.Mutex
	boxes map[string]chan string
	// bad counts messages whose code could not be read.
	bad int
}

// codeRE finds the security code in a message's text part: six digits on their own.
var codeRE = regexp.MustCompile(`\b\d{6}\b`)

func startMailbox() (*mailbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mailbox{ln: ln, done: make(chan struct{}), boxes: map[string]chan string{}}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }))
	m.srv.Domain = "loadtest.localhost"
	m.srv.ReadTimeout, m.srv.WriteTimeout = 30*time.Second, 30*time.Second
	m.srv.MaxMessageBytes = 1 << 20
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln) // returns when close closes the listener
	}()
	return m, nil
}

func (m *mailbox) port() int { return m.ln.Addr().(*net.TCPAddr).Port }

func (m *mailbox) close() {
	_ = m.srv.Close()
	_ = m.ln.Close()
	<-m.done
}

// unreadable returns how many messages had no code the driver could read.
func (m *mailbox) unreadable() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bad
}

// box returns the channel of codes for address (lower case).
func (m *mailbox) box(address string) chan string {
	address = strings.ToLower(address)
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.boxes[address]
	if !ok {
		b = make(chan string, 4)
		m.boxes[address] = b
	}
	return b
}

// drain forgets the codes already delivered to address.
func (m *mailbox) drain(address string) {
	b := m.box(address)
	for {
		select {
		case <-b:
		default:
			return
		}
	}
}

// wait returns the next code delivered to address, or false after timeout or when stop closes.
func (m *mailbox) wait(address string, timeout time.Duration, stop <-chan struct{}) (string, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case c := <-m.box(address):
		return c, true
	case <-t.C:
		return "", false
	case <-stop:
		return "", false
	}
}

// deliver files a received message's code under each recipient; a full box drops its oldest.
func (m *mailbox) deliver(to []string, data []byte) {
	code := ""
	if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		body, _ := io.ReadAll(msg.Body)
		if text, _, err := (smtptest.Received{Header: msg.Header, Body: body}).Parts(); err == nil {
			code = codeRE.FindString(text)
		}
	}
	if code == "" {
		m.mu.Lock()
		m.bad++
		m.mu.Unlock()
		return
	}
	for _, rcpt := range to {
		b := m.box(rcpt)
		for {
			select {
			case b <- code:
			default:
				select {
				case <-b:
				default:
				}
				continue
			}
			break
		}
	}
}

// mailSession is one SMTP connection from a node.
type mailSession struct {
	m  *mailbox
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.deliver(s.to, data)
	return nil
}

func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }
