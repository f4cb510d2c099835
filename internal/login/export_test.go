package login

import "github.com/sleutelbos/sleutelbos/internal/attempts"

// PasswordScopeOf is the scope s counts a typed username's wrong passwords under (a keyed hash
// of it), for tests that read the counter.
func PasswordScopeOf(s *Service, username string) attempts.Scope { return s.passwordScope(username) }
