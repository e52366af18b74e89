#!/usr/bin/env bash
# Every test: type checks, unit and integration tests, the SPA build, end-to-end tests in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s ==\n' "$1"; }
step "type checks (tsc, svelte-check)"
npm run --silent check
step "unit and integration tests (vitest)"
bash scripts/pdf-tools.sh
npx vitest run
step "build the SPA"
npm run --silent build >/dev/null
step "end-to-end tests (Playwright, Chromium, HTTPS relay)"
bash scripts/e2e.sh
