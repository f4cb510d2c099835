package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/smtp"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

func TestCitizenStateWait(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_010, 0) // 10 s into a 30 s step
	s := newCitizenState(3, 3, 15*time.Minute)
	if w := s.wait(keys.TOTP, 0, now); w != 0 {
		t.Errorf("a fresh citizen waits %s for TOTP", w)
	}
	s.totpStep[0] = totpStep(now)
	if w := s.wait(keys.TOTP, 0, now); w != 20*time.Second {
		t.Errorf("after this step's code: wait %s, want 20s (the next step)", w)
	}
	if w := s.wait(keys.TOTP, 0, now.Add(20*time.Second)); w != 0 {
		t.Errorf("in the next step: wait %s, want 0", w)
	}

	s.mailed[1] = []time.Time{now.Add(-20 * time.Minute), now.Add(-10 * time.Minute), now.Add(-5 * time.Minute)}
	if w := s.wait(keys.EmailCode, 1, now); w != 0 {
		t.Errorf("two codes in the window: wait %s, want 0", w)
	}
	s.mailed[1] = append(s.mailed[1], now)
	if w := s.wait(keys.EmailCode, 1, now); w != 5*time.Minute {
		t.Errorf("three codes in the window: wait %s, want 5m (until the oldest leaves it)", w)
	}
	if len(s.mailed[1]) != 3 {
		t.Errorf("codes outside the window are kept: %v", s.mailed[1])
	}
	if w := s.wait(keys.TokenCard, 1, now); w != 0 {
		t.Errorf("a token card waits %s", w)
	}
}

func TestPickSkipsCitizensThatMustWait(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := newCitizenState(4, 3, 15*time.Minute)
	c := &client{state: s, citizens: []int{1, 3}}
	s.totpStep[1] = totpStep(now)
	for range 3 {
		if i, w := c.pick(keys.TOTP, now); i != 3 || w != 0 {
			t.Fatalf("pick = %d, %s; want citizen 3 (1 used this step)", i, w)
		}
	}
	s.totpStep[3] = totpStep(now)
	if i, w := c.pick(keys.TOTP, now); i != -1 || w != 30*time.Second {
		t.Errorf("pick with every citizen used = %d, %s; want none for 30s", i, w)
	}
}

func TestReasonOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{failf("token: %s", "invalid_grant"), "token: invalid_grant"},
		{fmt.Errorf("GET /login: %w", &url.Error{Op: "Get", URL: "http://127.0.0.1:4242/login",
			Err: errors.New("dial tcp 127.0.0.1:4242: connect: connection refused")}),
			"transport: dial tcp 127.0.0.1:…: connect: connection refused"},
		{errors.New("choose totp: status 500 at /login/choose: oops"), "transport: choose totp: status 500 at /login/choose: oops"},
		{failf("%s", strings.Repeat("x", 200)), strings.Repeat("x", 110) + "…"},
	}
	for _, tt := range tests {
		if got := reasonOf(tt.err); got != tt.want {
			t.Errorf("reasonOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	p := webtest.Page{Status: 429, URL: &url.URL{Path: "/login/password"},
		Body: `<div class="error-summary" role="alert"><ul><li>Too many attempts.</li></ul></div>`}
	if got := reasonOf(pageFailure("password", p)); got != "password: status 429 at /login/password: Too many attempts." {
		t.Errorf("page failure reason %q", got)
	}
}

func TestCallbackOf(t *testing.T) {
	t.Parallel()
	page := func(status int, h http.Header) webtest.Page {
		return webtest.Page{Status: status, URL: &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Path: "/login/code"}, Header: h}
	}
	cb := rpRedirect + "?code=abc&state=s"
	tests := []struct {
		p    webtest.Page
		want string
	}{
		{page(http.StatusSeeOther, http.Header{"Location": {cb}}), cb},
		{page(http.StatusOK, http.Header{"Refresh": {"0; url=" + cb}}), cb},
		{page(http.StatusSeeOther, http.Header{"Location": {"/login"}}), ""},
		{page(http.StatusOK, http.Header{}), ""},
		{page(http.StatusOK, http.Header{"Refresh": {"0; url=https://elsewhere.example/cb"}}), ""},
	}
	for i, tt := range tests {
		got := callbackOf(tt.p)
		if (got == nil && tt.want != "") || (got != nil && got.String() != tt.want) {
			t.Errorf("%d: callbackOf = %v, want %q", i, got, tt.want)
		}
	}
}

// TestMailboxReadsTheCode delivers a multipart, quoted-printable e-mail over SMTP, as the
// nodes' outbox does, and reads its code.
func TestMailboxReadsTheCode(t *testing.T) {
	t.Parallel()
	m, err := startMailbox()
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	msg := "From: noreply@example.org\r\nTo: load000001@loadtest.example.org\r\nSubject: code\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Beste burger,=0A=0AUw code:=0A=0A    482913=0A\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>111111</p>\r\n--b--\r\n"
	addr := fmt.Sprintf("127.0.0.1:%d", m.port())
	send := func() {
		if err := smtp.SendMail(addr, nil, "noreply@example.org", []string{"Load000001@loadtest.example.org"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if code, ok := m.wait("load000001@loadtest.example.org", 5*time.Second, nil); !ok || code != "482913" {
		t.Errorf("wait = %q, %v; want the text part's 482913", code, ok)
	}
	send()
	m.drain("load000001@loadtest.example.org")
	if code, ok := m.wait("load000001@loadtest.example.org", 50*time.Millisecond, nil); ok {
		t.Errorf("after drain: got %q", code)
	}
	if err := smtp.SendMail(addr, nil, "a@example.org", []string{"x@example.org"}, []byte("Subject: none\r\n\r\nno code\r\n")); err != nil {
		t.Fatal(err)
	}
	// The server files a message before it answers DATA, so SendMail's return means it is in.
	if m.unreadable() != 1 {
		t.Errorf("a message without a code: unreadable %d, want 1", m.unreadable())
	}
}
