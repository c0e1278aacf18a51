"""Diversity rules: strategy similarity, clusters, cluster caps, exploration directives.

Everything here decides, so everything is integer or exact-rational arithmetic:

* similarity is an integer in ppm (behavioural: agreeing positions counted as integers;
  weight-delta: cosine of fixed-point-quantised deltas with exact integer dot products);
* clusters are single-linkage components of the graph "similarity >= threshold";
* the cluster cap redistributes weight with `fractions.Fraction`, never floats;
* directive draws come from a keccak counter-mode stream seeded by on-chain data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import numpy as np
from eth_hash.auto import keccak
from numpy.typing import NDArray

from flchain.hashing import hex_to_bytes32
from flchain.merge.aggregate import canonical_keys
from flchain.merge.errors import MergeInputError
from flchain.protocol import PPM, Address, canonical_address_key

__all__ = [
    "TieKey",
    "address_tie_key",
    "behavioural_similarity_ppm",
    "cap_cluster_weights",
    "cluster_best",
    "directive_seed",
    "integer_weights",
    "quantise_deltas",
    "similarity_graph",
    "single_linkage_clusters",
    "weight_delta_similarity_ppm",
]

#: Orders nodes whose ranking ties: v1 by address (`address_tie_key`), v2 by keccak(seed ‖ node).
TieKey = Callable[[Address], bytes]

#: Domain tag hashed ahead of the salts so this seed can never equal another keccak in the
#: protocol (commitments hash ABI-encoded words, never this prefix).
DIRECTIVE_SEED_DOMAIN = b"flchain/merge/directive-seed/v1"

#: Largest magnitude of a quantised weight delta: products stay below 2**(2*bits) and a dot
#: product over P coordinates below 2**63 as long as 2*bits + bit_length(P) <= 62.
_MAX_QUANT_BITS = 24


# --- similarity -----------------------------------------------------------------------------


def behavioural_similarity_ppm(a: NDArray[np.int8], b: NDArray[np.int8]) -> int:
    """Share of benchmark bars on which two strategies hold the same position, in ppm (floor).

    Two empty series are identical (PPM).
    """
    if a.shape != b.shape:
        raise MergeInputError(f"position series differ in length: {a.shape} vs {b.shape}")
    if a.size == 0:
        return PPM
    agree = int(np.count_nonzero(a == b))
    return agree * PPM // int(a.size)


def quantise_deltas(
    deltas: Mapping[Address, NDArray[np.float64]],
) -> tuple[dict[Address, NDArray[np.int64]], int]:
    """Fixed-point weight deltas: round(delta * 2**shift) as int64, one shift for the round.

    The shift is chosen from the largest |delta| of the round (an exact max) so the largest
    quantised magnitude is below 2**bits with 2*bits + bit_length(P) <= 62; dot products of the
    results are then exact in int64 whatever order numpy sums them in.
    @return (node -> flat int64 array, shift).
    """
    if not deltas:
        return {}, 0
    size = max(int(d.size) for d in deltas.values())
    bits = min(_MAX_QUANT_BITS, (62 - size.bit_length()) // 2)
    if bits < 2:
        raise MergeInputError(f"model with {size} parameters is too large for exact cosine")
    peak = max((float(np.max(np.abs(d))) if d.size else 0.0) for d in deltas.values())
    if peak == 0.0:
        return {k: np.zeros(int(d.size), dtype=np.int64) for k, d in deltas.items()}, 0
    # frexp is exact: peak = m * 2**e with 0.5 <= m < 1, so |delta| * 2**(bits - e) < 2**bits.
    _, exponent = math.frexp(peak)
    shift = bits - exponent
    scale = math.ldexp(1.0, shift)  # a power of two: multiplying by it is exact
    out = {k: np.rint(d.reshape(-1) * scale).astype(np.int64) for k, d in deltas.items()}
    return out, shift


def weight_delta_similarity_ppm(qa: NDArray[np.int64], qb: NDArray[np.int64]) -> int:
    """Cosine of two quantised deltas in ppm, truncated toward zero, computed exactly.

    A zero delta is similar to nothing (0) except another zero delta (PPM).
    """
    dot = int(np.dot(qa, qb))  # int64 products and sums: exact, order-free
    na = int(np.dot(qa, qa))
    nb = int(np.dot(qb, qb))
    if na == 0 or nb == 0:
        return PPM if na == nb else 0
    magnitude = math.isqrt(dot * dot * PPM * PPM // (na * nb))
    return magnitude if dot >= 0 else -magnitude


def similarity_graph(
    nodes: Sequence[Address],
    similarity: Mapping[tuple[Address, Address], int],
) -> list[tuple[Address, Address, int]]:
    """All pairs (a, b) with a before b canonically, with their similarity, in canonical order."""
    ordered = canonical_keys(nodes)
    pairs: list[tuple[Address, Address, int]] = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            value = similarity.get((a, b), similarity.get((b, a)))
            if value is None:
                raise MergeInputError(f"no similarity given for pair {a}, {b}")
            pairs.append((a, b, int(value)))
    return pairs


def single_linkage_clusters(
    nodes: Sequence[Address],
    similarity: Mapping[tuple[Address, Address], int],
    threshold_ppm: int,
) -> tuple[tuple[Address, ...], ...]:
    """Connected components of "similarity >= threshold" (single linkage).

    @return clusters, each sorted canonically, ordered by their first member; singletons included.
    """
    ordered = canonical_keys(nodes)
    parent = {n: n for n in ordered}

    def root(n: Address) -> Address:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b, value in similarity_graph(ordered, similarity):
        if value >= threshold_ppm:
            ra, rb = root(a), root(b)
            if ra != rb:
                first, second = sorted((ra, rb), key=canonical_address_key)
                parent[second] = first
    groups: dict[Address, list[Address]] = {}
    for n in ordered:
        groups.setdefault(root(n), []).append(n)
    clusters = [tuple(members) for members in groups.values()]
    return tuple(sorted(clusters, key=lambda c: canonical_address_key(c[0])))


# --- cluster caps ---------------------------------------------------------------------------


def cap_cluster_weights(
    raw: Mapping[Address, int],
    clusters: Sequence[Sequence[Address]],
    cap_ppm: int,
) -> dict[Address, Fraction]:
    """Normalised weights (summing to exactly 1) with every cluster's share at most cap_ppm/1e6.

    Water-filling, exactly: start from shares proportional to `raw`; any cluster above the cap
    is fixed at the cap; the weight it lost goes to the uncapped clusters in proportion to their
    raw weight; repeat until no uncapped cluster exceeds the cap. Members of a cluster keep the
    proportions of their raw weights. When the cap cannot be met (k clusters with k*cap < 1),
    every cluster gets the same share 1/k: the closest feasible split.
    """
    nodes = [n for c in clusters for n in c]
    if sorted(nodes, key=canonical_address_key) != canonical_keys(raw.keys()):
        raise MergeInputError("clusters must partition exactly the weighted nodes")
    if any(w <= 0 for w in raw.values()):
        raise MergeInputError("raw aggregation weights must be positive")
    if not clusters:
        return {}
    cap = Fraction(cap_ppm, PPM)
    cluster_raw = [sum(raw[n] for n in c) for c in clusters]
    k = len(clusters)
    if cap * k < 1:
        shares = [Fraction(1, k)] * k
    else:
        capped: set[int] = set()
        while True:
            free = [i for i in range(k) if i not in capped]
            left = 1 - cap * len(capped)
            free_raw = sum(cluster_raw[i] for i in free)
            shares = [cap if i in capped else Fraction(0) for i in range(k)]
            for i in free:
                shares[i] = left * Fraction(cluster_raw[i], free_raw)
            over = {i for i in free if shares[i] > cap}
            if not over:
                break
            capped |= over
    weights: dict[Address, Fraction] = {}
    for share, members, total in zip(shares, clusters, cluster_raw, strict=True):
        for n in members:
            weights[n] = share * Fraction(raw[n], total)
    return weights


def integer_weights(weights: Mapping[Address, Fraction]) -> dict[Address, int]:
    """Exact fractions -> the smallest integers with the same ratios (for the arithmetic)."""
    if not weights:
        return {}
    denominator = math.lcm(*(w.denominator for w in weights.values()))
    numerators = {n: int(w * denominator) for n, w in weights.items()}
    divisor = math.gcd(*numerators.values())
    return {n: v // divisor for n, v in numerators.items()}


# --- seeds and directives -------------------------------------------------------------------


def directive_seed(
    chain_id: int, contract: Address, round_: int, salts: Mapping[Address, str]
) -> bytes:
    """keccak256(domain || chainId || contract || round || salt_1 || ... ) with salts in
    canonical address order: fixed by the chain once reveals close, unknown to anyone before."""
    parts = [
        DIRECTIVE_SEED_DOMAIN,
        chain_id.to_bytes(32, "big"),
        bytes.fromhex(contract[2:].lower()),
        round_.to_bytes(32, "big", signed=True),
    ]
    for node in canonical_keys(salts.keys()):
        parts.append(hex_to_bytes32(salts[node]))
    return bytes(keccak(b"".join(parts)))


def address_tie_key(node: Address) -> bytes:
    """v1's tie order: the canonical (lower-case hex) address, as ASCII bytes (same order)."""
    return canonical_address_key(node).encode()


def cluster_best(
    members: Sequence[Address],
    verified_roi_bps: Mapping[Address, int],
    tie: TieKey = address_tie_key,
) -> Address:
    """Highest verified ROI; ties go to the lowest `tie` key (v1: the canonically first
    address; v2: keccak(seed ‖ node))."""
    return min(members, key=lambda n: (-verified_roi_bps[n], tie(n)))
