#!/usr/bin/env bash
# scripts/testdb.sh — find or start a PostgreSQL database for the tests.
#
#   scripts/testdb.sh          print a usable postgres:// URL on stdout (nothing else goes to stdout)
#   scripts/testdb.sh stop     stop and remove every throwaway cluster this script started
#
# 1. If SLEUTELBOS_TEST_POSTGRES_URL is already set and answers, print it.
# 2. If postgres://postgres@HOST:PORT/test answers, print it
#    (HOST/PORT default to 127.0.0.1:5432; override with SLEUTELBOS_TEST_PG_HOST / SLEUTELBOS_TEST_PG_PORT).
#    If the server answers but has no database "test", it is created.
# 3. Otherwise start a throwaway cluster: install Debian's postgresql package when initdb/pg_ctl are
#    missing, initdb into a temp dir (owned by the postgres user when running as root, because
#    postgres refuses to run as root), start it on a free port on 127.0.0.1 with trust auth and the
#    unix socket in the temp dir, create database "test", and print its URL. The temp dir is appended
#    to the state file (SLEUTELBOS_TESTDB_STATE, default <repo>/.testdb) so that `stop` finds it.
#
# Exits non-zero with a message on stderr when no database can be had.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SLEUTELBOS_TESTDB_STATE:-$ROOT/.testdb}"
PG_HOST="${SLEUTELBOS_TEST_PG_HOST:-127.0.0.1}"
PG_PORT="${SLEUTELBOS_TEST_PG_PORT:-5432}"
PG_USER=postgres
PG_DB=test

log() { printf 'testdb: %s\n' "$*" >&2; }
die() { printf 'testdb: ERROR: %s\n' "$*" >&2; exit 1; }

url_for() { printf 'postgres://%s@%s:%s/%s?sslmode=disable' "$PG_USER" "$1" "$2" "$PG_DB"; }

# as_root CMD... — run CMD as root (directly, or through sudo).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*' (not root and sudo is not installed)"
	fi
}

# answers URL — does a server answer a query on URL?
answers() {
	local url="$1"
	if command -v psql >/dev/null 2>&1; then
		PGCONNECT_TIMEOUT=3 psql "$url" -XAtqc 'select 1' >/dev/null 2>&1
	elif command -v pg_isready >/dev/null 2>&1; then
		# Without psql we can only see that the server accepts connections.
		pg_isready -q -t 3 -d "$url" >/dev/null 2>&1
	else
		return 1
	fi
}

# find_bindir — print a directory that holds initdb and pg_ctl (PATH first, then Debian's layout).
find_bindir() {
	local d
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		d="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
		if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return 0
		fi
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

install_postgresql() {
	command -v apt-get >/dev/null 2>&1 ||
		die "initdb/pg_ctl not found and apt-get is not available: install PostgreSQL server binaries, or set SLEUTELBOS_TEST_POSTGRES_URL"
	log "initdb/pg_ctl not found; installing Debian's postgresql package (apt-get)…"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update >&2 ||
		die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends postgresql >&2 ||
		die "apt-get install postgresql failed"
}

# port_free PORT — true when nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
	local i p
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

start_cluster() {
	local bindir tmp owner port ok=0 attempt
	bindir="$(find_bindir)" || {
		install_postgresql
		bindir="$(find_bindir)" || die "PostgreSQL was installed but initdb/pg_ctl are still not found"
	}
	log "starting a throwaway PostgreSQL cluster with $bindir"

	tmp="$(mktemp -d "${TMPDIR:-/tmp}/sleutelbos-testdb.XXXXXX")"
	# run_pg CMD... — run a PostgreSQL program as the cluster's owner.
	owner="$(id -un)"
	if [ "$(id -u)" -eq 0 ]; then
		if getent passwd postgres >/dev/null 2>&1; then
			owner=postgres
		else
			owner=nobody # postgres refuses to run as root; any unprivileged user will do
		fi
		chown "$owner" "$tmp"
		chmod 700 "$tmp"
	fi
	run_pg() {
		if [ "$(id -u)" -eq 0 ]; then
			(cd "$tmp" && runuser -u "$owner" -- "$@")
		else
			"$@"
		fi
	}
	echo "$bindir" >"$tmp/bindir"

	# Register the dir before starting, so `stop` cleans up even a half-started cluster.
	echo "$tmp" >>"$STATE"

	if ! run_pg "$bindir/initdb" -D "$tmp/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C --no-sync \
		>"$tmp/initdb.log" 2>&1; then
		cat "$tmp/initdb.log" >&2 || true
		die "initdb failed (see above); temp dir $tmp"
	fi

	for attempt in 1 2 3 4 5; do
		port="$(free_port)" || die "no free TCP port found on 127.0.0.1"
		if run_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/data/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
			start >&2; then
			ok=1
			break
		fi
		log "start on port $port failed (attempt $attempt); retrying on another port"
		tail -n 20 "$tmp/data/server.log" >&2 2>/dev/null || true
	done
	[ "$ok" = 1 ] || die "could not start PostgreSQL; temp dir $tmp (run scripts/testdb.sh stop to remove it)"

	PGCONNECT_TIMEOUT=5 run_pg "$bindir/psql" -X -q -h "$tmp" -p "$port" -U "$PG_USER" -d postgres \
		-c "create database $PG_DB" >&2 ||
		die "could not create database $PG_DB on port $port"

	local url
	url="$(url_for 127.0.0.1 "$port")"
	if command -v psql >/dev/null 2>&1 && ! answers "$url"; then
		die "throwaway cluster started on port $port but $url does not answer"
	fi
	log "throwaway cluster in $tmp, listening on 127.0.0.1:$port (stop it with: scripts/testdb.sh stop)"
	printf '%s\n' "$url"
}

stop_clusters() {
	[ -f "$STATE" ] || {
		log "nothing to stop ($STATE does not exist)"
		return 0
	}
	local dir bindir owner failed=0
	while IFS= read -r dir; do
		[ -n "$dir" ] || continue
		case "$dir" in
		*/sleutelbos-testdb.*) ;;
		*)
			log "refusing to remove unexpected path '$dir' listed in $STATE"
			failed=1
			continue
			;;
		esac
		[ -d "$dir" ] || continue
		if [ -f "$dir/data/postmaster.pid" ]; then
			bindir="$(cat "$dir/bindir" 2>/dev/null || true)"
			[ -x "$bindir/pg_ctl" ] || bindir="$(find_bindir || true)"
			owner="$(stat -c %U "$dir/data")"
			if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
				(cd "$dir" && runuser -u "$owner" -- "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2) || failed=1
			else
				"$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || failed=1
			fi
		fi
		rm -rf -- "$dir" || failed=1
		log "stopped and removed $dir"
	done <"$STATE"
	rm -f -- "$STATE"
	[ "$failed" = 0 ] || die "some throwaway clusters could not be stopped cleanly"
}

main() {
	case "${1:-start}" in
	start) ;;
	stop)
		stop_clusters
		return
		;;
	-h | --help)
		sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		return
		;;
	*) die "unknown command '$1' (want: start | stop)" ;;
	esac

	if [ -n "${SLEUTELBOS_TEST_POSTGRES_URL:-}" ]; then
		if answers "$SLEUTELBOS_TEST_POSTGRES_URL"; then
			printf '%s\n' "$SLEUTELBOS_TEST_POSTGRES_URL"
			return
		fi
		die "SLEUTELBOS_TEST_POSTGRES_URL is set but does not answer: $SLEUTELBOS_TEST_POSTGRES_URL"
	fi

	local url
	url="$(url_for "$PG_HOST" "$PG_PORT")"
	if answers "$url"; then
		printf '%s\n' "$url"
		return
	fi
	# The server may be up without a "test" database.
	if command -v psql >/dev/null 2>&1 &&
		PGCONNECT_TIMEOUT=3 psql "postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres?sslmode=disable" -XAtqc 'select 1' >/dev/null 2>&1; then
		log "creating database $PG_DB on $PG_HOST:$PG_PORT"
		psql "postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres?sslmode=disable" -Xqc "create database $PG_DB" >&2 || true
		if answers "$url"; then
			printf '%s\n' "$url"
			return
		fi
	fi
	log "no PostgreSQL answers at $PG_HOST:$PG_PORT"
	start_cluster
}

main "$@"
