#!/usr/bin/env bash
# Installs what the tests need on a Debian machine when it is missing: PostgreSQL server
# binaries (the tests start their own server) and an unprivileged user to run them as root.
set -euo pipefail

have_pg() {
  [ -n "${KILT_PG_BIN:-}" ] && [ -x "$KILT_PG_BIN/initdb" ] && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  command -v initdb >/dev/null 2>&1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "test-deps: need root to run: $*" >&2; return 1; fi
}

if ! have_pg; then
  echo "test-deps: installing PostgreSQL (server binaries for the test suite)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # The tests start their own servers; the cluster the package may have started is not used.
fi

# initdb and postgres refuse to run as root: the tests run them as this user.
if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi
exit 0
