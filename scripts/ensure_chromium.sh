#!/usr/bin/env bash
# Makes Debian's `chromium` available for the report's headless browser test
# (tests/test_report_browser.py). Installs it with apt-get when missing and this is root;
# otherwise says why not and leaves the test to fail with that reason. Prints what it does.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure_chromium: chromium is missing and this is not root: install it with" \
       "'sudo apt-get install -y chromium' (the report browser test needs it)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium is missing and there is no apt-get here: install a" \
       "Chromium and put 'chromium' on PATH (the report browser test needs it)" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium (apt-get install -y chromium)..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q chromium >&2; then
  echo "ensure_chromium: retrying after apt-get update" >&2
  apt-get update -q >&2 && apt-get install -y -q chromium >&2 || \
    echo "ensure_chromium: apt-get could not install chromium (see above)" >&2
fi
command -v chromium >/dev/null 2>&1 && echo "ensure_chromium: $(chromium --version 2>/dev/null)" >&2
exit 0
