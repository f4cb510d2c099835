package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/storetest"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// binary is the sleutelbos binary built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sleutelbos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sleutelbos")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sleutelbos: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Fixed secrets, so that several nodes agree and the test can derive demo codes.
var (
	procEncKeys = "k1:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("e", 32)))
	procHashKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("h", 32)))
)

// node is one running `sleutelbos serve` process.
type node struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	out  strings.Builder
	done chan error
}

func (n *node) output() string { n.mu.Lock(); defer n.mu.Unlock(); return n.out.String() }

// startNode runs `sleutelbos serve args…` on a free port and waits until it prints its URL.
func startNode(t *testing.T, args ...string) *node {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--encryption-keys", procEncKeys, "--hash-key", procHashKey,
		"--password-memory-kib", "8192", "--password-time", "1"}, args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{cmd: cmd, done: make(chan error, 1)}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			n.out.WriteString(line + "\n")
			n.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "Sleutelbos is serving at "); ok {
				urlc <- u
			}
		}
	}()
	go func() { err := cmd.Wait(); pw.Close(); n.done <- err }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, n.output())
		}
	})
	select {
	case n.url = <-urlc:
	case err := <-n.done:
		t.Fatalf("serve exited before serving: %v\n%s", err, n.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not print its URL in time\n%s", n.output())
	}
	return n
}

func (n *node) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-n.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop after %v", sig)
		return nil
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, "--data-dir", dir, "--demo")
	resp, err := http.Get(n.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz = %d", resp.StatusCode)
	}
	for _, want := range []string{"username demo", "demo-password-1", "token card DEMO-DEMO", "authenticator app secret"} {
		if !strings.Contains(n.output(), want) {
			t.Errorf("serve --demo did not print %q", want)
		}
	}
	if err := n.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("serve exited with %v after SIGTERM, want status 0", err)
	}
	// A second start on the same data keeps the demo citizens (idempotent) and their card.
	again := startNode(t, "--data-dir", dir, "--demo")
	if !strings.Contains(again.output(), "token card DEMO-DEMO") {
		t.Error("second demo start printed no card")
	}
	if err := again.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("second serve: %v", err)
	}
}

// TestLogonAcrossNodes starts a logon on one node and finishes it on another: all state is in
// the shared PostgreSQL database.
func TestLogonAcrossNodes(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	a := startNode(t, "--database-url", url, "--demo", "--node-name", "a")
	b := startNode(t, "--database-url", url, "--node-name", "b")

	c := webtest.New(a.url, nil)
	p, err := c.StartLogon("?level=substantial", "tokencard", "demo", "demo-password-1")
	if err != nil || p.URL.Path != "/login/code" {
		t.Fatalf("start on node a: %v at %v (%q)", err, p.URL, p.Alert())
	}
	pos := p.Position()
	h, err := secrets.NewHasher([]byte(strings.Repeat("h", 32)))
	if err != nil {
		t.Fatal(err)
	}
	codes := tokencard.DemoCodes(demo.Seed(h), demo.SerialPrefix+"DEMO")

	c.Base = b.url // same cookies (cookies ignore the port), other node
	p, err = c.SubmitCode(codes[pos-1])
	if err != nil || p.URL.Path != "/" || !strings.Contains(p.Body, "Demo Citizen") {
		t.Fatalf("finish on node b: %v at %v (%q)", err, p.URL, p.Alert())
	}
	c.Base = a.url
	if p, err = c.Get("/"); err != nil || !strings.Contains(p.Body, "Demo Citizen") {
		t.Fatalf("session not known on node a: %v at %v", err, p.URL)
	}
}

// TestMailSurvivesKill kills a node after it claimed a message and before it could send it;
// the restarted node delivers the message exactly once after the lease expires.
func TestMailSurvivesKill(t *testing.T) {
	t.Parallel()
	// A relay that accepts connections and never answers: the node claims the message and
	// hangs in the SMTP greeting.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	var conns []net.Conn
	var connMu sync.Mutex
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			connMu.Lock()
			conns = append(conns, c)
			connMu.Unlock()
		}
	}()
	defer func() {
		connMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connMu.Unlock()
	}()
	_, hangPort, _ := net.SplitHostPort(hang.Addr().String())

	dir := t.TempDir()
	mailArgs := []string{"--data-dir", dir, "--smtp-tls", "none", "--mail-poll", "200ms", "--mail-lease", "3s", "--mail-backoff", "1s", "--smtp-timeout", "1s"}
	first := startNode(t, append([]string{"--demo", "--smtp-host", "127.0.0.1", "--smtp-port", hangPort}, mailArgs...)...)
	c := webtest.New(first.url, nil)
	if _, err := c.StartLogon("?level=substantial", "emailcode", "demo", "demo-password-1"); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "sleutelbos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitState(t, db, store.MessageSending)
	if err := first.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("SIGKILL: want a non-zero exit")
	}

	relay := smtptest.Start(t)
	second := startNode(t, append([]string{"--smtp-host", relay.Host(), "--smtp-port", fmt.Sprint(relay.Port())}, mailArgs...)...)
	msgs := relay.WaitForMessages(t, 1, 30*time.Second)
	if got := msgs[0].Subject(); got == "" || !regexp.MustCompile(`\d{6}`).Match(msgs[0].Body) && !strings.Contains(string(msgs[0].Data), "demo@example.org") {
		t.Errorf("delivered message looks wrong: subject %q", got)
	}
	waitState(t, db, store.MessageSent)
	time.Sleep(time.Second) // a second delivery would come within a poll interval
	if n := len(relay.Messages()); n != 1 {
		t.Errorf("%d messages delivered, want exactly 1", n)
	}
	_ = second
}

func waitState(t *testing.T, db *sqlstore.DB, want store.MessageState) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, err := db.ListMessages(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 && msgs[0].State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("message never reached state %s: %+v", want, msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadOnlyDatabase runs migrate and serve against a database the process may read but not
// write (as the unprivileged user nobody when the tests run as root): a clear error and a
// non-zero exit, and the database is left as it was.
func TestReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out strings.Builder
	if err := run(context.Background(), []string{"migrate", "--data-dir", dir}, noEnv, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "sleutelbos.db")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Dir(binary)} {
		if err := os.Chmod(p, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	// nobody must reach the database and the binary through their parent directories.
	for _, p := range []string{binary, filepath.Dir(dir)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.Chmod(filepath.Dir(binary), 0o755) })
	for _, args := range [][]string{{"migrate", "--data-dir", dir}, {"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}} {
		args = append(args, "--encryption-keys", procEncKeys, "--hash-key", procHashKey)
		cmd := exec.Command(binary, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		cmd.Dir = "/"
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		got, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%v on a read-only database succeeded:\n%s", args, got)
		}
		msg := string(got)
		t.Logf("%s: %s", args[0], msg)
		if !strings.Contains(msg, "sleutelbos:") || !strings.Contains(msg, "is read-only") {
			t.Errorf("%v: unclear message:\n%s", args, msg)
		}
		if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
			t.Errorf("%v crashed:\n%s", args, msg)
		}
	}
	after, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("the read-only database was changed")
	}
}

// TestOIDCAcrossNodes runs OpenID Connect logons across two serve nodes on one PostgreSQL
// database behind one public URL: the authorization request on one node, the logon and the
// code exchange on the other, the ID token verified with the first node's keys, userinfo on
// the first. Both nodes sign with the same key.
func TestOIDCAcrossNodes(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	port := freePort(t)
	public := "http://127.0.0.1:" + port
	a := startNode(t, "--database-url", dbURL, "--demo", "--node-name", "a", "--listen", "127.0.0.1:"+port)
	b := startNode(t, "--database-url", dbURL, "--node-name", "b", "--base-url", public)
	if a.url != public {
		t.Fatalf("node a serves at %s, want %s", a.url, public)
	}

	var out strings.Builder
	redirect := "http://127.0.0.1:9/rp/callback"
	err := run(context.Background(), []string{"admin", "--database-url", dbURL, "--encryption-keys", procEncKeys, "--hash-key", procHashKey,
		"clients", "add", "--id", "tax", "--name", "Tax on web", "--redirect-uri", redirect}, noEnv, nil, &out, &out)
	if err != nil {
		t.Fatalf("admin clients add: %v\n%s", err, out.String())
	}
	secret := regexp.MustCompile(`client secret: (\S+)`).FindStringSubmatch(out.String())
	if secret == nil {
		t.Fatalf("no secret in %q", out.String())
	}

	ctx := context.Background()
	prov, err := oidc.NewProvider(ctx, public)
	if err != nil {
		t.Fatal(err)
	}
	verifier := prov.Verifier(&oidc.Config{ClientID: "tax"})

	// logon asks on node first, logs on at node second, exchanges the code at node second.
	logon := func(first, second *node) (*oauth2.Token, *oidc.IDToken, string) {
		t.Helper()
		conf := oauth2.Config{ClientID: "tax", ClientSecret: secret[1], Endpoint: prov.Endpoint(), RedirectURL: redirect,
			Scopes: []string{oidc.ScopeOpenID, "profile"}}
		conf.Endpoint.TokenURL = second.url + "/oidc/token"
		c := webtest.New(first.url, nil)
		c.Client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirect) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		state, nonce, pkce := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce),
			oauth2.SetAuthURLParam("acr_values", "urn:be:fedict:iam:fas:Level200"), oauth2.SetAuthURLParam("prompt", "login"))
		p, err := c.Get(strings.TrimPrefix(authURL, public))
		if err != nil || p.URL.Path != "/login" {
			t.Fatalf("authorization request on %s: %v at %v", first.url, err, p.URL)
		}
		c.Base = second.url // same cookies (cookies ignore the port), other node
		p, err = c.LogonFrom(p, "password", "demo", "demo-password-1")
		if err != nil {
			t.Fatal(err)
		}
		_, target, _ := strings.Cut(p.Header.Get("Refresh"), "url=")
		cb, err := url.Parse(target)
		if err != nil || !strings.HasPrefix(target, redirect) || cb.Query().Get("state") != state || cb.Query().Get("iss") != public {
			t.Fatalf("logon on %s ended at %s (status %d, %q), sent to %q", second.url, p.URL, p.Status, p.Alert(), target)
		}
		tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("exchange on %s: %v", second.url, err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil || idt.Nonce != nonce {
			t.Fatalf("verify the ID token with the public JWKS: %v", err)
		}
		return tok, idt, raw
	}
	tok, idt, rawB := logon(a, b)
	var claims struct {
		ACR string `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil || claims.ACR != "urn:be:fedict:iam:fas:Level200" {
		t.Errorf("acr %q (%v)", claims.ACR, err)
	}
	ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok)) // the public URL: node a
	if err != nil || ui.Subject != idt.Subject {
		t.Fatalf("userinfo on node a for a token of node b: %v (%v)", err, ui)
	}
	_, again, rawA := logon(b, a)
	if again.Subject != idt.Subject {
		t.Errorf("sub on node a %q, on node b %q", again.Subject, idt.Subject)
	}
	if ka, kb := jwtKeyID(t, rawA), jwtKeyID(t, rawB); ka != kb {
		t.Errorf("node a signs with %s, node b with %s", ka, kb)
	}
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// jwtKeyID returns the kid of a JWT's header.
func jwtKeyID(t *testing.T, jwt string) string {
	t.Helper()
	head, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Kid == "" {
		t.Fatalf("JWT header %s: %v", b, err)
	}
	return h.Kid
}
