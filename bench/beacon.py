"""Cost of checking a beacon post (docs/protocol.md §6): flchain's verification (native BLS when
`py-arkworks-bls12381` is installed) against py_ecc's, the reference, and the memoised re-check,
in the same run.

    python bench/beacon.py [--rounds 5]

Every merger and auditor verifies the beacon post of every round. This prints, per round: a
devnet signature (flchain's, then py_ecc's `G2Basic.Sign` as the baseline), one cold verification
of a valid signature (flchain's, then py_ecc's `G2Basic.Verify`), one of a signature for the
wrong round (a refusal: py_ecc decides it), and the memoised re-check that every later reader of
the same (key, round, signature) pays instead. "Cold" here means neither the memo nor the
process's own-signature shortcut answers: the bench forgets both before each cold check.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from flchain.protocol import beacon as b


def timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def forget() -> None:
    """Make the next verification cold: no memo, no "signed in this process" shortcut."""
    b._verdict.cache_clear()
    b._SIGNED_HERE.clear()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/beacon.py")
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    beacon = b.DevnetBeacon(b"bench")
    py_ecc = b.load_bls()
    secret = beacon._secret
    rows: dict[str, list[float]] = {
        "devnet sign (flchain)": [],
        "devnet sign (py_ecc, baseline)": [],
        "verify, valid, cold (flchain)": [],
        "verify, valid (py_ecc, baseline)": [],
        "verify, wrong round, cold": [],
        "verify, memoised": [],
    }
    for rnd in range(1, opts.rounds + 1):
        message = b.beacon_message(rnd)
        start = time.perf_counter()
        sig = beacon.sign(rnd)
        rows["devnet sign (flchain)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        reference = bytes(py_ecc.Sign(secret, message))
        rows["devnet sign (py_ecc, baseline)"].append(time.perf_counter() - start)
        assert reference == sig, "the native signature differs from py_ecc's"
        forget()
        rows["verify, valid, cold (flchain)"].append(
            timed(b.is_valid_beacon, beacon.public_key, rnd, sig)
        )
        rows["verify, memoised"].append(timed(b.is_valid_beacon, beacon.public_key, rnd, sig))
        rows["verify, valid (py_ecc, baseline)"].append(
            timed(py_ecc.Verify, beacon.public_key, message, sig)
        )
        forget()
        rows["verify, wrong round, cold"].append(
            timed(b.is_valid_beacon, beacon.public_key, rnd + 10_000, sig)
        )
    print(f"native BLS: {'py_arkworks_bls12381' if b.native_bls() else 'not installed'}")
    for name, xs in rows.items():
        print(
            f"{name:34s} median {statistics.median(xs) * 1e3:9.3f} ms  max {max(xs) * 1e3:9.3f} ms"
        )


if __name__ == "__main__":
    main()
