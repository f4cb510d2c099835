// Package config is Sleutelbos's configuration: the Config type, its defaults, loading from a
// file, SLEUTELBOS_* environment variables and command-line flags, and validation.
//
// Every setting has one name used everywhere: the flag --smtp-host, the environment variable
// SLEUTELBOS_SMTP_HOST and the file key smtp-host. Precedence is flags, then environment, then
// file, then defaults. The file is plain "key = value" lines ('#' starts a comment), so it needs
// no parser beyond this package and reads like the flags it mirrors.
//
// Validate returns every problem at once, each naming the setting, the bad value and what is
// allowed, so an operator fixes a configuration in one round.
package config
