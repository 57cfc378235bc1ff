#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server:
#
#   scripts/with-postgres.sh pytest --db postgres
#
# Creates a fresh cluster in a temporary directory (initdb), starts it on 127.0.0.1 at a free port with
# durability turned off (fsync=off: it is thrown away anyway), creates the database `omniloop_test`,
# exports OMNILOOP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/omniloop_test and runs
# the command. The server is stopped and its directory removed when the command ends, fails or is
# interrupted. The exit status is the command's.
#
# PostgreSQL refuses to run as root, so when run as root the server runs as the `postgres` system user
# (created by Debian's postgresql package); otherwise it runs as the calling user.
set -euo pipefail

log() { printf '[with-postgres] %s\n' "$*" >&2; }

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

bindir=""
for dir in $(compgen -G '/usr/lib/postgresql/*/bin' | sort -V); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && bindir=$dir
done
if [ -z "$bindir" ]; then
    log "no PostgreSQL server found under /usr/lib/postgresql/*/bin; install it with scripts/install-test-deps.sh"
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        log "running as root needs the 'postgres' system user (Debian's postgresql package creates it)"
        exit 1
    fi
    if command -v runuser >/dev/null 2>&1; then
        as_pg() { runuser -u postgres -- "$@"; }
    else
        as_pg() { su -s /bin/sh postgres -c "$(printf '%q ' "$@")"; }
    fi
else
    as_pg() { "$@"; }
fi

free_port() {
    python3 - <<'PY'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
PY
}

workdir=$(mktemp -d "${TMPDIR:-/tmp}/omniloop-pg.XXXXXX")
chmod 700 "$workdir"
[ "$(id -u)" -eq 0 ] && chown postgres: "$workdir"
datadir=$workdir/data
logfile=$workdir/server.log
started=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$started" -eq 1 ]; then
        as_pg "$bindir/pg_ctl" -D "$datadir" -m immediate -w -t 30 stop >/dev/null 2>&1 \
            || log "could not stop the server cleanly (data dir $datadir)"
    fi
    rm -rf "$workdir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! as_pg "$bindir/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 --no-locale --no-sync \
        >"$workdir/initdb.log" 2>&1; then
    log "initdb failed:"
    cat "$workdir/initdb.log" >&2
    exit 1
fi

# A free port can be taken by someone else between probing and binding: retry a few times.
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    # pg_ctl hands -o to a shell: keep it on one line.
    opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$workdir'"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    if as_pg "$bindir/pg_ctl" -D "$datadir" -l "$logfile" -w -t 60 -s start -o "$opts" >/dev/null 2>&1; then
        started=1
        break
    fi
    log "server did not start on port $port (attempt $attempt)"
done
if [ "$started" -ne 1 ]; then
    log "could not start PostgreSQL; server log:"
    cat "$logfile" >&2 || true
    exit 1
fi

"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE omniloop_test" >/dev/null
version=$("$bindir/psql" -X -At -h 127.0.0.1 -p "$port" -U postgres -d omniloop_test -c "SHOW server_version")
log "PostgreSQL $version on 127.0.0.1:$port (data in $datadir, removed on exit)"

export OMNILOOP_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/omniloop_test"
set +e
"$@"
rc=$?
set -e
exit "$rc"
