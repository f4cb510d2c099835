package main

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestParseOptionsRefusesBadOptions(t *testing.T) {
	t.Parallel()
	pg := []string{"-postgres-url", "postgres://postgres@127.0.0.1:5432/test"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-clients", "0"}, `-clients: "0": want 1 to 256`},
		{[]string{"-clients", "1,300"}, `"300": want 1 to 256`},
		{[]string{"-clients", ","}, "-clients: give at least one number"},
		{[]string{"-clients", "8", "-citizens", "4"}, "every client needs citizens of its own"},
		{[]string{"-citizens", "0"}, "-citizens 0"},
		{[]string{"-citizens", "100001"}, "want 1 to 100000"},
		{[]string{"-max-logons", "0"}, "-max-logons 0"},
		{[]string{"-duration", "1h"}, "at most 5m"},
		{[]string{"-duration", "0s"}, "want more than 0"},
		{[]string{"-pairs", "0"}, "-pairs 0"},
		{[]string{"-nodes", "5"}, `-nodes: "5": want 1 to 4`},
		{[]string{"-timeout", "3h"}, "at most 2h"},
		{[]string{"-source-addresses", "255"}, "want 1 to 254"},
		{[]string{"-kinds", "sms"}, `-kinds: "sms" is not one of password, tokencard, totp, emailcode`},
		{[]string{"-kinds", ""}, "-kinds: name at least one"},
		{[]string{"-flows", "saml"}, `"saml" is not one of web, oidc`},
		{[]string{"-backends", "mysql"}, `"mysql" is not one of sqlite, postgres`},
		{[]string{"-backends", "postgres"}, "-backends postgres needs -postgres-url"},
		{[]string{"-postgres-url", "postgres://db.example.org/x"}, "only a database on 127.0.0.1"},
		{append(pg, "extra"), `unexpected argument "extra"`},
		{[]string{"-serve-flags", "--password-time 1"}, "-serve-flags: --password-time is set by the driver itself"},
		{[]string{"-serve-flags", "--listen=127.0.0.1:9"}, "-serve-flags: --listen=127.0.0.1:9 is set by the driver itself"},
		{[]string{"-serve-flags", "--email-code-max 9"}, "-serve-flags: --email-code-max is set by the driver itself"},
		{[]string{"-serve-flags", "--pprof"}, "-serve-flags: --pprof is set by the driver itself"},
	}
	for _, tt := range tests {
		_, err := parseOptions(tt.args, noEnv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseOptions(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}

func TestParseOptionsReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := parseOptions([]string{"-clients", "0", "-pairs", "0", "-kinds", "sms"}, noEnv, io.Discard)
	for _, want := range []string{"-clients", "-pairs", "-kinds"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestParseOptionsDefaults(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		if k == postgresURLEnv {
			return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		}
		return ""
	}
	o, err := parseOptions(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.postgresURL == "" || !reflect.DeepEqual(o.backends, []string{"sqlite", "postgres"}) || !reflect.DeepEqual(o.nodes, []int{1, 2}) ||
		!reflect.DeepEqual(o.clients, []int{1, 2, 4, 64}) || o.citizens != 10_000 || o.pairs != 3 || o.duration != 2*time.Second {
		t.Errorf("defaults: %+v", o)
	}
	// The default matrix: SQLite on one node, PostgreSQL on one and two; two kinds, two client
	// counts each.
	n := 0
	for _, b := range o.backends {
		for _, c := range o.nodeCounts(b) {
			n += len(o.configs(b, c))
		}
	}
	if n != 24 {
		t.Errorf("default matrix has %d configurations, want 24", n)
	}
	if got := o.nodeCounts("sqlite"); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("SQLite node counts %v, want [1]: several nodes need PostgreSQL", got)
	}
	o.nodes = []int{2}
	if got := o.nodeCounts("sqlite"); got != nil {
		t.Errorf("SQLite with -nodes 2: %v, want none", got)
	}
}

func TestRunNeedsTheServerBinary(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"-backends", "sqlite", "-server", "/nonexistent/sleutelbos"}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "go build -o") {
		t.Errorf("run without the binary = %v, want how to build it", err)
	}
}

// TestServeFlagsMayChangeTheStartQuota: the flags the driver sets that do not decide what it
// measures against (the start quota, the log level) may be changed with -serve-flags.
func TestServeFlagsMayChangeTheStartQuota(t *testing.T) {
	t.Parallel()
	o, err := parseOptions([]string{"-backends", "sqlite", "-serve-flags", "--logon-starts-per-address 200 --log-level=info"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.serveFlags, []string{"--logon-starts-per-address", "200", "--log-level=info"}) {
		t.Errorf("serve flags %q", o.serveFlags)
	}
}
