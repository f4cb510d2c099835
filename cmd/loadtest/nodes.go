package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/config"
)

// node is one running `sleutelbos serve` process.
type node struct {
	name string
	cmd  *exec.Cmd
	url  string
	// metrics is the address of its metrics listener (host:port), where --pprof serves profiles.
	metrics string
	log     string // its standard error, a file
	done    chan struct{}
	err     error // set when done closes
}

func (n *node) pid() int { return n.cmd.Process.Pid }

// alive reports whether the process still runs.
func (n *node) alive() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// overridableServeFlags are the flags of serveArgs that -serve-flags may change (a later flag
// wins): the per-address start quota (to measure with the default), the log level, the contact.
var overridableServeFlags = []string{"logon-starts-per-address", "log-level", "operator-email"}

// reservedServeFlags are the other serve flags the driver sets itself (serveArgs, and --pprof
// with -profile): the nodes must hash like the seeding, count e-mailed codes as the driver
// does, listen where the driver looks and mail the driver.
func reservedServeFlags() []string {
	names := []string{"pprof"}
	for _, a := range serveArgs(config.Config{DatabaseURL: "postgres://"}, "", 0) {
		if name, ok := strings.CutPrefix(a, "--"); ok && !slices.Contains(overridableServeFlags, name) {
			names = append(names, name)
		}
	}
	return names
}

// serveArgs are the flags of `serve` for cfg: everything the seeding used, spelled out, so the
// nodes hash with the very parameters of the seeded password hash.
func serveArgs(cfg config.Config, name string, mailPort int) []string {
	args := []string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir", cfg.DataDir, "--log-level", "warn",
		"--node-name", name,
		"--encryption-keys", cfg.EncryptionKeys, "--hash-key", cfg.HashKey,
		"--password-memory-kib", strconv.FormatUint(uint64(cfg.PasswordMemoryKiB), 10),
		"--password-time", strconv.FormatUint(uint64(cfg.PasswordTime), 10),
		"--password-threads", strconv.FormatUint(uint64(cfg.PasswordThreads), 10),
		"--email-code-max", strconv.Itoa(cfg.EmailCodeMax), "--email-code-window", cfg.EmailCodeWindow.String(),
		"--smtp-host", "127.0.0.1", "--smtp-port", strconv.Itoa(mailPort), "--smtp-tls", "none",
		"--operator-email", "helpdesk@loadtest.example.org",
		// Every logon here is a fresh browser from loopback: lift the per-address limit on starts.
		"--logon-starts-per-address", "1000000"}
	if cfg.DatabaseURL != "" {
		args = append(args, "--database-url", cfg.DatabaseURL)
	}
	return args
}

// startNode runs bin serve with args and waits until it says where it serves.
func startNode(ctx context.Context, bin, name string, args []string, dir string) (*node, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(abs, args...)
	cmd.Dir = dir
	cmd.Stderr = logf
	// Should the driver die without stopping its nodes, the kernel stops them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (build it with: go build -o %s ./cmd/sleutelbos): %w", bin, filepath.Clean(bin), err)
	}
	n := &node{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	urlc := make(chan string, 1)
	metricsc := make(chan string, 1) // printed before the serving line
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Metrics for Prometheus: http://"); ok {
				metricsc <- strings.TrimSuffix(strings.TrimSpace(u), "/metrics")
			}
			if u, ok := strings.CutPrefix(sc.Text(), "Sleutelbos is serving at "); ok {
				select {
				case urlc <- strings.TrimSpace(u):
				default:
				}
			}
		}
	}()
	go func() {
		n.err = cmd.Wait()
		close(n.done)
	}()
	t := time.NewTimer(90 * time.Second)
	defer t.Stop()
	select {
	case n.url = <-urlc:
		select {
		case n.metrics = <-metricsc:
		default:
		}
		return n, nil
	case <-n.done:
		return nil, fmt.Errorf("%s exited at start (%v):\n%s", name, n.err, tail(logPath, 20))
	case <-ctx.Done():
		n.stop()
		return nil, ctx.Err()
	case <-t.C:
		n.stop()
		return nil, fmt.Errorf("%s did not start within 90 s:\n%s", name, tail(logPath, 20))
	}
}

// stop asks the node to stop (SIGTERM: it finishes requests in flight) and kills it after 15 s.
func (n *node) stop() {
	if !n.alive() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errNodeDied is returned when a node stops during a run.
var errNodeDied = errors.New("a node stopped")
