#!/usr/bin/env bash
# Make Debian's chromium available for tests/reports/test_browser.py (the report rendered in a
# real headless browser). Idempotent and quiet; never fails the CI run (that test skips without it).
set -u
command -v chromium >/dev/null && exit 0
command -v apt-get >/dev/null || { echo ".ci/chromium.sh: no apt-get; browser test will skip" >&2; exit 0; }
[ "$(id -u)" -eq 0 ] || { echo ".ci/chromium.sh: not root; browser test will skip" >&2; exit 0; }
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
        || echo ".ci/chromium.sh: apt-get install chromium failed; browser test will skip" >&2
fi
exit 0
