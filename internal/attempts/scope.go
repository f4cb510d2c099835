package attempts

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// Scope names one counter ("pwd:<hash>", "factor:7", "ip:logon:192.0.2.1"). Build scopes with
// the constructors below, never by hand.
type Scope string

// PasswordScope counts wrong passwords for a username as typed, case-folded. It is keyed by the
// username, not the account, so unknown and known usernames behave identically. The username
// is hashed: what people type there is sometimes their password, and scopes end up in the
// database and in error messages.
func PasswordScope(username string) Scope {
	sum := sha256.Sum256([]byte(strings.ToLower(username)))
	return Scope("pwd:" + hex.EncodeToString(sum[:16]))
}

// DeviceScope counts wrong passwords typed in one browser that logged its citizen on before
// (its device cookie's id): that browser's own budget, apart from the username's, so failures
// elsewhere cannot lock the citizen out of it. The id is hashed like a username.
func DeviceScope(deviceID string) Scope {
	sum := sha256.Sum256([]byte(deviceID))
	return Scope("dev:" + hex.EncodeToString(sum[:16]))
}

// FactorScope counts consecutive wrong codes of one key: the Limiter throttles it after a few,
// and the logon flow locks the key when the count reaches KeyLockoutFailures.
func FactorScope(keyID int64) Scope {
	return Scope("factor:" + strconv.FormatInt(keyID, 10))
}

// EnrolmentScope counts consecutive wrong registration codes of one account's key activations,
// whatever the kind: there is no key to count them on yet, and a new activation must not
// start the count again. Like FactorScope, the Limiter throttles it after a few and the portal
// ends the activation when the count reaches KeyLockoutFailures.
func EnrolmentScope(accountID int64) Scope {
	return Scope("enrol:" + strconv.FormatInt(accountID, 10))
}

// EmailChangeScope counts consecutive wrong codes for a new e-mail address of one account.
func EmailChangeScope(accountID int64) Scope {
	return Scope("email:" + strconv.FormatInt(accountID, 10))
}

// ForgedScope counts the requests of one account to My digital keys that named something the
// pages never offered (a forged form or URL). Nothing is refused by it: it bounds the audit
// events they write, which are aggregated like throttled requests once it throttles.
func ForgedScope(accountID int64) Scope {
	return Scope("forged:" + strconv.FormatInt(accountID, 10))
}

// IPScope counts an action ("logon", "code") from one client address. IPv4-mapped IPv6
// addresses count as their IPv4 address, and IPv6 addresses count per /64 network, the
// smallest block a client usually holds, so an attacker cannot escape the limit by rotating
// addresses within it. An unparsable address is used as given.
func IPScope(action, ip string) Scope {
	return Scope("ip:" + action + ":" + clientNetwork(ip))
}

func clientNetwork(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// RecoveryScope counts the requests of one recovery page (page: "username", "password") for
// one typed e-mail address or username, given as a keyed hash of it (the caller's): known and
// unknown ones count alike, and what people type there is sometimes a password. Each page
// counts apart, so filling one page's limit for an address does not close another page.
func RecoveryScope(page, identifierHash string) Scope {
	return Scope("recover:" + page + ":" + identifierHash)
}
