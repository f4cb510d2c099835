package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// KeySize is the length of an encryption key in bytes (AES-256).
const KeySize = 32

// MaxKeyIDLen is the longest key id a Keyring accepts.
const MaxKeyIDLen = 32

const (
	blobVersion = 1
	nonceSize   = 12
	tagSize     = 16
)

// ErrUnknownKey is returned by Decrypt when a blob was sealed under a key the keyring does not
// hold (an old key was removed too early). Compare with errors.Is.
var ErrUnknownKey = errors.New("unknown encryption key")

// ErrInvalidBlob is returned by Decrypt when a blob is malformed, was tampered with, or is
// decrypted with other additional data than it was sealed with. Compare with errors.Is.
var ErrInvalidBlob = errors.New("invalid encrypted blob")

// Keyring encrypts and decrypts small secrets with AES-256-GCM under named keys. The current
// key seals new blobs; every key opens the blobs sealed under it. A Keyring is safe for
// concurrent use when its random source is (crypto/rand.Reader is).
type Keyring struct {
	rand    io.Reader
	current string
	aeads   map[string]cipher.AEAD
}

// NewKeyring returns a keyring holding keys (id → 32-byte key) that seals new blobs under the key
// called current. Ids are 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'. rand supplies the
// nonces. The keys are copied.
func NewKeyring(rand io.Reader, current string, keys map[string][]byte) (*Keyring, error) {
	if rand == nil {
		return nil, errors.New("new keyring: no random source")
	}
	if len(keys) == 0 {
		return nil, errors.New("new keyring: no keys")
	}
	if _, ok := keys[current]; !ok {
		if !validKeyID(current) {
			return nil, errors.New("new keyring: the current key id is not a valid key id")
		}
		return nil, fmt.Errorf("new keyring: current key %q is not among the keys", current)
	}
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var errs []error
	aeads := make(map[string]cipher.AEAD, len(keys))
	for i, id := range ids {
		if !validKeyID(id) {
			// An invalid id is not echoed: it may be key material pasted in the wrong place.
			errs = append(errs, fmt.Errorf("encryption key #%d (sorted by id): %s", i+1, keyIDRule))
			continue
		}
		key := keys[id]
		if len(key) != KeySize {
			errs = append(errs, fmt.Errorf("encryption key %q: is %d bytes, want %d", id, len(key), KeySize))
			continue
		}
		aead, err := newAEAD(key)
		if err != nil {
			errs = append(errs, fmt.Errorf("encryption key %q: %w", id, err))
			continue
		}
		aeads[id] = aead
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new keyring: %w", err)
	}
	return &Keyring{rand: rand, current: current, aeads: aeads}, nil
}

// ParseKeyring builds a keyring from a specification "id1:base64key,id2:base64key" as found in
// configuration. The first key is current; the others only decrypt. Keys are standard base64
// (padding optional) and decode to 32 bytes. Every problem is reported at once, and no message
// contains key material.
func ParseKeyring(rand io.Reader, spec string) (*Keyring, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("parse encryption keys: no keys given; want id:base64key[,id:base64key…]")
	}
	var (
		errs    []error
		current string
		keys    = make(map[string][]byte)
	)
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		switch {
		case entry == "":
			errs = append(errs, fmt.Errorf("encryption key #%d: empty entry", i+1))
			continue
		case !ok:
			errs = append(errs, fmt.Errorf("encryption key #%d: want id:base64key", i+1))
			continue
		case !validKeyID(id):
			errs = append(errs, fmt.Errorf("encryption key #%d: %s", i+1, keyIDRule))
			continue
		}
		if _, dup := keys[id]; dup {
			errs = append(errs, fmt.Errorf("encryption key %q: listed twice", id))
			continue
		}
		key, err := decodeKey(b64)
		if err != nil {
			errs = append(errs, fmt.Errorf("encryption key %q: %w", id, err))
			continue
		}
		if len(key) != KeySize {
			errs = append(errs, fmt.Errorf("encryption key %q: decodes to %d bytes, want %d", id, len(key), KeySize))
			continue
		}
		if i == 0 {
			current = id
		}
		keys[id] = key
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse encryption keys: %w", err)
	}
	kr, err := NewKeyring(rand, current, keys)
	if err != nil {
		return nil, fmt.Errorf("parse encryption keys: %w", err)
	}
	return kr, nil
}

// decodeKey decodes standard base64 with or without padding. Its errors never quote the input.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("no key after the colon")
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("is not valid standard base64")
	}
	return key, nil
}

// CurrentID returns the id of the key that seals new blobs.
func (k *Keyring) CurrentID() string { return k.current }

// Encrypt seals plaintext under the current key. aad is additional data that is authenticated
// but not stored: Decrypt must be given the same aad. The blob is self-describing: a version
// byte, the key id's length and the key id, a 12-byte random nonce, then the ciphertext with its
// 16-byte tag. The version and key id are authenticated too.
func (k *Keyring) Encrypt(plaintext, aad []byte) ([]byte, error) {
	id := k.current
	hdrLen := 2 + len(id)
	blob := make([]byte, hdrLen+nonceSize, hdrLen+nonceSize+len(plaintext)+tagSize)
	blob[0] = blobVersion
	blob[1] = byte(len(id))
	copy(blob[2:], id)
	nonce := blob[hdrLen : hdrLen+nonceSize]
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, fmt.Errorf("encrypt: read nonce: %w", err)
	}
	return k.aeads[id].Seal(blob, nonce, plaintext, authData(blob[:hdrLen], aad)), nil
}

// Decrypt opens a blob made by Encrypt with the same aad, using the key named in the blob, so
// blobs sealed under an older key still open after rotation as long as that key is kept.
func (k *Keyring) Decrypt(blob, aad []byte) ([]byte, error) {
	id, hdrLen, err := parseHeader(blob)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("decrypt: key %q: %w", id, ErrUnknownKey)
	}
	nonce := blob[hdrLen : hdrLen+nonceSize]
	plain, err := aead.Open(nil, nonce, blob[hdrLen+nonceSize:], authData(blob[:hdrLen], aad))
	if err != nil {
		return nil, fmt.Errorf("decrypt with key %q: authentication failed: %w", id, ErrInvalidBlob)
	}
	return plain, nil
}

// NeedsRotation reports whether blob was sealed under a key other than the current one, so it
// should be decrypted and encrypted again. A malformed blob reports false: Decrypt tells what is
// wrong with it.
func (k *Keyring) NeedsRotation(blob []byte) bool {
	id, _, err := parseHeader(blob)
	return err == nil && id != k.current
}

// parseHeader returns the key id of a blob and the length of its header (version and key id),
// checking that a nonce and a tag follow.
func parseHeader(blob []byte) (id string, hdrLen int, err error) {
	if len(blob) < 2 {
		return "", 0, fmt.Errorf("blob of %d bytes is too short: %w", len(blob), ErrInvalidBlob)
	}
	if blob[0] != blobVersion {
		return "", 0, fmt.Errorf("unsupported blob version %d: %w", blob[0], ErrInvalidBlob)
	}
	n := int(blob[1])
	if n == 0 || n > MaxKeyIDLen {
		return "", 0, fmt.Errorf("key id length %d out of range: %w", n, ErrInvalidBlob)
	}
	hdrLen = 2 + n
	if len(blob) < hdrLen+nonceSize+tagSize {
		return "", 0, fmt.Errorf("blob of %d bytes is too short: %w", len(blob), ErrInvalidBlob)
	}
	return string(blob[2:hdrLen]), hdrLen, nil
}

// authData is the GCM additional data: the blob header followed by the caller's aad. The header
// delimits itself, so the concatenation is unambiguous.
func authData(header, aad []byte) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	out = append(out, header...)
	return append(out, aad...)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

const keyIDRule = "id must be 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'"

func validKeyID(id string) bool {
	if id == "" || len(id) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
