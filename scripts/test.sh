#!/usr/bin/env bash
# The one command from a fresh machine to a test run: venv, the project with its test extra,
# the Debian packages some tests drive (Chromium, PostgreSQL 15), then pytest on two workers.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/storage -k keyset`.
# Safe with CI=true and no stdin: nothing here prompts.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export DEBIAN_FRONTEND=noninteractive

say() { printf '[test.sh] %s\n' "$*" >&2; }

have_pg_server() {
    if [[ -n "${SCIM_TEST_PG_BIN:-}" && -x "${SCIM_TEST_PG_BIN}/initdb" ]]; then
        return 0
    fi
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

# Debian packages are a convenience, never a reason to fail: without them the browser and
# PostgreSQL tests skip with a message that says what to install.
install_system_packages() {
    local wanted=()
    command -v chromium >/dev/null || wanted+=(chromium fonts-liberation)
    have_pg_server || wanted+=(postgresql-15)
    ((${#wanted[@]})) || return 0
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        say "not root or no apt-get: not installing ${wanted[*]}; the tests needing them will skip"
        return 0
    fi
    say "installing ${wanted[*]} with apt-get"
    # The package lists of a fresh machine are empty or stale: update first.
    apt-get update -qq || say "apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null \
        || say "apt-get install ${wanted[*]} failed; the tests needing them will skip"
}

if [[ ! -x $VENV/bin/python ]]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet -e '.[test]'

install_system_packages

# A run that selects no test exits 5, which callers (CI) count as a failure: deliberate.
exec "$VENV/bin/python" -m pytest -n 2 "$@"
