package password

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Citizens imported from another system bring that system's password hashes (SPEC §11). They
// are stored as given — each format names itself — verified at logon like argon2id hashes
// (under the same bounded concurrency, in cost classes of their own, with the same timing
// equalisation), and replaced by an argon2id hash at the first right password. The formats:
//
//	$argon2id$v=19$m=…,t=…,p=…$salt$hash       argon2id (PHC), within Params.Validate's bounds
//	$2a$10$…, $2b$…, $2y$…                     bcrypt, cost MinBcryptCost to MaxBcryptCost
//	$pbkdf2-sha256$i=…[,l=…]$salt$hash          PBKDF2 (PHC: standard base64 without padding)
//	$pbkdf2-sha256$ROUNDS$salt$hash             PBKDF2 (passlib: "adapted" base64, . for +)
//	pbkdf2_sha256$ROUNDS$salt$hash              PBKDF2 (Django: salt as text, hash in base64)
//
// and the same with sha512. An empty hash is no password at all (imported as "none"): it never
// matches, and the forgotten-password flow is the citizen's way in.
//
// The bounds keep a hash read from a file or the database from asking for unbounded work: a
// failed logon costs what the dearest class in use costs (equalize.go), so one absurd hash
// would make every failed logon of every citizen absurdly slow. The minimum PBKDF2 iteration
// count refuses what is a salted fast hash in all but name; those accounts are imported as
// "none".
const (
	// MinBcryptCost and MaxBcryptCost bound a bcrypt hash's cost (log2 of its rounds). 4 is
	// bcrypt's own minimum; cost 10 takes some 70 ms to verify, 16 some 5 seconds, 31 two days.
	MinBcryptCost = bcrypt.MinCost
	MaxBcryptCost = 16
	// MinPBKDF2Iterations and MaxPBKDF2Iterations bound a PBKDF2 hash's iteration count. 10,000
	// was Django's first default (2012) and is above passlib's oldest; fewer is refused.
	// 10,000,000 is over eight times Django's current default and takes seconds to verify.
	MinPBKDF2Iterations = 10_000
	MaxPBKDF2Iterations = 10_000_000
	// minLegacySalt and maxLegacySalt bound a PBKDF2 salt, in bytes (RFC 8018: at least 64 bits).
	minLegacySalt = 8
	maxLegacySalt = 64
	// minPBKDF2Key and maxPBKDF2Key bound a PBKDF2 hash's length, in bytes.
	minPBKDF2Key = 16
	maxPBKDF2Key = 64
)

// An import is bounded tighter than what Verify accepts (which stays as wide as before, so no
// stored hash stops working): a failed logon of an account of a class costs that class's work,
// inside a hashing slot, and every other failure waits as long (equalize.go), so one imported
// class that takes seconds would make every failed logon take seconds. At these bounds a hash
// takes some 1 to 1.5 s on a current server core; an argon2id hash also needs no more memory
// than a slot is given (the configured parameters' memory: the Hasher runs at most its
// concurrency of hashes at once, which bounds memory only while no hash takes more).
const (
	// MaxImportBcryptCost is the dearest bcrypt cost an import accepts.
	MaxImportBcryptCost = 14
	// MaxImportPBKDF2Iterations is the most PBKDF2 iterations an import accepts (over twice
	// Django's 2025 default).
	MaxImportPBKDF2Iterations = 2_000_000
	// MaxImportArgon2Time and MaxImportArgon2Threads bound an imported argon2id hash's passes
	// and lanes.
	MaxImportArgon2Time    = 10
	MaxImportArgon2Threads = 8
)

// ErrImportBound is wrapped by CheckImport's errors for a valid hash whose parameters are
// dearer than an import accepts.
var ErrImportBound = errors.New("password hash too dear to import")

// CheckImport checks a password hash brought by an import, as Inspect does, and also against
// the import bounds: an argon2id hash may not need more memory than slot (the configured
// parameters' memory, KiB), nor more than MaxImportArgon2Time passes or MaxImportArgon2Threads
// lanes; bcrypt at most MaxImportBcryptCost; PBKDF2 at most MaxImportPBKDF2Iterations. An error
// wraps ErrMalformedHash or ErrImportBound and names the bound.
func CheckImport(encoded string, slot uint32) (HashInfo, error) {
	info, err := Inspect(encoded)
	if err != nil || info.Format == FormatNone {
		return info, err
	}
	s, _ := parseStored(encoded) // Inspect parsed it
	c := s.class
	fail := func(format string, args ...any) (HashInfo, error) {
		return HashInfo{}, fmt.Errorf("%w: %s (import such accounts with none: the citizen then sets a password "+
			"through the forgotten-password flow)", ErrImportBound, fmt.Sprintf(format, args...))
	}
	switch c.alg {
	case argon2id:
		switch {
		case c.params.Memory > slot:
			return fail("argon2id memory m=%d KiB is more than the %d KiB a hashing slot is given (password-memory-kib)", c.params.Memory, slot)
		case c.params.Time > MaxImportArgon2Time:
			return fail("argon2id time t=%d is more than %d", c.params.Time, MaxImportArgon2Time)
		case c.params.Threads > MaxImportArgon2Threads:
			return fail("argon2id parallelism p=%d is more than %d", c.params.Threads, MaxImportArgon2Threads)
		}
	case bcryptAlg:
		if c.cost > MaxImportBcryptCost {
			return fail("bcrypt cost %d is more than %d", c.cost, MaxImportBcryptCost)
		}
	case pbkdf2SHA256, pbkdf2SHA512:
		// The work is the iterations times the blocks of output (l= longer than a digest).
		blocks := (c.keyLen + c.alg.digestSize() - 1) / c.alg.digestSize()
		if c.cost*blocks > MaxImportPBKDF2Iterations {
			return fail("PBKDF2 with %d iterations (%d blocks of output) is more than %d iterations of work", c.cost, blocks, MaxImportPBKDF2Iterations)
		}
	}
	return info, nil
}

// algorithm is a hash function a cost class runs.
type algorithm uint8

const (
	argon2id algorithm = iota
	bcryptAlg
	pbkdf2SHA256
	pbkdf2SHA512
)

// digestSize returns the output size of a PBKDF2 algorithm's hash function, in bytes.
func (a algorithm) digestSize() int {
	if a == pbkdf2SHA512 {
		return sha512.Size
	}
	return sha256.Size
}

// pbkdf2Name returns the PHC name of a PBKDF2 algorithm.
func (a algorithm) pbkdf2Name() string {
	if a == pbkdf2SHA512 {
		return "pbkdf2-sha512"
	}
	return "pbkdf2-sha256"
}

// stored is a decoded stored hash: its cost class and what checking a password takes.
type stored struct {
	class  costClass
	format string
	// salt is what the class's function is run with. For bcrypt, whose package does not expose
	// the raw function, it is the whole stored hash (see deriveKey).
	salt []byte
	// want is what the function's result must equal.
	want []byte
	// params are an argon2id hash's parameters with its salt and key lengths, to decide a
	// rehash; other formats always need one.
	params Params
}

// Formats, as Inspect reports them.
const (
	FormatNone     = "none"
	FormatArgon2id = "argon2id"
	FormatBcrypt   = "bcrypt"
)

// HashInfo describes a stored password hash without revealing it.
type HashInfo struct {
	// Format is FormatNone, FormatArgon2id, FormatBcrypt, "pbkdf2-sha256" or "pbkdf2-sha512"
	// (PHC), "passlib pbkdf2-sha256"/"passlib pbkdf2-sha512" or "django pbkdf2_sha256"/
	// "django pbkdf2_sha512".
	Format string
	// Class is the cost class, a canonical name for the algorithm and its parameters
	// ("$2b$10", "$pbkdf2-sha256$i=600000,l=32"); empty for none.
	Class string
}

// Inspect checks a password hash brought from another system (or read from the store) and
// says what it is. The empty string is no password (FormatNone). A hash this package cannot
// verify, or whose parameters are outside the accepted bounds, yields an error wrapping
// ErrMalformedHash that says what is wrong and what is accepted.
func Inspect(encoded string) (HashInfo, error) {
	if encoded == "" {
		return HashInfo{Format: FormatNone}, nil
	}
	s, err := parseStored(encoded)
	if err != nil {
		return HashInfo{}, err
	}
	return HashInfo{Format: s.format, Class: s.class.name}, nil
}

// parseStored decodes any hash format this package verifies.
func parseStored(encoded string) (stored, error) {
	switch {
	case encoded == "":
		return stored{}, fmt.Errorf("%w: no password", ErrMalformedHash)
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, salt, key, err := decode(encoded)
		if err != nil {
			return stored{}, err
		}
		return stored{class: classOf(p), format: FormatArgon2id, salt: salt, want: key, params: p}, nil
	case strings.HasPrefix(encoded, "$2"):
		return parseBcrypt(encoded)
	case strings.HasPrefix(encoded, "$pbkdf2-"):
		return parsePBKDF2(encoded)
	case strings.HasPrefix(encoded, "pbkdf2_"):
		return parseDjango(encoded)
	}
	return stored{}, fmt.Errorf("%w: unknown format: want argon2id ($argon2id$…), bcrypt ($2a$, $2b$, $2y$), "+
		"PBKDF2-SHA256/512 in PHC, passlib or Django form ($pbkdf2-sha256$…, pbkdf2_sha256$…), or none", ErrMalformedHash)
}

// bcryptAlphabet is bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseBcrypt reads "$2b$10$" followed by 22 characters of salt and 31 of hash.
func parseBcrypt(encoded string) (stored, error) {
	fail := func(format string, args ...any) (stored, error) {
		return stored{}, fmt.Errorf("%w: bcrypt: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 4 || fields[0] != "" {
		return fail("want $2b$COST$ and 53 characters of salt and hash")
	}
	switch fields[1] {
	case "2a", "2b", "2y":
	default:
		return fail("version $%s$ is not $2a$, $2b$ or $2y$", fields[1])
	}
	cost, err := bcryptCost(fields[2])
	if err != nil {
		return fail("%v", err)
	}
	if len(fields[3]) != 53 || strings.Trim(fields[3], bcryptAlphabet) != "" {
		return fail("salt and hash are %d characters, want 53 of bcrypt's base64 alphabet", len(fields[3]))
	}
	return stored{class: bcryptClass(cost), format: FormatBcrypt, salt: []byte(encoded), want: bcryptMatch}, nil
}

// bcryptCost reads a bcrypt cost: two digits, within the accepted bounds.
func bcryptCost(s string) (int, error) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, fmt.Errorf("cost %q is not two digits", s)
	}
	cost, _ := strconv.Atoi(s)
	if cost < MinBcryptCost || cost > MaxBcryptCost {
		return 0, fmt.Errorf("cost %d is out of range: accepted %d to %d", cost, MinBcryptCost, MaxBcryptCost)
	}
	return cost, nil
}

// bcryptMatch and bcryptMismatch are what deriveKey returns for bcrypt.
var (
	bcryptMatch    = []byte{1}
	bcryptMismatch = []byte{0}
)

// bcryptClass returns the cost class of bcrypt hashes of cost: the version letter does not
// change the work.
func bcryptClass(cost int) costClass {
	return costClass{name: fmt.Sprintf("$2b$%02d", cost), alg: bcryptAlg, cost: cost}
}

// pbkdf2Class returns the cost class of PBKDF2 hashes: the work is the iterations times the
// blocks of output.
func pbkdf2Class(alg algorithm, iter, keyLen int) costClass {
	return costClass{name: fmt.Sprintf("$%s$i=%d,l=%d", alg.pbkdf2Name(), iter, keyLen), alg: alg, cost: iter, keyLen: keyLen}
}

// pbkdf2Alg reads the algorithm of "pbkdf2-sha256" (PHC, passlib) or "pbkdf2_sha256" (Django).
func pbkdf2Alg(name string) (algorithm, bool) {
	switch strings.Replace(name, "_", "-", 1) {
	case "pbkdf2-sha256":
		return pbkdf2SHA256, true
	case "pbkdf2-sha512":
		return pbkdf2SHA512, true
	}
	return 0, false
}

// pbkdf2Iterations reads an iteration count within the accepted bounds.
func pbkdf2Iterations(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("iteration count %q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxPBKDF2Iterations {
		return 0, fmt.Errorf("%s iterations is too many: accepted %d to %d", s, MinPBKDF2Iterations, MaxPBKDF2Iterations)
	}
	if n < MinPBKDF2Iterations {
		return 0, fmt.Errorf("%d iterations is too few: at least %d are required (import such accounts with none: "+
			"the citizen then sets a password through the forgotten-password flow)", n, MinPBKDF2Iterations)
	}
	return n, nil
}

// passlibB64 is passlib's "adapted base64": standard base64 with . for +, unpadded.
var passlibB64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").WithPadding(base64.NoPadding).Strict()

// parsePBKDF2 reads the PHC form ($pbkdf2-sha256$i=N[,l=L]$salt$hash, standard base64 without
// padding) and passlib's ($pbkdf2-sha256$N$salt$hash, adapted base64).
func parsePBKDF2(encoded string) (stored, error) {
	fields := strings.Split(encoded, "$")
	name := "pbkdf2"
	if len(fields) > 1 {
		name = fields[1]
	}
	fail := func(format string, args ...any) (stored, error) {
		return stored{}, fmt.Errorf("%w: %s: %s", ErrMalformedHash, name, fmt.Sprintf(format, args...))
	}
	if len(fields) != 5 || fields[0] != "" {
		return fail("want $%s$i=ITERATIONS,l=LENGTH$salt$hash (PHC) or $%s$ITERATIONS$salt$hash (passlib)", name, name)
	}
	alg, ok := pbkdf2Alg(name)
	if !ok || strings.Contains(name, "_") {
		return fail("algorithm %q is not pbkdf2-sha256 or pbkdf2-sha512", name)
	}
	params, enc, format, passlib := fields[2], b64, alg.pbkdf2Name(), false
	keyLen := 0 // from the hash, unless the parameters name it
	if strings.HasPrefix(params, "i=") {
		iter, l, hasL := strings.Cut(strings.TrimPrefix(params, "i="), ",l=")
		params = iter
		if hasL {
			n, err := strconv.Atoi(l)
			if err != nil || n < minPBKDF2Key || n > maxPBKDF2Key || strings.Trim(l, "0123456789") != "" {
				return fail("length l=%s is not %d to %d", l, minPBKDF2Key, maxPBKDF2Key)
			}
			keyLen = n
		}
	} else {
		enc, format, passlib = passlibB64, "passlib "+format, true
	}
	iter, err := pbkdf2Iterations(params)
	if err != nil {
		return fail("%v", err)
	}
	salt, err := enc.DecodeString(fields[3])
	if err != nil {
		return fail("salt is not base64 of the %s form", format)
	}
	want, err := enc.DecodeString(fields[4])
	if err != nil {
		return fail("hash is not base64 of the %s form", format)
	}
	if len(salt) < minLegacySalt || len(salt) > maxLegacySalt {
		return fail("salt is %d bytes, want %d to %d", len(salt), minLegacySalt, maxLegacySalt)
	}
	switch {
	case keyLen != 0 && len(want) != keyLen:
		return fail("hash is %d bytes, but l=%d", len(want), keyLen)
	case passlib && len(want) != alg.digestSize():
		return fail("hash is %d bytes, want %d", len(want), alg.digestSize())
	case keyLen == 0 && (len(want) < minPBKDF2Key || len(want) > alg.digestSize()):
		// Without l=, the class (which the store keeps without the hash) assumes one block.
		return fail("hash is %d bytes, want %d to %d (or name its length with l=)", len(want), minPBKDF2Key, alg.digestSize())
	}
	return stored{class: pbkdf2Class(alg, iter, len(want)), format: format, salt: salt, want: want}, nil
}

// parseDjango reads Django's form: pbkdf2_sha256$ITERATIONS$salt$hash, the salt as text (used
// as its UTF-8 bytes) and the hash in padded standard base64, as long as the hash function's
// output.
func parseDjango(encoded string) (stored, error) {
	fields := strings.Split(encoded, "$")
	fail := func(format string, args ...any) (stored, error) {
		return stored{}, fmt.Errorf("%w: %s (Django): %s", ErrMalformedHash, fields[0], fmt.Sprintf(format, args...))
	}
	if len(fields) != 4 {
		return fail("want %s$ITERATIONS$salt$hash", fields[0])
	}
	alg, ok := pbkdf2Alg(fields[0])
	if !ok || strings.Contains(fields[0], "-") {
		return fail("algorithm %q is not pbkdf2_sha256 or pbkdf2_sha512", fields[0])
	}
	iter, err := pbkdf2Iterations(fields[1])
	if err != nil {
		return fail("%v", err)
	}
	salt := []byte(fields[2])
	if len(salt) < minLegacySalt || len(salt) > maxLegacySalt {
		return fail("salt is %d bytes, want %d to %d", len(salt), minLegacySalt, maxLegacySalt)
	}
	want, err := base64.StdEncoding.Strict().DecodeString(fields[3])
	if err != nil {
		return fail("hash is not padded base64")
	}
	if len(want) != alg.digestSize() {
		return fail("hash is %d bytes, want %d", len(want), alg.digestSize())
	}
	return stored{class: pbkdf2Class(alg, iter, len(want)), format: "django " + fields[0], salt: salt, want: want}, nil
}

// parseClass reads a cost class as the store reports it: a stored hash without its salt and
// digest ("$argon2id$v=19$m=19456,t=2,p=1", "$2a$10", "$pbkdf2-sha256$i=600000,l=32",
// "$pbkdf2-sha256$29000", "pbkdf2_sha256$870000"). A class this package cannot verify is
// reported as not ok and counts for nothing (it could not log on either).
func parseClass(s string, def Params) (costClass, bool) {
	fields := strings.Split(s, "$")
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		// decode checks a whole PHC string: give it a salt and digest of the default lengths.
		salt := b64.EncodeToString(make([]byte, def.SaltLen))
		key := b64.EncodeToString(make([]byte, def.KeyLen))
		p, _, _, err := decode(s + "$" + salt + "$" + key)
		if err != nil {
			return costClass{}, false
		}
		return classOf(p), true
	case len(fields) == 3 && fields[0] == "" && (fields[1] == "2a" || fields[1] == "2b" || fields[1] == "2y"):
		cost, err := bcryptCost(fields[2])
		return bcryptClass(cost), err == nil
	case len(fields) == 3 && fields[0] == "" && strings.HasPrefix(fields[1], "pbkdf2-"):
		alg, ok := pbkdf2Alg(fields[1])
		params := fields[2]
		keyLen := alg.digestSize()
		if rest, isPHC := strings.CutPrefix(params, "i="); isPHC {
			iter, l, hasL := strings.Cut(rest, ",l=")
			params = iter
			if hasL {
				n, err := strconv.Atoi(l)
				if err != nil || n < minPBKDF2Key || n > maxPBKDF2Key {
					return costClass{}, false
				}
				keyLen = n
			}
		}
		iter, err := pbkdf2Iterations(params)
		return pbkdf2Class(alg, iter, keyLen), ok && err == nil
	case len(fields) == 2 && strings.HasPrefix(fields[0], "pbkdf2_"):
		alg, ok := pbkdf2Alg(fields[0])
		iter, err := pbkdf2Iterations(fields[1])
		return pbkdf2Class(alg, iter, alg.digestSize()), ok && err == nil
	}
	return costClass{}, false
}

// dummySalt returns what a hash of class c that checks nothing is run with (to measure the
// class, or to equalise): its cost does not depend on the salt's value.
func (c costClass) dummySalt() []byte {
	switch c.alg {
	case bcryptAlg:
		return []byte(fmt.Sprintf("$2b$%02d$%s", c.cost, strings.Repeat(".", 53)))
	case pbkdf2SHA256, pbkdf2SHA512:
		return make([]byte, 16)
	}
	return make([]byte, c.params.SaltLen)
}

// deriveKey runs class c's hash function on password: argon2id and PBKDF2 return the key
// derived with salt; bcrypt, whose package only compares, returns bcryptMatch when password
// matches the whole stored hash given as salt.
func deriveKey(c costClass, password, salt []byte) []byte {
	switch c.alg {
	case bcryptAlg:
		if bcrypt.CompareHashAndPassword(salt, password) == nil {
			return bcryptMatch
		}
		return bcryptMismatch
	case pbkdf2SHA256:
		key, err := pbkdf2.Key(sha256.New, string(password), salt, c.cost, c.keyLen)
		if err != nil { // only for a key length out of range, which parsing refuses
			return nil
		}
		return key
	case pbkdf2SHA512:
		key, err := pbkdf2.Key(sha512.New, string(password), salt, c.cost, c.keyLen)
		if err != nil {
			return nil
		}
		return key
	}
	p := c.params
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}
