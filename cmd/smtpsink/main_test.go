package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/smtp"
	"strings"
	"testing"
)

// TestSink: a message sent over SMTP is listed over HTTP, decoded, for its recipient only.
func TestSink(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var addrs struct{ SMTP, HTTP string }
	if err := json.Unmarshal([]byte(line), &addrs); err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	msg := "From: noreply@example.org\r\nTo: anna@example.org\r\nSubject: =?utf-8?q?Uw_code_=E2=80=9Ctoken=E2=80=9D?=\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nYour code:\r\n    123456\r\n"
	if err := smtp.SendMail(addrs.SMTP, nil, "noreply@example.org", []string{"anna@example.org"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	list := func(to string) []message {
		t.Helper()
		res, err := http.Get("http://" + addrs.HTTP + "/messages?to=" + to)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var ms []message
		if err := json.NewDecoder(res.Body).Decode(&ms); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	got := list("Anna@Example.org")
	if len(got) != 1 || got[0].Subject != "Uw code “token”" || !strings.Contains(got[0].Text, "123456") {
		t.Errorf("messages to anna = %+v", got)
	}
	if other := list("bram@example.org"); len(other) != 0 {
		t.Errorf("messages to bram = %+v, want none", other)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}

func TestSinkRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	if err := run(t.Context(), []string{"--smtp", "0.0.0.0:0"}, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("run on 0.0.0.0 = %v, want refused", err)
	}
}
