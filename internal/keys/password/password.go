package password

import "github.com/sleutelbos/sleutelbos/internal/keys"

// Kind is the password key kind. Its zero value is ready to use.
type Kind struct{}

var _ keys.Kind = Kind{}

// New returns the password kind.
func New() Kind { return Kind{} }

// Name returns "password".
func (Kind) Name() string { return keys.Password }

// Level returns keys.LevelLow.
func (Kind) Level() keys.Level { return keys.LevelLow }

// AMR returns ["pwd"] (RFC 8176).
func (Kind) AMR() []string { return []string{"pwd"} }
