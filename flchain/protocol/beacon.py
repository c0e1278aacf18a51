"""The randomness beacon of docs/protocol.md §6: which drand round seeds a flchain round, how a
posted signature is verified, and a devnet stand-in.

The scheme is drand's unchained one (`pedersen-bls-unchained`): BLS12-381 with the public key on
G1 (48 bytes compressed) and signatures on G2 (96 bytes compressed), the message of round n is
`sha256(uint64_be(n))`, hashed to G2 with the DST `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_`
— py_ecc's `G2Basic`. The value a flchain round uses is `sha256(signature)`, as drand's own.
The contract never verifies BLS; every merger and auditor does, so a verification is memoised by
(key, round, signature), and skipped for a signature a `DevnetBeacon` of this process made.

py_ecc (pure Python) is the reference. When `py_arkworks_bls12381` (arkworks' Rust BLS12-381, a
wheel on PyPI) is importable, keys, signatures and accepted verifications are computed with it
instead: a signature 0.11 s → 0.3 ms, a verification 0.25 s → ~2 ms on an idle core here. They
are the same bytes and the same verdicts — BLS signing is deterministic and both follow RFC 9380's
hash to G2 with this DST (`tests/protocol/test_beacon_native.py` compares them on many rounds and
keys) — and a verification the native code does not accept is decided by py_ecc, so a refusal,
and what an encoding py_ecc refuses, stay py_ecc's.

Every refusal is a `BeaconError` subclass naming what is wrong; nothing py_ecc raises leaks out.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from functools import cache, lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Final, Protocol

from eth_typing import BLSPubkey, BLSSignature

from flchain.errors import FlchainError

# py_ecc is imported where a key or signature is handled, not here: it costs ~0.2 s, and every
# `import flchain.protocol` (the CLI's start-up included) reaches this module.
if TYPE_CHECKING:
    from py_ecc.bls.ciphersuites import G2Basic as G2BasicScheme

__all__ = [
    "BEACON_DST",
    "CURVE_ORDER",
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "BeaconError",
    "BeaconKeyError",
    "BeaconSchedule",
    "BeaconSignatureError",
    "BeaconSignatureRefused",
    "DevnetBeacon",
    "beacon_message",
    "beacon_randomness",
    "beacon_round",
    "is_valid_beacon",
    "key_gen",
    "load_bls",
    "native_bls",
    "public_key_of",
    "sign_message",
    "verify_beacon",
]

BEACON_DST: Final = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
PUBLIC_KEY_BYTES: Final = 48
SIGNATURE_BYTES: Final = 96
UINT64_MAX: Final = 2**64 - 1
_DEVNET_KEY_DOMAIN: Final = b"flchain.devnet.beacon.v1"
#: The order r of BLS12-381's G1 and G2 subgroups (py_ecc's `curve_order`).
CURVE_ORDER: Final = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
_MEMO_SIZE: Final = 4096  # (key, round, signature) outcomes kept: a few rounds of every post


class BeaconError(FlchainError):
    """A beacon key or signature was refused."""


class BeaconKeyError(BeaconError):
    """The public key is not a 48-byte compressed point of BLS12-381 G1's prime subgroup."""


class BeaconSignatureError(BeaconError):
    """The signature is not a 96-byte compressed point of BLS12-381 G2's prime subgroup."""


class BeaconSignatureRefused(BeaconError):
    """A well-formed signature that does not verify for this key and round."""


class BeaconSchedule(Protocol):
    """The deployment fields D(r) depends on (`machine.Deployment` has them)."""

    @property
    def t0(self) -> int: ...
    @property
    def round_length(self) -> int: ...
    @property
    def commit_window(self) -> int: ...
    @property
    def reveal_window(self) -> int: ...
    @property
    def beacon_genesis(self) -> int: ...
    @property
    def beacon_period(self) -> int: ...
    @property
    def beacon_delay(self) -> int: ...


def beacon_round(deployment: BeaconSchedule, round: int) -> int:
    """D(r): the first beacon round produced at or after `revealEnd(r) + δ` (§6).

    drand's round n is produced at `genesis + (n − 1)·period`, so D(r) = 1 + ⌈(revealEnd(r) + δ
    − genesis) / period⌉, and 1 when that time precedes the beacon's genesis."""
    reveal_end = (
        deployment.t0
        + round * deployment.round_length
        + deployment.commit_window
        + deployment.reveal_window
    )
    after = reveal_end + deployment.beacon_delay - deployment.beacon_genesis
    if after <= 0:
        return 1
    return 1 + -(-after // deployment.beacon_period)


def beacon_message(round: int) -> bytes:
    """The message drand signs for `round`: sha256 of the round as a big-endian uint64."""
    if not 0 <= round <= UINT64_MAX:
        raise BeaconError(f"beacon round {round} is not a uint64")
    return hashlib.sha256(round.to_bytes(8, "big")).digest()


def beacon_randomness(signature: bytes) -> bytes:
    """The randomness a (verified) signature yields: sha256(signature), as drand publishes."""
    return hashlib.sha256(signature).digest()


def load_bls() -> type[G2BasicScheme]:
    """py_ecc's `G2Basic`, imported with Python's recursion limit left as it was.

    py_ecc's package import raises the limit to 100 000 for the whole process. With it, JSON
    nested ~100 000 deep from the network (an RPC answer, a relay's body) overflows the C stack
    and kills the process instead of raising; py_ecc's own recursion stays far below the
    default limit (a scalar multiplication recurses once per bit, 255 times)."""
    limit = sys.getrecursionlimit()
    from py_ecc.bls import G2Basic

    sys.setrecursionlimit(limit)
    return G2Basic


@cache
def native_bls() -> ModuleType | None:
    """`py_arkworks_bls12381`, or None when it is not installed (py_ecc does everything then)."""
    try:
        import py_arkworks_bls12381
    except ImportError:
        return None
    return py_arkworks_bls12381


def key_gen(ikm: bytes) -> int:
    """The secret key of input keying material `ikm`: the IETF BLS draft's KeyGen (HKDF-SHA256
    mod r, salt re-hashed until non-zero) with an empty key_info, as py_ecc's `G2Basic.KeyGen`
    computes it, without importing py_ecc (~0.2 s) when the native code signs."""
    if len(ikm) < 32:
        raise BeaconKeyError("beacon key material must be at least 32 bytes")
    salt = b"BLS-SIG-KEYGEN-SALT-"
    length = 48  # ceil(1.5 * ceil(log2(r)) / 8) for the 255-bit r
    secret = 0
    while secret == 0:
        salt = hashlib.sha256(salt).digest()
        prk = hmac.new(salt, ikm + b"\x00", hashlib.sha256).digest()
        info = length.to_bytes(2, "big")
        okm, block = b"", b""
        for i in range(1, -(-length // 32) + 1):
            block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
            okm += block
        secret = int.from_bytes(okm[:length], "big") % CURVE_ORDER
    return secret


def public_key_of(secret: int) -> bytes:
    """The 48-byte compressed G1 public key of `secret` (py_ecc's `SkToPk`)."""
    native = native_bls()
    if native is None:
        return bytes(load_bls().SkToPk(secret))
    return bytes((native.G1Point() * native.Scalar(secret)).to_compressed_bytes())


def sign_message(secret: int, message: bytes) -> bytes:
    """The 96-byte compressed G2 signature of `message` under `secret` (py_ecc's
    `G2Basic.Sign`: hash to G2 with `BEACON_DST`, times the secret)."""
    native = native_bls()
    if native is None:
        return bytes(load_bls().Sign(secret, message))
    point = native.G2Point.hash_to_curve(message, BEACON_DST) * native.Scalar(secret)
    return bytes(point.to_compressed_bytes())


def _native_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether the native code verifies `signature` (False also when it cannot tell; the caller
    asks py_ecc then). Only canonical encodings count — the bytes a point compresses back to —
    of subgroup points and a key other than the identity: exactly the inputs py_ecc decodes."""
    native = native_bls()
    if native is None or len(public_key) != PUBLIC_KEY_BYTES:
        return False
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        key = native.G1Point.from_compressed_bytes(public_key)
        sig = native.G2Point.from_compressed_bytes(signature)
    except Exception:  # arkworks parses untrusted bytes: anything it refuses goes to py_ecc
        return False
    if bytes(key.to_compressed_bytes()) != public_key:
        return False
    if bytes(sig.to_compressed_bytes()) != signature:
        return False
    if key == native.G1Point.identity():
        return False
    if not (key.is_in_subgroup() and sig.is_in_subgroup()):
        return False
    hashed = native.G2Point.hash_to_curve(message, BEACON_DST)
    return bool(native.GT.pairing(key, hashed) == native.GT.pairing(native.G1Point(), sig))


def _check_key(public_key: bytes) -> None:
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise BeaconKeyError(
            f"beacon public key has {len(public_key)} bytes, expected {PUBLIC_KEY_BYTES}"
        )
    bls = load_bls()
    try:
        valid = bls.KeyValidate(BLSPubkey(public_key))
    except Exception:  # py_ecc parses untrusted bytes; any failure is a malformed key
        valid = False
    if not valid:
        raise BeaconKeyError(
            "beacon public key is not a point of BLS12-381 G1's subgroup: check the deployment"
        )


def _check_signature_encoding(signature: bytes) -> None:
    if len(signature) != SIGNATURE_BYTES:
        raise BeaconSignatureError(
            f"beacon signature has {len(signature)} bytes, expected {SIGNATURE_BYTES}"
        )
    load_bls()  # py_ecc's package first, with the recursion limit put back
    from py_ecc.bls.g2_primitives import signature_to_G2, subgroup_check

    try:
        valid = subgroup_check(signature_to_G2(BLSSignature(signature)))
    except Exception:  # py_ecc parses untrusted bytes; any failure is a malformed signature
        valid = False
    if not valid:
        raise BeaconSignatureError("beacon signature is not a point of BLS12-381 G2's subgroup")


@lru_cache(maxsize=_MEMO_SIZE)
def _verdict(public_key: bytes, round: int, signature: bytes) -> BeaconError | None:
    """None if the signature verifies, else the refusal (cached either way: an invalid post is
    as expensive to re-check as a valid one)."""
    try:
        message = beacon_message(round)
    except BeaconError as exc:
        return exc
    if _native_accepts(public_key, message, signature):
        return None
    bls = load_bls()
    try:
        ok = bls.Verify(BLSPubkey(public_key), message, BLSSignature(signature))
    except Exception:  # defensive: Verify already folds py_ecc's own errors into False
        ok = False
    if ok:
        return None
    # Only a refusal pays for telling a malformed key or signature from a wrong one.
    try:
        _check_key(public_key)
        _check_signature_encoding(signature)
    except BeaconError as exc:
        return exc
    return BeaconSignatureRefused(
        f"beacon signature does not verify for round {round} under the deployment's key"
    )


#: (key, round, signature) triples this process signed with a `DevnetBeacon`: valid by
#: construction (BLS signing is deterministic and a correct signature verifies), so the merge
#: of a devnet round does not pay a pure-Python pairing for a signature made next to it. A
#: process that never signed (an auditor, a daemon reading drand) verifies every post.
_SIGNED_HERE: set[tuple[bytes, int, bytes]] = set()


def _get_verdict(public_key: bytes, round: int, signature: bytes) -> BeaconError | None:
    key = (bytes(public_key), int(round), bytes(signature))
    if key in _SIGNED_HERE:
        return None
    return _verdict(*key)


def verify_beacon(public_key: bytes, round: int, signature: bytes) -> bytes:
    """The randomness of beacon round `round` if `signature` verifies under `public_key`.

    @raises BeaconKeyError, BeaconSignatureError (malformed) or BeaconSignatureRefused."""
    verdict = _get_verdict(public_key, round, signature)
    if verdict is not None:
        raise type(verdict)(verdict.message)
    return beacon_randomness(signature)


def is_valid_beacon(public_key: bytes, round: int, signature: bytes) -> bool:
    """Whether `signature` is beacon round `round`'s under `public_key` (never raises)."""
    return _get_verdict(public_key, round, signature) is None


class DevnetBeacon:
    """A local stand-in for drand on devnets: one BLS key, derived from a seed, that signs any
    round with drand's scheme. Anyone who knows the seed can sign every future round, so it
    never seeds anything of value."""

    __slots__ = ("_secret", "public_key")

    def __init__(self, seed: bytes) -> None:
        # KeyGen wants ≥ 32 bytes of input keying material; the domain keeps this key apart
        # from any other use of the same seed.
        ikm = hashlib.sha256(_DEVNET_KEY_DOMAIN + bytes(seed)).digest()
        self._secret: int = key_gen(ikm)
        self.public_key: bytes = public_key_of(self._secret)

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"DevnetBeacon(public_key=0x{self.public_key.hex()})"

    def sign(self, round: int) -> bytes:
        """The 96-byte signature of beacon round `round`."""
        signature = sign_message(self._secret, beacon_message(round))
        _SIGNED_HERE.add((self.public_key, int(round), signature))
        return signature
