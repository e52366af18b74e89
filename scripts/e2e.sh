#!/usr/bin/env bash
# Runs the Playwright suite against a real relay over HTTPS in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYWRIGHT_CHROMIUM_PATH="$(bash scripts/find-chromium.sh)"
export PLAYWRIGHT_CHROMIUM_PATH
[ -f client/build/index.html ] || npm run --silent build >/dev/null
exec npx playwright test "$@"
