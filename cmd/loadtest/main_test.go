package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestRunRefusesBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-clients", "0"}, "-clients 0"},
		{[]string{"-max-logons", "0"}, "-max-logons 0"},
		{[]string{"-duration", "1h"}, "at most 5m"},
		{[]string{"-kinds", "totp"}, `"totp" is not supported`},
		{[]string{"-database-url", "postgres://db.example.org/x"}, "only a database on 127.0.0.1"},
		{[]string{"-server", "/nonexistent/sleutelbos", "-duration", "1s"}, "go build -o"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}
