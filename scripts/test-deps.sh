#!/usr/bin/env bash
# Installs what the tests need on a Debian machine when it is missing: PostgreSQL server
# binaries (the tests start their own server) and an unprivileged user to run them as root;
# Chromium (the browser tests drive it headless) and axe-core (the accessibility checker
# they inject into each page); Redocly CLI (the OpenAPI document's lint). Quiet when
# everything is there. It exports nothing: the tests find Chromium through $KILT_CHROME or
# PATH, axe-core through $KILT_AXE or .cache/axe/node_modules/axe-core/axe.min.js, and
# Redocly CLI through $KILT_REDOCLY or .cache/redocly/node_modules/.bin/redocly.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

have_pg() {
  [ -n "${KILT_PG_BIN:-}" ] && [ -x "$KILT_PG_BIN/initdb" ] && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  command -v initdb >/dev/null 2>&1
}

have_chrome() {
  [ -n "${KILT_CHROME:-}" ] && [ -x "$KILT_CHROME" ] && return 0
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

have_axe() {
  [ -n "${KILT_AXE:-}" ] && [ -f "$KILT_AXE" ] && return 0
  [ -f "$REPO/.cache/axe/node_modules/axe-core/axe.min.js" ]
}

have_redocly() {
  [ -n "${KILT_REDOCLY:-}" ] && [ -x "$KILT_REDOCLY" ] && return 0
  [ -x "$REPO/.cache/redocly/node_modules/.bin/redocly" ]
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "test-deps: need root to run: $*" >&2; return 1; fi
}

updated=no
apt_install() {
  if [ "$updated" = no ]; then
    as_root apt-get update -qq
    updated=yes
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! have_pg; then
  echo "test-deps: installing PostgreSQL (server binaries for the test suite)"
  # The tests start their own servers; the cluster the package may have started is not used.
  apt_install postgresql
fi

# initdb and postgres refuse to run as root: the tests run them as this user.
if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

if ! have_chrome; then
  echo "test-deps: installing Chromium (headless browser for the browser tests)"
  # Debian's build, not one downloaded by a tool: Debian keeps it patched. The fonts cover
  # the Cyrillic and Kazakh letters of the pages the screenshots show.
  apt_install chromium fonts-dejavu-core
fi

if ! have_axe; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test-deps: installing npm (to fetch axe-core)"
    apt_install npm
  fi
  echo "test-deps: installing axe-core into .cache/axe (accessibility checks of the pages)"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$REPO/.cache/axe" axe-core@4 >/dev/null
fi

if ! have_redocly; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test-deps: installing npm (to fetch Redocly CLI)"
    apt_install npm
  fi
  echo "test-deps: installing Redocly CLI into .cache/redocly (lint of the OpenAPI document)"
  # Pinned: a release known to install and to run on the Node.js Debian ships.
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$REPO/.cache/redocly" @redocly/cli@2.77.0 >/dev/null
fi
exit 0
