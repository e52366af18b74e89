#!/usr/bin/env bash
# Prints the path of a Chromium for Playwright (no browser download is possible here):
# PLAYWRIGHT_CHROMIUM_PATH if set, else /usr/bin/chromium, else Debian's chromium installed
# with apt when running as root, else a clear message saying what to install.
set -euo pipefail
if [ -n "${PLAYWRIGHT_CHROMIUM_PATH:-}" ]; then
  if [ -x "$PLAYWRIGHT_CHROMIUM_PATH" ]; then echo "$PLAYWRIGHT_CHROMIUM_PATH"; exit 0; fi
  echo "PLAYWRIGHT_CHROMIUM_PATH=$PLAYWRIGHT_CHROMIUM_PATH is not an executable file." >&2
  exit 1
fi
if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the end-to-end tests (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium >&2
  if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; exit 0; fi
fi
cat >&2 <<'MSG'
No Chromium found for the end-to-end tests.
Install one, for example on Debian or Ubuntu:   sudo apt-get install -y chromium
or point PLAYWRIGHT_CHROMIUM_PATH at an existing Chromium or Chrome binary.
MSG
exit 1
