#!/usr/bin/env bash
# scripts/e2e.sh [playwright args…] — run the Playwright browser tests in e2e/.
#
# - installs Debian's chromium with apt-get when /usr/bin/chromium is missing (Playwright's own
#   browser download is not used);
# - runs `npm ci` in e2e/ when node_modules is missing or older than package.json/package-lock.json;
# - builds the server into e2e/.bin/sleutelbos (global-setup.ts starts it with `serve --demo`)
#   and the test SMTP server into e2e/.bin/smtpsink (phaseout.spec.ts starts both of its own);
# - runs `npx playwright test` with any arguments given here (e.g. -g 'password', --headed).
#
# SLEUTELBOS_E2E_URL=http://127.0.0.1:8080 tests a server that is already running instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'e2e: %s\n' "$*" >&2; }
die() { printf 'e2e: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*' (not root and sudo is not installed)"
	fi
}

apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get is not available; install $* yourself"
	log "installing $* with apt-get…"
	# Wait for a dpkg lock held by another apt run instead of failing.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update >&2 ||
		die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y "$@" >&2 ||
		die "apt-get install $* failed"
}

# 1. The browser: Debian's Chromium.
if [ ! -x /usr/bin/chromium ]; then
	apt_install chromium
	[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is still missing after installing chromium"
fi

# 2. Node.js (Playwright needs 20 or newer).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
	die "node and npm are needed (Node.js 20 or newer): https://nodejs.org/ or your package manager"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old; Playwright needs 20 or newer"

# 3. npm packages, when missing or stale (stamp = hash of package.json + package-lock.json).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp_file=e2e/node_modules/.sleutelbos-npm-ci
want_stamp="$(cat e2e/package.json e2e/package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -d e2e/node_modules ] || [ "$(cat "$stamp_file" 2>/dev/null || true)" != "$want_stamp" ]; then
	log "npm ci in e2e/"
	(cd e2e && npm ci --no-audit --no-fund >&2)
	echo "$want_stamp" >"$stamp_file"
fi

# 4. The server under test (not needed when testing a running server).
if [ -z "${SLEUTELBOS_E2E_URL:-}" ]; then
	log "go build -o e2e/.bin/sleutelbos ./cmd/sleutelbos"
	go build -o e2e/.bin/sleutelbos ./cmd/sleutelbos
fi
# The SMTP server whose mail phaseout.spec.ts reads (a test tool, never deployed).
log "go build -o e2e/.bin/smtpsink ./cmd/smtpsink"
go build -o e2e/.bin/smtpsink ./cmd/smtpsink

# 5. The tests.
cd e2e
exec npx --no-install playwright test "$@"
