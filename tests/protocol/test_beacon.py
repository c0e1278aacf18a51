"""flchain.protocol.beacon: drand's unchained scheme, D(r), the devnet stand-in, named refusals.

Two rounds of drand's public testnet-unchained-3s chain verify (so the scheme is drand's, not
only self-consistent); the committed devnet vectors are a fresh build; D(r) agrees with the
EVM; any bytes at all give a verdict or a `BeaconError`, never a py_ecc exception.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls import G2Basic

from flchain.errors import FlchainError
from flchain.protocol import beacon as bc

VECTORS = Path(__file__).resolve().parent / "vectors"
if str(VECTORS) not in sys.path:
    sys.path.insert(0, str(VECTORS))

import protocol_vectors  # noqa: E402
from evm_probe import probe  # noqa: E402

DOC: dict[str, Any] = json.loads((VECTORS / "beacon.json").read_text())
DRAND = DOC["drandTestnetUnchained"]
DEVNET = DOC["devnet"]


def b(x: str) -> bytes:
    return bytes.fromhex(x[2:])


def test_committed_vectors_are_a_fresh_build() -> None:
    fresh = protocol_vectors.text(protocol_vectors.build_beacon())
    assert (VECTORS / "beacon.json").read_text() == fresh, "beacon.json is stale: regenerate"


def test_the_ciphersuite_is_drands() -> None:
    assert G2Basic.DST == bc.BEACON_DST == DOC["dst"].encode()


def test_real_drand_rounds_verify_and_their_neighbours_do_not() -> None:
    key = b(DRAND["publicKey"])
    for r in DRAND["rounds"]:
        rnd, sig = int(r["round"]), b(r["signature"])
        assert bc.beacon_message(rnd) == b(r["message"])
        assert bc.verify_beacon(key, rnd, sig) == b(r["randomness"])
        with pytest.raises(bc.BeaconSignatureRefused, match=f"round {rnd + 1}"):
            bc.verify_beacon(key, rnd + 1, sig)


def test_devnet_beacon_is_reproducible_from_its_seed() -> None:
    beacon = bc.DevnetBeacon(b(DEVNET["seed"]))
    assert beacon.public_key == b(DEVNET["publicKey"])
    assert "secret" not in repr(beacon) and beacon.public_key.hex() in repr(beacon)
    for r in DEVNET["rounds"]:
        rnd = int(r["round"])
        assert beacon.sign(rnd) == b(r["signature"])
        assert bc.is_valid_beacon(beacon.public_key, rnd, b(r["signature"]))
    other = bc.DevnetBeacon(b"another seed")
    first = DEVNET["rounds"][0]
    assert not bc.is_valid_beacon(other.public_key, int(first["round"]), b(first["signature"]))


def test_d_of_r_agrees_with_the_evm() -> None:
    for v in DOC["beaconRound"]:
        sch = protocol_vectors._Schedule(
            int(v["t0"]),
            int(v["roundLength"]),
            int(v["commitWindow"]),
            int(v["revealWindow"]),
            int(v["beaconGenesis"]),
            int(v["beaconPeriod"]),
            int(v["beaconDelay"]),
        )
        rnd = int(v["round"])
        evm = probe().functions.beaconRound(*_sch_args(v), rnd).call()
        assert bc.beacon_round(sch, rnd) == evm == int(v["beaconRound"])


def _sch_args(v: dict[str, str]) -> list[int]:
    keys = [
        "t0",
        "roundLength",
        "commitWindow",
        "revealWindow",
        "beaconGenesis",
        "beaconPeriod",
        "beaconDelay",
    ]
    return [int(v[k]) for k in keys]


def test_d_of_r_is_the_first_beacon_round_at_or_after_reveal_end_plus_delay() -> None:
    for genesis in (990, 1_000, 1_069, 1_070, 1_071, 1_100):
        for period in (1, 3, 7):
            sch = protocol_vectors._Schedule(1_000, 100, 40, 30, genesis, period, 0)
            for rnd in range(3):
                d = bc.beacon_round(sch, rnd)
                produced = genesis + (d - 1) * period
                target = 1_000 + rnd * 100 + 70
                assert produced >= target or d == 1
                assert d == 1 or genesis + (d - 2) * period < target


def test_refusals_are_named() -> None:
    beacon = bc.DevnetBeacon(b(DEVNET["seed"]))
    sig = b(DEVNET["rounds"][0]["signature"])
    rnd = int(DEVNET["rounds"][0]["round"])
    cases: list[tuple[bytes, bytes, type[bc.BeaconError], str]] = [
        (beacon.public_key[:47], sig, bc.BeaconKeyError, "47 bytes"),
        (b"\xff" * 48, sig, bc.BeaconKeyError, "G1"),
        (bytes([0xC0]) + bytes(47), sig, bc.BeaconKeyError, "G1"),  # the point at infinity
        (beacon.public_key, sig[:95], bc.BeaconSignatureError, "95 bytes"),
        (beacon.public_key, b"\xff" * 96, bc.BeaconSignatureError, "G2"),
        (beacon.public_key, sig[:-1] + bytes([sig[-1] ^ 1]), bc.BeaconSignatureError, "G2"),
    ]
    for key, s, error, words in cases:
        with pytest.raises(error, match=words):
            bc.verify_beacon(key, rnd, s)
        assert not bc.is_valid_beacon(key, rnd, s)
    with pytest.raises(bc.BeaconError, match="uint64"):
        bc.verify_beacon(beacon.public_key, 2**64, sig)
    assert issubclass(bc.BeaconError, FlchainError)


KEY = bc.DevnetBeacon(b"fuzz").public_key
SIG = bc.DevnetBeacon(b"fuzz").sign(1)


def _mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """Valid bytes with one byte replaced (often still a curve point), or any bytes at all."""
    flip = st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)).map(
        lambda p: valid[: p[0]] + bytes([p[1]]) + valid[p[0] + 1 :]
    )
    return st.one_of(
        flip, st.binary(min_size=len(valid), max_size=len(valid)), st.binary(max_size=100)
    )


@settings(max_examples=40, deadline=None)
@given(_mutated(KEY), _mutated(SIG))
def test_arbitrary_bytes_give_a_verdict_never_a_py_ecc_exception(key: bytes, sig: bytes) -> None:
    try:
        bc.verify_beacon(key, 1, sig)
    except bc.BeaconError as exc:
        assert not bc.is_valid_beacon(key, 1, sig)
        assert exc.message
    else:
        assert (key, sig) == (KEY, SIG)


def test_verification_is_memoised_by_key_round_and_signature() -> None:
    secret = G2Basic.KeyGen(b"memoised, signed elsewhere".ljust(32, b"."))
    key, round = G2Basic.SkToPk(secret), 12  # signed outside DevnetBeacon: verified with py_ecc
    sig = G2Basic.Sign(secret, bc.beacon_message(round))
    before = bc._verdict.cache_info()
    for _ in range(3):
        assert bc.is_valid_beacon(key, round, sig)
    for _ in range(2):
        with pytest.raises(bc.BeaconSignatureRefused):
            bc.verify_beacon(key, round + 1, sig)
    after = bc._verdict.cache_info()
    assert after.misses - before.misses == 2  # (round, sig) and (round + 1, sig), once each
    assert after.hits - before.hits == 3


def test_a_signature_signed_in_this_process_is_valid_without_a_pairing() -> None:
    beacon = bc.DevnetBeacon(b"signed here")
    sig = beacon.sign(12)
    before = bc._verdict.cache_info()
    assert bc.is_valid_beacon(beacon.public_key, 12, sig)
    assert bc.verify_beacon(beacon.public_key, 12, sig) == bc.beacon_randomness(sig)
    assert bc._verdict.cache_info().misses == before.misses  # no py_ecc verification
    assert G2Basic.Verify(beacon.public_key, bc.beacon_message(12), sig)  # and it is valid
    # only the (key, round, signature) signed: the same signature for another round is checked
    with pytest.raises(bc.BeaconSignatureRefused):
        bc.verify_beacon(beacon.public_key, 13, sig)
    assert bc._verdict.cache_info().misses == before.misses + 1
