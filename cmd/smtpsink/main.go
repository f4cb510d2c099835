// Command smtpsink is a test tool: a real SMTP server (internal/outbox/smtptest) on 127.0.0.1
// that keeps every message it accepts and lists them as JSON over HTTP, so browser tests read
// the e-mails a server under test really sent (e2e/phaseout.spec.ts). It prints its two
// addresses as one JSON line, {"smtp":"127.0.0.1:…","http":"127.0.0.1:…"}, and runs until it
// is interrupted. Never deploy it: it shows every message to whoever asks.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
}

// message is one accepted e-mail as the HTTP listing shows it.
type message struct {
	To      []string  `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	At      time.Time `json:"at"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("smtpsink", flag.ContinueOnError)
	smtpAddr := fs.String("smtp", "127.0.0.1:0", "SMTP listen address (loopback only)")
	httpAddr := fs.String("http", "127.0.0.1:0", "HTTP listen address of GET /messages (loopback only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, a := range []string{*smtpAddr, *httpAddr} {
		if host, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(host).IsLoopback() {
			return fmt.Errorf("listen address %q: want a loopback address", a)
		}
	}
	srv, err := smtptest.Listen(*smtpAddr)
	if err != nil {
		return err
	}
	defer srv.Stop()
	l, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		to := strings.ToLower(r.URL.Query().Get("to"))
		out := []message{}
		for _, m := range srv.Messages() {
			if to != "" && !hasRecipient(m.To, to) {
				continue
			}
			text, html, err := m.Parts()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			out = append(out, message{To: m.To, Subject: m.Subject(), Text: text, HTML: html, At: m.At})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if err := json.NewEncoder(stdout).Encode(map[string]string{"smtp": srv.Addr(), "http": l.Addr().String()}); err != nil {
		return err
	}
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func hasRecipient(rcpts []string, to string) bool {
	for _, r := range rcpts {
		if strings.EqualFold(strings.Trim(r, "<>"), to) {
			return true
		}
	}
	return false
}
