// Package secrets protects secrets at rest.
//
// Two tools cover what Sleutelbos stores:
//
//   - A Keyring encrypts values that must be read back, such as TOTP secrets, with
//     AES-256-GCM. Every blob names the key that sealed it, so an operator can rotate: put a new
//     key first (it becomes current and seals everything new) and keep the old ones for
//     decryption until NeedsRotation reports no blob still depends on them. Callers pass
//     additional data (for example "totp:<key id>") that binds a blob to the row it belongs to,
//     so a blob copied to another row no longer decrypts.
//   - A Hasher computes keyed hashes (HMAC-SHA256) of values that are only ever compared, such
//     as token card codes, e-mailed codes and session ids. Every hash is made in a named domain
//     and every part is length-prefixed, so hashes from different purposes or different splits
//     of the same bytes never collide. Compare hashes with Hasher.Equal, which takes constant
//     time.
//
// Generate returns random bytes for new keys, codes and ids. Randomness is always passed in
// (crypto/rand.Reader in production), so tests are deterministic.
//
// Error messages never contain key material: ParseKeyring names a key by its id or its position
// in the list, never by its value.
package secrets
