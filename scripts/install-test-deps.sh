#!/usr/bin/env bash
# Install the system packages the test suite needs, from Debian's apt repositories:
#   postgresql     - a real PostgreSQL server for `pytest --db postgres` (Debian 12 ships 15)
#   chromium       - the browser the Playwright e2e tests drive
#   fonts-noto-cjk - Chinese glyphs, so the console renders (and screenshots) properly
#   redis-server   - Redis for the trigger engine's scale-out tests (Redis Streams consumer groups)
# Only what is missing is installed; when nothing is missing this does nothing (no network).
# Runs as root, or through sudo when available; otherwise it fails with a clear message.
set -euo pipefail

log() { printf '[install-test-deps] %s\n' "$*" >&2; }

is_installed() {  # a Debian package in state "install ok installed"
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
# Any PostgreSQL server version will do (with-postgres.sh picks the newest under /usr/lib/postgresql).
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    missing+=(postgresql)
fi
if ! is_installed chromium && ! command -v chromium >/dev/null 2>&1; then
    missing+=(chromium)
fi
if ! is_installed fonts-noto-cjk; then
    missing+=(fonts-noto-cjk)
fi
if ! command -v redis-server >/dev/null 2>&1; then
    missing+=(redis-server)
fi

if [ ${#missing[@]} -eq 0 ]; then
    log "postgresql, chromium, fonts-noto-cjk and redis-server are already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    log "missing: ${missing[*]} - but apt-get is not available; install them with your package manager"
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then SUDO=(sudo); else SUDO=(sudo -n); fi  # never hang waiting for a password in CI
else
    log "missing: ${missing[*]}"
    log "installing them needs root: run this script as root, or install sudo, or run:"
    log "  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
fi

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_get=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confold)
if ! "${apt_get[@]}" update -qq; then
    log "apt-get update failed${SUDO:+ (if sudo asked for a password, run it once interactively or as root)}"
    exit 1
fi
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" </dev/null
log "installed: ${missing[*]}"
