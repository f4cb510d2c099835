package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

// TestRunErrors checks that bad command lines fail with a message that names the problem.
func TestRunErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		wantUsage bool
		want      []string
	}{
		{"no command", nil, true, []string{"no command"}},
		{"unknown command", []string{"frobnicate"}, true, []string{`unknown command "frobnicate"`}},
		{"unknown flag", []string{"serve", "--no-such-flag"}, false, []string{"no-such-flag"}},
		{"invalid listen", []string{"serve", "--listen", "nowhere"}, false, []string{"invalid configuration", `--listen "nowhere"`}},
		{"several problems at once", []string{"serve", "--default-language", "es", "--session-idle", "0s"}, false,
			[]string{"--default-language", "--session-idle 0s"}},
		{"stray argument", []string{"migrate", "--data-dir", dir, "extra"}, false, []string{`unexpected argument "extra"`}},
		{"unreachable postgres", []string{"migrate", "--database-url", "postgres://nobody:pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2",
			"--encryption-keys", "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "--hash-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, false,
			[]string{"127.0.0.1:1"}},
		{"data dir under a file", []string{"migrate", "--data-dir", filepath.Join(file, "sub")}, false, []string{"sub"}},
		{"admin without command", []string{"admin", "--data-dir", dir}, true, []string{"no admin command"}},
		{"admin unknown command", []string{"admin", "--data-dir", dir, "users", "delete-all"}, true, []string{"unknown admin command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, noEnv, strings.NewReader(""), &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) succeeded; stdout=%s", tt.args, stdout.String())
			}
			if got := exitCode(err) == 2; got != tt.wantUsage {
				t.Errorf("exit code %d for %v", exitCode(err), err)
			}
			msg := err.Error() + stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, ":pw@") {
				t.Errorf("message leaks the database password: %q", msg)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, noEnv, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "sleutelbos ") {
		t.Errorf("version printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, noEnv, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"serve", "migrate", "version", "admin"} {
		if !strings.Contains(out.String(), cmd) {
			t.Errorf("help does not mention %s", cmd)
		}
	}
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := 0; i < 2; i++ { // idempotent
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate", "--data-dir", dir}, noEnv, nil, &out, &out); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), "up to date") {
			t.Errorf("migrate printed %q", out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sleutelbos.db")); err != nil {
		t.Errorf("no database file: %v", err)
	}
}

func TestEnvironmentConfig(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		if k == "SLEUTELBOS_LISTEN" {
			return "not-an-address"
		}
		return ""
	}
	err := run(context.Background(), []string{"serve"}, env, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Fatalf("want the environment's bad listen address reported, got %v", err)
	}
	if errors.Is(err, errUsage) {
		t.Error("a bad value is not a usage error")
	}
}
