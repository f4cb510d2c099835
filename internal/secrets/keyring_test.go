package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// testKey returns a 32-byte key filled with b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newTestKeyring(t *testing.T, current string, keys map[string][]byte) *Keyring {
	t.Helper()
	kr, err := NewKeyring(rand.Reader, current, keys)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

func TestKeyringRoundTrip(t *testing.T) {
	t.Parallel()
	kr := newTestKeyring(t, "k1", map[string][]byte{"k1": testKey(1)})
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty", nil, nil},
		{"totp secret", []byte("JBSWY3DPEHPK3PXP"), []byte("totp:42")},
		{"binary", bytes.Repeat([]byte{0, 255}, 300), []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			blob, err := kr.Encrypt(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if len(tt.plaintext) > 4 && bytes.Contains(blob, tt.plaintext) {
				t.Error("the blob contains the plaintext")
			}
			got, err := kr.Decrypt(blob, tt.aad)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Decrypt = %x, want %x", got, tt.plaintext)
			}
		})
	}
}

func TestKeyringBlobLayout(t *testing.T) {
	t.Parallel()
	nonce := bytes.Repeat([]byte{7}, nonceSize)
	kr, err := NewKeyring(bytes.NewReader(nonce), "key-2024", map[string][]byte{"key-2024": testKey(1)})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := kr.Encrypt([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := append([]byte{blobVersion, 8}, "key-2024"...)
	wantPrefix = append(wantPrefix, nonce...)
	if !bytes.HasPrefix(blob, wantPrefix) {
		t.Errorf("blob starts %x, want %x", blob[:len(wantPrefix)], wantPrefix)
	}
	if got, want := len(blob), len(wantPrefix)+len("secret")+tagSize; got != want {
		t.Errorf("blob is %d bytes, want %d", got, want)
	}
	// The random source is exhausted: the next nonce cannot be read.
	if _, err := kr.Encrypt([]byte("secret"), nil); err == nil {
		t.Error("Encrypt with an exhausted random source succeeded")
	}
}

func TestKeyringNoncesDiffer(t *testing.T) {
	t.Parallel()
	kr := newTestKeyring(t, "k1", map[string][]byte{"k1": testKey(1)})
	a, err := kr.Encrypt([]byte("same"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kr.Encrypt([]byte("same"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two encryptions of the same plaintext are equal")
	}
}

func TestKeyringDecryptRejects(t *testing.T) {
	t.Parallel()
	kr := newTestKeyring(t, "k1", map[string][]byte{"k1": testKey(1)})
	aad := []byte("totp:1")
	blob, err := kr.Encrypt([]byte("JBSWY3DPEHPK3PXP"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 1
		return b
	}
	otherID := bytes.Clone(blob)
	otherID[3] = 'x' // "k1" → "kx"
	tests := []struct {
		name    string
		blob    []byte
		aad     []byte
		wantErr error
	}{
		{"other aad", blob, []byte("totp:2"), ErrInvalidBlob},
		{"no aad", blob, nil, ErrInvalidBlob},
		{"flipped nonce", flip(4), aad, ErrInvalidBlob},
		{"flipped ciphertext", flip(2 + 2 + nonceSize), aad, ErrInvalidBlob},
		{"flipped tag", flip(len(blob) - 1), aad, ErrInvalidBlob},
		{"truncated", blob[:len(blob)-1-len("JBSWY3DPEHPK3PXP")], aad, ErrInvalidBlob},
		{"empty", nil, aad, ErrInvalidBlob},
		{"one byte", []byte{blobVersion}, aad, ErrInvalidBlob},
		{"other version", flip(0), aad, ErrInvalidBlob},
		{"zero id length", append([]byte{blobVersion, 0}, blob[2:]...), aad, ErrInvalidBlob},
		{"id too long", append([]byte{blobVersion, MaxKeyIDLen + 1}, blob[2:]...), aad, ErrInvalidBlob},
		{"unknown key", otherID, aad, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := kr.Decrypt(tt.blob, tt.aad)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decrypt = %q, %v; want error %v", got, err, tt.wantErr)
			}
		})
	}
}

func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	old := newTestKeyring(t, "k1", map[string][]byte{"k1": testKey(1)})
	rotated := newTestKeyring(t, "k2", map[string][]byte{"k1": testKey(1), "k2": testKey(2)})
	onlyNew := newTestKeyring(t, "k2", map[string][]byte{"k2": testKey(2)})

	oldBlob, err := old.Encrypt([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if old.NeedsRotation(oldBlob) {
		t.Error("NeedsRotation under its own current key = true")
	}
	if !rotated.NeedsRotation(oldBlob) {
		t.Error("NeedsRotation after rotation = false")
	}
	got, err := rotated.Decrypt(oldBlob, []byte("aad"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("Decrypt of an old blob = %q, %v; want secret", got, err)
	}
	newBlob, err := rotated.Encrypt(got, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if rotated.NeedsRotation(newBlob) {
		t.Error("NeedsRotation of a re-encrypted blob = true")
	}
	if got, err := onlyNew.Decrypt(newBlob, []byte("aad")); err != nil || string(got) != "secret" {
		t.Errorf("Decrypt after dropping the old key = %q, %v; want secret", got, err)
	}
	if _, err := onlyNew.Decrypt(oldBlob, []byte("aad")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Decrypt of a blob under a dropped key: err = %v, want ErrUnknownKey", err)
	}
	if rotated.NeedsRotation([]byte{9, 9}) {
		t.Error("NeedsRotation of a malformed blob = true")
	}
	if got := rotated.CurrentID(); got != "k2" {
		t.Errorf("CurrentID = %q, want k2", got)
	}
}

func TestNewKeyringValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		current string
		keys    map[string][]byte
		wantErr string // substring; empty means success
	}{
		{"ok", "a", map[string][]byte{"a": testKey(1), "b_2-C": testKey(2)}, ""},
		{"no keys", "a", nil, "no keys"},
		{"current missing", "c", map[string][]byte{"a": testKey(1)}, `current key "c" is not among the keys`},
		{"current invalid", "c d", map[string][]byte{"a": testKey(1)}, "current key id is not a valid key id"},
		{"short key", "a", map[string][]byte{"a": testKey(1)[:16]}, `encryption key "a": is 16 bytes, want 32`},
		{"long key", "a", map[string][]byte{"a": append(testKey(1), 0)}, `encryption key "a": is 33 bytes, want 32`},
		{"empty id", "a", map[string][]byte{"a": testKey(1), "": testKey(2)}, "#1 (sorted by id): id must be"},
		{"id too long", "a", map[string][]byte{"a": testKey(1), strings.Repeat("x", 33): testKey(2)}, "id must be"},
		{"id with colon", "a", map[string][]byte{"a": testKey(1), "b:c": testKey(2)}, "id must be"},
		{"longest id", strings.Repeat("x", 32), map[string][]byte{strings.Repeat("x", 32): testKey(1)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr, err := NewKeyring(rand.Reader, tt.current, tt.keys)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewKeyring: %v", err)
				}
				if kr.CurrentID() != tt.current {
					t.Errorf("CurrentID = %q, want %q", kr.CurrentID(), tt.current)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKeyring error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	if _, err := NewKeyring(nil, "a", map[string][]byte{"a": testKey(1)}); err == nil {
		t.Error("NewKeyring with a nil random source succeeded")
	}
}

func TestNewKeyringCopiesKeys(t *testing.T) {
	t.Parallel()
	key := testKey(1)
	kr := newTestKeyring(t, "a", map[string][]byte{"a": key})
	blob, err := kr.Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	clear(key)
	if _, err := kr.Decrypt(blob, nil); err != nil {
		t.Errorf("Decrypt after the caller cleared its key: %v", err)
	}
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	k1, k2 := b64(testKey(1)), b64(testKey(2))
	short := b64(bytes.Repeat([]byte{0xAB}, 16))
	tests := []struct {
		name        string
		spec        string
		wantCurrent string
		wantErrs    []string // substrings; nil means success
	}{
		{"one key", "k1:" + k1, "k1", nil},
		{"first is current", "k2:" + k2 + ",k1:" + k1, "k2", nil},
		{"spaces", " k2 : " + k2 + " , k1:" + k1 + " ", "k2", nil},
		{"unpadded", "k1:" + strings.TrimRight(k1, "="), "k1", nil},
		{"empty", "  ", "", []string{"no keys given"}},
		{"short key", "k1:" + k1 + ",k2:" + short, "", []string{`encryption key "k2": decodes to 16 bytes, want 32`}},
		{"not base64", "k1:" + k1 + ",k2:@@@@", "", []string{`encryption key "k2": is not valid standard base64`}},
		{"url base64", "k1:" + strings.NewReplacer("+", "-", "/", "_").Replace(b64(bytes.Repeat([]byte{0xFB}, 32))), "", []string{"not valid standard base64"}},
		{"no colon", k1, "", []string{"encryption key #1: want id:base64key"}},
		{"swapped", k1 + ":k1", "", []string{"encryption key #1: id must be"}},
		{"no key", "k1:", "", []string{`encryption key "k1": no key after the colon`}},
		{"trailing comma", "k1:" + k1 + ",", "", []string{"encryption key #2: empty entry"}},
		{"duplicate", "k1:" + k1 + ",k1:" + k2, "", []string{`encryption key "k1": listed twice`}},
		{"every problem", "k1:" + short + ",bad id:" + k2 + ",k3:!", "", []string{
			`"k1": decodes to 16 bytes`, "#2: id must be", `"k3": is not valid`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr, err := ParseKeyring(rand.Reader, tt.spec)
			if tt.wantErrs == nil {
				if err != nil {
					t.Fatalf("ParseKeyring: %v", err)
				}
				if got := kr.CurrentID(); got != tt.wantCurrent {
					t.Errorf("CurrentID = %q, want %q", got, tt.wantCurrent)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKeyring succeeded, want errors %q", tt.wantErrs)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseKeyring error = %q, want it to contain %q", err, want)
				}
			}
			// No key material, encoded or not, may appear in the message.
			for _, secret := range []string{k1, k2, short, strings.TrimRight(k1, "="), "q6urq6urq6ur"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("ParseKeyring error %q contains key material", err)
				}
			}
		})
	}
}

func BenchmarkEncrypt(b *testing.B) {
	kr, err := NewKeyring(rand.Reader, "k1", map[string][]byte{"k1": testKey(1)})
	if err != nil {
		b.Fatal(err)
	}
	plain, aad := []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), []byte("totp:123456")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Encrypt(plain, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	kr, err := NewKeyring(rand.Reader, "k1", map[string][]byte{"k1": testKey(1)})
	if err != nil {
		b.Fatal(err)
	}
	aad := []byte("totp:123456")
	blob, err := kr.Encrypt([]byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), aad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Decrypt(blob, aad); err != nil {
			b.Fatal(err)
		}
	}
}
