package attempts

import (
	"net/netip"
	"strconv"
	"strings"
)

// Scope names one counter ("pwd:jan", "factor:7", "key:7", "ip:logon:192.0.2.1"). Build scopes
// with the constructors below, never by hand.
type Scope string

// PasswordScope counts wrong passwords for a username as typed, case-folded. It is keyed by the
// username, not the account, so unknown and known usernames behave identically.
func PasswordScope(username string) Scope {
	return Scope("pwd:" + strings.ToLower(username))
}

// FactorScope counts wrong codes of one key; the Limiter throttles it after a few failures.
func FactorScope(keyID int64) Scope {
	return Scope("factor:" + strconv.FormatInt(keyID, 10))
}

// KeyScope counts consecutive failures on one key; the logon flow locks the key when the count
// reaches KeyLockoutFailures. It is reset only by a success with that key.
func KeyScope(keyID int64) Scope {
	return Scope("key:" + strconv.FormatInt(keyID, 10))
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
