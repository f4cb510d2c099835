package password

import (
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

func TestKind(t *testing.T) {
	t.Parallel()
	k := New()
	if got := k.Name(); got != "password" {
		t.Errorf("Name() = %q, want password", got)
	}
	if got := k.Level(); got != keys.LevelLow {
		t.Errorf("Level() = %v, want low", got)
	}
	if got := k.AMR(); len(got) != 1 || got[0] != "pwd" {
		t.Errorf("AMR() = %v, want [pwd]", got)
	}
	var kind keys.Kind = k
	if _, ok := kind.(keys.Challenger); ok {
		t.Error("password is a Challenger; the logon flow checks the password itself")
	}
	if _, ok := kind.(keys.Enroller); ok {
		t.Error("password is an Enroller")
	}
}
