package smtptest

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// send delivers data in plain SMTP (go-smtp's SendMail insists on STARTTLS).
func send(s *Server, auth sasl.Client, data string) error {
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail("from@example.be", nil); err != nil {
		return err
	}
	if err := c.Rcpt("to@example.be", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

const multipartMsg = "From: from@example.be\r\nTo: to@example.be\r\nSubject: =?UTF-8?q?H=C3=A9llo?=\r\n" +
	"Message-ID: <m1@example.be>\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XX\r\n\r\n" +
	"--XX\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nH=C3=A9llo text\r\n" +
	"--XX\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+aHRtbDwvcD4=\r\n" +
	"--XX--\r\n"

func TestReceiveAndParse(t *testing.T) {
	t.Parallel()
	s := Start(t)
	if err := send(s, nil, multipartMsg); err != nil {
		t.Fatal(err)
	}
	if err := send(s, nil, "Subject: plain\r\nContent-Type: text/plain\r\n\r\njust text\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("Messages() = %d, want 2", len(msgs))
	}
	m := msgs[0]
	if m.From != "from@example.be" || len(m.To) != 1 || m.To[0] != "to@example.be" || !m.Accepted {
		t.Errorf("envelope %q → %q accepted=%v", m.From, m.To, m.Accepted)
	}
	if m.Subject() != "Héllo" || m.MessageID() != "<m1@example.be>" {
		t.Errorf("Subject %q, Message-ID %q", m.Subject(), m.MessageID())
	}
	text, html, err := m.Parts()
	if err != nil || strings.TrimSpace(text) != "Héllo text" || html != "<p>html</p>" {
		t.Errorf("Parts() = %q, %q, %v", text, html, err)
	}
	text, html, err = msgs[1].Parts()
	if err != nil || strings.TrimSpace(text) != "just text" || html != "" {
		t.Errorf("single part: Parts() = %q, %q, %v", text, html, err)
	}
}

func TestFailuresAndAttempts(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.TempFailNext(1)
	s.RejectNext(1)
	var se *smtp.SMTPError
	if err := send(s, nil, multipartMsg); !errors.As(err, &se) || se.Code != 451 {
		t.Errorf("first send = %v, want 451", err)
	}
	if err := send(s, nil, multipartMsg); !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
		t.Errorf("second send = %v, want 550 5.1.1", err)
	}
	if err := send(s, nil, multipartMsg); err != nil {
		t.Errorf("third send = %v, want accepted", err)
	}
	if a, m := len(s.Attempts()), len(s.Messages()); a != 3 || m != 1 {
		t.Errorf("%d attempts, %d accepted; want 3 and 1", a, m)
	}
	if a := s.Attempts()[0]; a.Accepted || !strings.Contains(a.Answer, "451") {
		t.Errorf("first attempt %+v", a)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.RequireAuth("user", "pass")
	if err := send(s, nil, multipartMsg); err == nil {
		t.Error("send without AUTH: want an error")
	}
	if err := send(s, sasl.NewPlainClient("", "user", "wrong"), multipartMsg); err == nil {
		t.Error("send with a wrong password: want an error")
	}
	if err := send(s, sasl.NewPlainClient("", "user", "pass"), multipartMsg); err != nil {
		t.Errorf("send with AUTH: %v", err)
	}
	s.RequireAuth("", "")
	if err := send(s, nil, multipartMsg); err != nil {
		t.Errorf("send after turning AUTH off: %v", err)
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	addr := s.Addr()
	s.Stop()
	s.Stop() // idempotent
	if err := send(s, nil, multipartMsg); err == nil {
		t.Fatal("send to a stopped server: want an error")
	}
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("restarted on %s, want %s", s.Addr(), addr)
	}
	if err := send(s, nil, multipartMsg); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	if len(s.WaitForMessages(t, 1, 0)) != 1 {
		t.Error("want one message")
	}
}

func TestSTARTTLS(t *testing.T) {
	t.Parallel()
	s := Start(t, WithSTARTTLS())
	c, err := smtp.DialStartTLS(s.Addr(), s.ClientTLSConfig())
	if err != nil {
		t.Fatalf("STARTTLS with the test CA: %v", err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Error("no TLS after STARTTLS")
	}
	if Start(t).ClientTLSConfig() != nil {
		t.Error("ClientTLSConfig without WithSTARTTLS: want nil")
	}
}
