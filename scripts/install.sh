#!/usr/bin/env bash
# Install flchain and the tools it drives into this checkout: a virtualenv in .venv (with the
# CPU build of torch) and the npm tools in node_modules (solc wasm, anvil, forge, hardhat,
# js-ipfs); with --test also Slither, in a virtualenv of its own (.venv-slither).
# Idempotent: a second run only checks. Usage: scripts/install.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--test" ]]; then
    extras="[test]"
fi

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
echo "==> installing Python packages"
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch first: an unconstrained resolve can pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".${extras}"

if [[ -n "$extras" ]]; then
    # Slither pins its own versions of packages flchain uses (eth-*, web3's stack): it gets a
    # virtualenv of its own and is never a dependency of the flchain package.
    echo "==> installing Slither into .venv-slither"
    if [[ ! -x .venv-slither/bin/python ]]; then
        "$PYTHON" -m venv .venv-slither
    fi
    .venv-slither/bin/python -m pip install --quiet --disable-pip-version-check "slither-analyzer==0.11.6"
fi

echo "==> installing npm tools (solc, anvil, forge, hardhat, js-ipfs)"
if command -v npm >/dev/null 2>&1; then
    # --ignore-scripts: js-ipfs's native optional deps are not needed and their install
    # scripts would try to download prebuilt binaries.
    # `npm ci` refuses this lock: js-ipfs pulls an optional dependency (electron-eval ->
    # headless) whose GitHub tarball is unreachable offline, so npm never locks it. `npm install`
    # follows the lock for everything else and skips that optional package.
    npm install --ignore-scripts --no-audit --no-fund --loglevel=error
else
    echo "npm not found: install Node.js 20 and npm, then run this again" >&2
    exit 1
fi
echo "==> done: activate with '. .venv/bin/activate' or call .venv/bin/flchain"
