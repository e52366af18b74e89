#!/usr/bin/env bash
# The independent PDF signature checkers the tests use: poppler's pdfsig (and pdftoppm), OpenSSL,
# and NSS's certutil (pdfsig trusts the enterprise CA through an NSS database). Installed with
# apt when missing and running as root; otherwise a clear message says what to install.
set -euo pipefail
missing=()
command -v pdfsig >/dev/null 2>&1 || missing+=(poppler-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} for the PDF signature checks (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
  exit 0
fi
echo "The PDF signature tests need: ${missing[*]} (Debian or Ubuntu: sudo apt-get install -y ${missing[*]})" >&2
exit 1
