#!/usr/bin/env bash
# The contracts' own checks, offline: forge's unit, fuzz and invariant tests (test/, on the
# committed artifacts' bytecode; foundry.toml's `ci` profile), the v2 gas suite (each call a
# transaction of its own: --isolate) and Slither over contracts/ (through hardhat's compile).
# Prints the counts (tests, fuzz runs, invariant calls), the gas table and each step's wall time;
# on a failure, the whole output of the failing step. scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

GAS_SUITE="test/v2/FLChainV2Gas.t.sol"

echo "==> forge test (unit, fuzz, invariant; profile ci)"
start=$SECONDS
if ! FOUNDRY_PROFILE=ci node_modules/.bin/forge test --color never --no-match-path "$GAS_SUITE" >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
# the lines with counts only: the unit tests' names and the per-invariant call tables are long
grep -E '^\[PASS\] (testFuzz_|invariant_)|^Ran [0-9]+ test suites' "$log"
awk -v seconds=$((SECONDS - start)) '
    /^\[PASS\] invariant_/ { invariants++; match($0, /calls: [0-9]+/); calls += substr($0, RSTART + 7, RLENGTH - 7); next }
    /^\[PASS\] testFuzz_/ { fuzz++; match($0, /runs: [0-9]+/); runs += substr($0, RSTART + 6, RLENGTH - 6); next }
    /^\[PASS\] test/ { units++ }
    END { printf "forge: %d unit tests, %d fuzz tests (%d runs), %d invariants (%d calls) in %d s\n", units, fuzz, runs, invariants, calls, seconds }
' "$log"

echo "==> forge test --isolate $GAS_SUITE (transaction gas with 1, 100 and 1 000 nodes)"
start=$SECONDS
if ! node_modules/.bin/forge test --color never --isolate --match-path "$GAS_SUITE" -vv >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
grep -E '^  (gas with|  )' "$log"
echo "gas: $((SECONDS - start)) s"

echo "==> slither (hardhat compile, then the analysis)"
start=$SECONDS
if ! env HARDHAT_DISABLE_TELEMETRY_PROMPT=true DO_NOT_TRACK=1 CI=true \
        node_modules/.bin/hardhat compile --force --quiet >"$log" 2>&1 \
    || ! PATH="$PWD/.venv-slither/bin:$PATH" .venv-slither/bin/slither . >>"$log" 2>&1; then
    cat "$log"
    exit 1
fi
grep -E 'analyzed .* result' "$log"
echo "slither: $((SECONDS - start)) s"
