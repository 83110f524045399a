#!/usr/bin/env bash
# Make Debian's PostgreSQL server binaries available for tests/search/test_postgres.py.
# Idempotent and quiet; never fails the CI run (the tests skip, saying why, without a server).
# Only the binaries are needed: the tests start their own throwaway server (initdb + pg_ctl on
# 127.0.0.1, temp data folder) and stop it at the end.
set -u
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo ".ci/postgres.sh: no apt-get here; PostgreSQL tests will skip" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo ".ci/postgres.sh: not root and no sudo; PostgreSQL tests will skip" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
        || echo ".ci/postgres.sh: apt-get install postgresql failed; PostgreSQL tests will skip" >&2
fi
exit 0
