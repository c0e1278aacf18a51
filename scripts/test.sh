#!/usr/bin/env bash
# Install everything and run the whole test suite: lint, types, the contract's forge tests and
# Slither, then pytest.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --test

if [[ ! -x /usr/bin/chromium ]] && [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium (headless screenshot test of the audit report)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "warning: chromium could not be installed; the screenshot test will be skipped" >&2
fi

echo "==> ruff"
.venv/bin/ruff check flchain tests bench scripts
.venv/bin/ruff format --check flchain tests bench scripts
echo "==> mypy"
.venv/bin/mypy

bash scripts/test_contracts.sh

echo "==> pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "pytest collected no tests: that is a failure, not a pass" >&2
    exit 1
fi
exit $status
