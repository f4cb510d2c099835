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
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/oauth2"

	"github.com/sleutelbos/sleutelbos/internal/demo"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
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
	url  string // the public URL it printed
	addr string // the address it listens on
	mu   sync.Mutex
	out  strings.Builder
	done chan error
}

func (n *node) output() string { n.mu.Lock(); defer n.mu.Unlock(); return n.out.String() }

// startNode runs `sleutelbos serve args…` on a free port and waits until it prints its URL.
func startNode(t *testing.T, args ...string) *node {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--encryption-keys", procEncKeys, "--hash-key", procHashKey,
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
			if a, ok := strings.CutPrefix(line, "Listening on "); ok {
				n.addr = a
			}
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
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		t.Parallel()
		args := []string{"--data-dir", t.TempDir(), "--demo"}
		if b.Name == "postgres" {
			args = append(args, "--database-url", sqltest.PostgresURL(t))
		}
		testServeGracefulShutdown(t, args)
	})
}

// testServeGracefulShutdown serves with args (a database and --demo) twice.
func testServeGracefulShutdown(t *testing.T, args []string) {
	n := startNode(t, args...)
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
	again := startNode(t, args...)
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
	url := sqltest.PostgresURL(t)
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
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		t.Parallel()
		dir := t.TempDir()
		url := "sqlite:" + filepath.Join(dir, "sleutelbos.db")
		if b.Name == "postgres" {
			url = sqltest.PostgresURL(t)
		}
		testMailSurvivesKill(t, dir, url)
	})
}

// testMailSurvivesKill runs the kill-and-restart story on the database at url.
func testMailSurvivesKill(t *testing.T, dir, url string) {
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

	mailArgs := []string{"--data-dir", dir, "--database-url", url, "--smtp-tls", "none", "--mail-poll", "200ms", "--mail-lease", "3s", "--mail-backoff", "1s", "--smtp-timeout", "1s"}
	first := startNode(t, append([]string{"--demo", "--smtp-host", "127.0.0.1", "--smtp-port", hangPort}, mailArgs...)...)
	c := webtest.New(first.url, nil)
	if _, err := c.StartLogon("?level=substantial", "emailcode", "demo", "demo-password-1"); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(context.Background(), url)
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
	firstMail := relay.WaitForMessages(t, 1, 30*time.Second)[0]
	wantCodeMail(t, firstMail)
	waitState(t, db, store.MessageSent)

	// No second delivery of the first message, shown by a later event instead of a pause: a new
	// message enqueued now is delivered after it. The worker claims due messages oldest first, so
	// had the first still been claimable it would have gone out again before this one.
	if _, err := webtest.New(second.url, nil).StartLogon("?level=substantial", "emailcode", "demo", "demo-password-1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, db, store.MessageSent) // the newest message: the second code
	got := relay.Messages()
	if len(got) != 2 {
		t.Fatalf("%d messages delivered by the time the second was sent, want 2 (the first exactly once)", len(got))
	}
	wantCodeMail(t, got[1])
	if got[0].MessageID() != firstMail.MessageID() || got[1].MessageID() == firstMail.MessageID() {
		t.Errorf("delivered Message-IDs %s then %s: want the first message once, then a new one", got[0].MessageID(), got[1].MessageID())
	}
}

// wantCodeMail checks that m is a logon code e-mail to the demo citizen.
func wantCodeMail(t *testing.T, m smtptest.Received) {
	t.Helper()
	text, _, err := m.Parts()
	if err != nil {
		t.Fatalf("message parts: %v", err)
	}
	if m.Subject() == "" || len(m.To) != 1 || m.To[0] != "demo@example.org" || !regexp.MustCompile(`\b\d{6}\b`).MatchString(text) {
		t.Errorf("delivered message looks wrong: subject %q, to %v, text:\n%s", m.Subject(), m.To, text)
	}
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
	for _, args := range [][]string{{"migrate", "--data-dir", dir}, {"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}} {
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

// TestDevMailboxOnlyWhenAskedFor runs serve the way production runs it — a loopback listener
// behind a TLS-terminating proxy, no SMTP server, no --demo — and checks that no mailbox
// shows the held codes, that serve says where mail went, and that --dev-mailbox is refused
// in such a set-up with a clear message.
func TestDevMailboxOnlyWhenAskedFor(t *testing.T) {
	t.Parallel()
	prod := startNode(t, "--data-dir", t.TempDir(), "--base-url", "https://login.example.test", "--trust-proxy")
	prod.mu.Lock()
	addr := prod.addr
	prod.mu.Unlock()
	if addr == "" {
		t.Fatalf("serve printed no listening address:\n%s", prod.output())
	}
	for _, p := range []string{"/dev/mailbox", "/dev/mailbox/", "/dev/mailbox/1"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("production-like set-up: GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
	if out := prod.output(); !strings.Contains(out, "e-mails are held in the outbox and NOT sent") ||
		!strings.Contains(out, "`sleutelbos admin mail status` shows them") || strings.Contains(out, "development mailbox") {
		t.Errorf("serve without SMTP and mailbox does not say where mail went:\n%s", out)
	}

	dev := startNode(t, "--data-dir", t.TempDir(), "--dev-mailbox")
	want := "Read them in the development mailbox: " + dev.url + "/dev/mailbox\n"
	if !strings.Contains(dev.output(), want) {
		t.Errorf("serve --dev-mailbox does not print %q:\n%s", want, dev.output())
	}
	resp, err := http.Get(dev.url + "/dev/mailbox")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("serve --dev-mailbox: GET /dev/mailbox = %d", resp.StatusCode)
	}

	for _, args := range [][]string{
		{"--dev-mailbox", "--trust-proxy"},
		{"--dev-mailbox", "--base-url", "https://login.example.test"},
	} {
		args = append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)
		cmd := exec.Command(binary, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v started:\n%s", args, out)
			continue
		}
		if msg := string(out); !strings.Contains(msg, "invalid configuration") || !strings.Contains(msg, "--dev-mailbox true: shows every citizen's e-mailed codes") ||
			!strings.Contains(msg, "refused together with") {
			t.Errorf("%v: unclear refusal:\n%s", args, msg)
		}
	}
}

// TestHelpdeskContact: serve --demo shows its demo helpdesk on the help page; a server without
// one warns at start.
func TestHelpdeskContact(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--data-dir", t.TempDir(), "--demo")
	resp, err := http.Get(n.url + "/help/forgot")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`<a href="mailto:helpdesk@example.org">helpdesk@example.org</a>`, `<a href="/privacy">`, `<a href="/accessibility">`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("demo help page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(n.output(), "no helpdesk contact configured") {
		t.Error("serve --demo warns about a missing helpdesk")
	}
	plain := startNode(t, "--data-dir", t.TempDir(), "--operator-phone", "+32 2 000 00 00")
	if strings.Contains(plain.output(), "no helpdesk contact configured") {
		t.Error("serve with a helpdesk phone warns about a missing helpdesk")
	}
	none := startNode(t, "--data-dir", t.TempDir())
	if !strings.Contains(none.output(), "no helpdesk contact configured") {
		t.Errorf("serve without a helpdesk does not warn:\n%s", none.output())
	}
}

// TestDemoOutput reads what `serve --demo` prints: what it is doing while it starts, the full
// address of the development mailbox, and the authenticator secret as base32, as an otpauth://
// URI with the same secret, and as a terminal QR code of that URI.
func TestDemoOutput(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--data-dir", t.TempDir(), "--demo")
	out := n.output()
	lines := strings.Split(out, "\n")
	// Progress, in order, before the server serves.
	at := 0
	for _, step := range []string{"Starting Sleutelbos", "Loading the encryption and hash keys", "Opening the database sqlite:",
		"Applying database migrations", "Creating the demo citizens", "Demo citizens", "Starting the web server", "Sleutelbos is serving at"} {
		i := strings.Index(out[at:], step)
		if i < 0 {
			t.Fatalf("serve --demo does not print %q (after position %d):\n%s", step, at, out)
		}
		at += i
	}

	if want := "  E-mailed codes appear in the development mailbox: " + n.url + "/dev/mailbox"; !strings.Contains(out, want+"\n") {
		t.Errorf("no absolute mailbox URL %q:\n%s", want, out)
	}

	// The demo online service is announced with a full URL that answers (issue 10 item 6).
	var service string
	for _, line := range lines {
		if s, ok := strings.CutPrefix(line, "Demo online service: "); ok {
			service = s
		}
	}
	if !strings.HasPrefix(service, n.url+"/") {
		t.Errorf("serve --demo does not announce the demo online service under %s:\n%s", n.url, out)
	} else if resp, err := http.Get(service); err != nil {
		t.Errorf("demo online service %s: %v", service, err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("demo online service %s answered %s", service, resp.Status)
		}
	}

	var secret, uri string
	var qr []string
	for i, line := range lines {
		if s, ok := strings.CutPrefix(line, "    authenticator app secret (base32): "); ok && secret == "" {
			secret = strings.ReplaceAll(s, " ", "")
		}
		if s, ok := strings.CutPrefix(line, "    authenticator app URI: "); ok && uri == "" {
			uri = s
		}
		if line == "    authenticator app QR code (scan it with the app):" && qr == nil {
			for _, l := range lines[i+1:] {
				q, ok := strings.CutPrefix(l, demo.QRIndent)
				if !ok {
					break
				}
				qr = append(qr, q)
			}
		}
	}
	u, err := url.Parse(uri)
	if err != nil || secret == "" {
		t.Fatalf("no secret or no parsable URI (%v):\n%s", err, out)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Sleutelbos:demo" || q.Get("secret") != secret ||
		q.Get("issuer") != "Sleutelbos" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("otpauth URI %s does not describe the printed secret %s", uri, secret)
	}
	code, err := qrcode.New(uri, demo.QRLevel)
	if err != nil {
		t.Fatal(err)
	}
	want := code.Bitmap()
	got, err := demo.ParseTerminalQR(qr, len(want))
	if err != nil {
		t.Fatalf("printed QR code: %v\n%s", err, strings.Join(qr, "\n"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the printed QR code is not the QR code of %s:\n%s", uri, strings.Join(qr, "\n"))
	}
}

// TestOIDCAcrossNodes runs OpenID Connect logons across two serve nodes on one PostgreSQL
// database behind one public URL: the authorization request on one node, the logon and the
// code exchange on the other, the ID token verified with the first node's keys, userinfo on
// the first. Both nodes sign with the same key.
func TestOIDCAcrossNodes(t *testing.T) {
	t.Parallel()
	dbURL := sqltest.PostgresURL(t)
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

// TestMetricsListener: serve announces its metrics listener, which answers in the Prometheus
// format, and the citizens' listener does not serve the metrics.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--data-dir", t.TempDir())
	var addr string
	for _, line := range strings.Split(n.output(), "\n") {
		if s, ok := strings.CutPrefix(line, "Metrics for Prometheus: "); ok {
			addr = s
		}
	}
	if !strings.HasPrefix(addr, "http://127.0.0.1:") || !strings.HasSuffix(addr, "/metrics") || strings.HasPrefix(addr, n.url) {
		t.Fatalf("no metrics listener of its own announced (got %q):\n%s", addr, n.output())
	}
	resp, err := http.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "sleutelbos_password_hash_queue_length 0") ||
		!strings.Contains(string(body), "sleutelbos_outbox_status_up 1") {
		t.Errorf("GET %s: %s\n%.2000s", addr, resp.Status, body)
	}
	resp, err = http.Get(n.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the citizens' listener answers /metrics with %s, want 404", resp.Status)
	}

	off := startNode(t, "--data-dir", t.TempDir(), "--metrics-listen=")
	if strings.Contains(off.output(), "Metrics for Prometheus") {
		t.Errorf("--metrics-listen= still serves metrics:\n%s", off.output())
	}
}

// TestPprofAndCollector: --pprof serves Go's profiles on the metrics listener and nowhere
// else; without it there are none. serve says what heap budget its collector got, and leaves
// Go's defaults with --gc-memory-limit-mib -1.
func TestPprofAndCollector(t *testing.T) {
	t.Parallel()
	metricsBase := func(n *node) string {
		t.Helper()
		for _, line := range strings.Split(n.output(), "\n") {
			if s, ok := strings.CutPrefix(line, "Metrics for Prometheus: "); ok {
				return strings.TrimSuffix(s, "/metrics")
			}
		}
		t.Fatalf("no metrics listener announced:\n%s", n.output())
		return ""
	}
	status := func(u string) int {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	n := startNode(t, "--data-dir", t.TempDir(), "--pprof")
	if got := status(metricsBase(n) + "/debug/pprof/cmdline"); got != http.StatusOK {
		t.Errorf("--pprof: /debug/pprof/cmdline on the metrics listener: %d, want 200", got)
	}
	if got := status(n.url + "/debug/pprof/cmdline"); got != http.StatusNotFound {
		t.Errorf("--pprof: the citizens' listener answers /debug/pprof/ with %d, want 404", got)
	}
	if !strings.Contains(n.output(), "MiB heap budget for password-hash memory") {
		t.Errorf("serve does not say what its collector got:\n%s", n.output())
	}

	plain := startNode(t, "--data-dir", t.TempDir(), "--gc-memory-limit-mib", "-1")
	if got := status(metricsBase(plain) + "/debug/pprof/cmdline"); got != http.StatusNotFound {
		t.Errorf("without --pprof: /debug/pprof/cmdline answers %d, want 404", got)
	}
	if strings.Contains(plain.output(), "Garbage collector:") {
		t.Errorf("--gc-memory-limit-mib -1 still tunes the collector:\n%s", plain.output())
	}
}
