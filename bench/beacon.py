"""Cost of checking a beacon post (docs/protocol.md §6), against its memoised re-check, same run.

    python bench/beacon.py [--rounds 5]

Every merger and auditor verifies the beacon post of every round with py_ecc (pure Python
BLS12-381): this prints the time of one cold verification of a valid and of an invalid
signature (each a pairing check), a devnet signature, and the memoised re-check that every
later reader of the same (key, round, signature) pays instead (the baseline).
"""

from __future__ import annotations

import argparse
import statistics
import time

from flchain.protocol.beacon import DevnetBeacon, is_valid_beacon


def timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/beacon.py")
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    beacon = DevnetBeacon(b"bench")
    sign, valid, invalid, memo = [], [], [], []
    for rnd in range(1, opts.rounds + 1):
        start = time.perf_counter()
        sig = beacon.sign(rnd)
        sign.append(time.perf_counter() - start)
        valid.append(timed(is_valid_beacon, beacon.public_key, rnd, sig))
        invalid.append(timed(is_valid_beacon, beacon.public_key, rnd + 10_000, sig))
        memo.append(timed(is_valid_beacon, beacon.public_key, rnd, sig))
    for name, xs in (
        ("devnet sign", sign),
        ("verify, valid (cold)", valid),
        ("verify, wrong round (cold)", invalid),
        ("verify, memoised (baseline)", memo),
    ):
        print(
            f"{name:30s} median {statistics.median(xs) * 1e3:9.3f} ms  max {max(xs) * 1e3:9.3f} ms"
        )


if __name__ == "__main__":
    main()
