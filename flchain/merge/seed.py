"""The v2 exploration seed (docs/protocol.md §6): the salts of every reveal mixed with the
randomness of the first valid beacon post, and the tie order it fixes.

    seed(r) = keccak256(abi.encode(SEED_TAG, chainId, contract, r, saltsHash(r), randomness(r)))

`randomness(r)` is sha256 of the signature of the first post, in chain order, that verifies for
D(r) under the deployment's key (BLS, `flchain.protocol.beacon`, memoised); 32 zero bytes when
none does (the fallback: salts only). Posts after the first valid one are never verified: BLS
signatures are unique, so every valid post carries the same value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flchain.protocol import digests as dg
from flchain.protocol.beacon import beacon_randomness, is_valid_beacon
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import Address, BeaconPost

__all__ = ["SeedOutcome", "compute_seed", "seed_tie_key"]


@dataclass(frozen=True)
class SeedOutcome:
    """The seed of a round and every input to it, as the manifest records them."""

    salts_hash: bytes
    beacon_round: int
    post: BeaconPost | None  # the first valid post in chain order; None = fallback
    refused: tuple[BeaconPost, ...]  # posts before it (all of them when none is valid)
    randomness: bytes
    value: bytes


def compute_seed(record: RoundRecordV2) -> SeedOutcome:
    """seed(r) of `record`, verifying beacon posts in chain order until one is valid."""
    salts = dg.salts_hash({r.node: r.salt for r in record.reveals})
    d = record.beacon_round
    refused: list[BeaconPost] = []
    used: BeaconPost | None = None
    for post in sorted(record.beacon_posts, key=lambda p: p.position):
        if is_valid_beacon(record.beacon.public_key, d, post.signature):
            used = post
            break
        refused.append(post)
    randomness = beacon_randomness(used.signature) if used is not None else dg.ZERO32
    value = dg.seed(record.chain_id, record.contract, record.round, salts, randomness)
    return SeedOutcome(salts, d, used, tuple(refused), randomness, value)


def seed_tie_key(seed: bytes) -> Callable[[Address], bytes]:
    """The tie order of select and cluster-best: keccak256(seed ‖ node), lower first."""
    return lambda node: dg.tie_key(seed, node)
