"""flchain.protocol.beacon with the native BLS code (py_arkworks_bls12381) against py_ecc.

py_ecc is the reference: the native key generation, public keys and signatures must be its bytes
exactly, and the native verification may only accept what py_ecc's `G2Basic.Verify` accepts
(anything it does not accept is decided by py_ecc). Without the native package every function
falls back to py_ecc and gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls import G2Basic

from flchain.protocol import beacon as bc

pytest.importorskip("py_arkworks_bls12381")

VECTORS = Path(__file__).resolve().parent / "vectors"
DRAND = json.loads((VECTORS / "beacon.json").read_text())["drandTestnetUnchained"]
SEEDS = [bytes([i]) * 32 for i in range(4)] + [b"flchain-sim-v2-seed-0" + bytes(11)]
ROUNDS = [1, 2, 3, 35, 9193, 2**32 + 7, 2**64 - 1]


def test_key_gen_is_py_eccs() -> None:
    for seed in SEEDS:
        ikm = hashlib.sha256(seed).digest()
        assert bc.key_gen(ikm) == G2Basic.KeyGen(ikm)
        assert bc.key_gen(ikm + b"longer material") == G2Basic.KeyGen(ikm + b"longer material")
    with pytest.raises(bc.BeaconKeyError):
        bc.key_gen(bytes(31))


def test_native_keys_and_signatures_are_py_eccs_bytes() -> None:
    assert bc.native_bls() is not None
    for seed in SEEDS:
        secret = G2Basic.KeyGen(hashlib.sha256(seed).digest())
        assert bc.public_key_of(secret) == bytes(G2Basic.SkToPk(secret))
        for rnd in ROUNDS[:3] + ROUNDS[-1:]:
            message = bc.beacon_message(rnd)
            assert bc.sign_message(secret, message) == bytes(G2Basic.Sign(secret, message))


def test_native_verdicts_are_py_eccs() -> None:
    beacon = bc.DevnetBeacon(SEEDS[0])
    other = bc.DevnetBeacon(SEEDS[1])
    sig = beacon.sign(5)
    cases = [
        (beacon.public_key, 5, sig),
        (beacon.public_key, 6, sig),
        (other.public_key, 5, sig),
        (beacon.public_key, 5, other.sign(5)),
    ]
    for key, rnd, signature in cases:
        message = bc.beacon_message(rnd)
        native = bc._native_accepts(key, message, signature)
        assert native == G2Basic.Verify(key, message, signature)
    # identity key and signature: py_ecc refuses the key; a valid-looking pair never passes
    identity_key = bytes([0xC0]) + bytes(47)
    identity_sig = bytes([0xC0]) + bytes(95)
    assert not bc._native_accepts(identity_key, bc.beacon_message(5), identity_sig)
    assert not G2Basic.Verify(identity_key, bc.beacon_message(5), identity_sig)
    assert not bc._native_accepts(beacon.public_key, bc.beacon_message(5), identity_sig)


def test_real_drand_rounds_are_accepted_natively_without_py_ecc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = bytes.fromhex(DRAND["publicKey"][2:])

    def no_py_ecc() -> None:
        raise AssertionError("py_ecc was asked about a signature the native code accepts")

    monkeypatch.setattr(bc, "load_bls", no_py_ecc)
    for r in DRAND["rounds"]:
        rnd, sig = int(r["round"]), bytes.fromhex(r["signature"][2:])
        assert bc._native_accepts(key, bc.beacon_message(rnd), sig)
        assert not bc._native_accepts(key, bc.beacon_message(rnd + 1), sig)


def test_non_canonical_encodings_are_left_to_py_ecc() -> None:
    beacon = bc.DevnetBeacon(SEEDS[2])
    sig = beacon.sign(9)
    message = bc.beacon_message(9)
    flipped = bytes([sig[0] ^ 0x20]) + sig[1:]  # the other y: the negated point
    uncompressed_flag = bytes([sig[0] & 0x7F]) + sig[1:]
    for bad in (flipped, uncompressed_flag, sig[:-1], sig + b"\x00"):
        assert not bc._native_accepts(beacon.public_key, message, bad)
        assert not G2Basic.Verify(beacon.public_key, message, bad)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=48, max_size=48), st.binary(min_size=96, max_size=96))
def test_random_bytes_are_never_accepted_natively(key: bytes, sig: bytes) -> None:
    assert not bc._native_accepts(key, bc.beacon_message(1), sig)


def test_without_the_native_package_py_ecc_gives_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    native = bc.DevnetBeacon(SEEDS[3])
    signatures = [native.sign(rnd) for rnd in ROUNDS]
    monkeypatch.setattr(bc, "native_bls", lambda: None)
    fallback = bc.DevnetBeacon(SEEDS[3])
    assert fallback.public_key == native.public_key
    assert [fallback.sign(rnd) for rnd in ROUNDS] == signatures
    # and py_ecc alone verifies what the native code signed (not from this process's memo)
    bc._verdict.cache_clear()
    key = native.public_key
    assert bc._verdict(key, ROUNDS[0], signatures[0]) is None
    assert isinstance(bc._verdict(key, ROUNDS[1], signatures[0]), bc.BeaconSignatureRefused)
