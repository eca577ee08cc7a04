#!/usr/bin/env bash
# Refreshes docs/screenshots/: every page a citizen meets (sign-in, registration, recovery,
# reset, the account page with its sessions and deletion, a pending deletion and its cancel
# page, the channel pages, the freeze) in Kazakh, on a phone-sized and a desktop-sized
# window, taken in Debian's headless Chromium by the browser tests (TestScreenshots in
# internal/web/browser, which names each file) against a whole Kilt with its own SMTP
# server and SMS gateway.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/test-deps.sh"
cd "$REPO"
KILT_TEST_BROWSER=1 KILT_SCREENSHOTS="$REPO/docs/screenshots" \
  "${GO:-go}" test -count=1 -run '^TestScreenshots$' ./internal/web/browser/
ls docs/screenshots/*.png
