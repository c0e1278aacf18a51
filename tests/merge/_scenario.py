"""A small, fully seeded merge round built from the real model, market and storage code.

Importable by the tests (conftest puts this folder on sys.path) and runnable as a script by the
cross-process determinism test: `python _scenario.py <threads>` prints the merged digest and the
sha256 of the manifest.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from flchain.backtest import roi_bps
from flchain.hashing import sha256_hex
from flchain.market.benchmark import Benchmark
from flchain.market.synthetic import synthetic_bars
from flchain.model import (
    ModelConfig,
    config_to_metadata,
    init_weights,
    perturb_weights,
    reference_positions,
)
from flchain.protocol import (
    Aggregation,
    GlobalModel,
    Reveal,
    RevealOutcome,
    RoundRecord,
    Rules,
    SimilarityMetric,
)
from flchain.simulate.adversaries import inject_inf, inject_nan
from flchain.storage.cid import cid_for_bytes
from flchain.storage.weights import encode_weights

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ROUND = 3
FEE_PPM = 1_000


def node(i: int) -> str:
    """Deterministic checksum-free test addresses with mixed case (canonical order: lower)."""
    raw = f"{i * 0x9E3779B97F4A7C15F39CC0605CEDC8341082276B % 2**160:040x}"
    return "0x" + (raw.upper() if i % 2 else raw)


_BENCHMARK: Benchmark | None = None


def benchmark() -> Benchmark:
    global _BENCHMARK
    if _BENCHMARK is None:
        _BENCHMARK = Benchmark.from_bars(synthetic_bars(420, seed=11), name="merge-tests")
    return _BENCHMARK


BASE_CONFIG = ModelConfig(hidden=8)


def base_tensors() -> dict[str, np.ndarray]:
    return init_weights(BASE_CONFIG)


def base_bytes() -> bytes:
    return encode_weights(base_tensors(), config_to_metadata(BASE_CONFIG))


def honest_roi(tensors: dict[str, np.ndarray], config: ModelConfig) -> int:
    bench = benchmark()
    return roi_bps(bench.exec_prices, reference_positions(tensors, config, bench.bars), FEE_PPM)


@dataclass
class Update:
    """One node's contribution; every field can be spoiled on purpose by a test."""

    index: int
    seed: int
    scale_ppm: int = 200_000
    config: ModelConfig = BASE_CONFIG
    claim_offset: int = 0
    outcome: RevealOutcome = RevealOutcome.ACCEPTED
    base_digest: str | None = None
    spoil_payload: Callable[[bytes, dict[str, np.ndarray]], bytes] | None = None
    spoil_digest: bool = False
    payload_override: bytes | None = None  # bytes handed to the merge under the reveal's CID
    unavailable: bool = False
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    #: metadata entries besides the config (a v2 update's binding to its reveal)
    extra_metadata: dict[str, str] = field(default_factory=dict)

    def build(self) -> tuple[Reveal, bytes | None]:
        tensors = perturb_weights(base_tensors(), self.seed, self.scale_ppm)
        self.tensors = tensors
        config = self.config.model_copy(update={"base_digest": sha256_hex(base_bytes())})
        payload = encode_weights(tensors, config_to_metadata(config) | self.extra_metadata)
        claim = honest_roi(tensors, self.config) + self.claim_offset
        if self.spoil_payload is not None:
            payload = self.spoil_payload(payload, tensors)
        digest = sha256_hex(payload)
        if self.spoil_digest:
            digest = sha256_hex(payload + b"x")
        reveal = Reveal(
            round=ROUND,
            node=node(self.index),
            update_digest=digest,
            cid=cid_for_bytes(payload),
            base_digest=self.base_digest or sha256_hex(base_bytes()),
            roi_bps=claim,
            salt="0x" + f"{self.index:02x}" * 32,
            outcome=self.outcome,
        )
        given: bytes | None = payload if self.payload_override is None else self.payload_override
        return reveal, (None if self.unavailable else given)


def record_for(reveals: list[Reveal], rules: Rules) -> RoundRecord:
    base = base_bytes()
    return RoundRecord(
        round=ROUND,
        chain_id=31337,
        contract=CONTRACT,
        start=0,
        commit_end=10,
        reveal_end=20,
        end=30,
        rules=rules,
        reveals=tuple(reveals),
        base=GlobalModel(round=ROUND - 1, digest=sha256_hex(base), cid=cid_for_bytes(base)),
    )


def build(
    updates: list[Update], rules: Rules
) -> tuple[RoundRecord, dict[str, bytes | None], bytes, Benchmark]:
    reveals, payloads = [], {}
    for u in updates:
        reveal, payload = u.build()
        reveals.append(reveal)
        payloads[reveal.cid] = payload
    return record_for(reveals, rules), payloads, base_bytes(), benchmark()


def standard_rules(**kw: object) -> Rules:
    defaults: dict[str, object] = {"fee_ppm": FEE_PPM, "similarity_threshold_ppm": 990_000}
    defaults.update(kw)
    return Rules(**defaults)  # type: ignore[arg-type]


def standard_updates() -> list[Update]:
    return [Update(i, seed=100 + i) for i in range(1, 7)]


# --- payload spoilers -------------------------------------------------------------------------


def with_nan(payload: bytes, _: dict[str, np.ndarray]) -> bytes:
    return inject_nan(payload)


def with_inf(payload: bytes, _: dict[str, np.ndarray]) -> bytes:
    return inject_inf(payload)


def _metadata(payload: bytes) -> dict[str, str]:
    (n,) = struct.unpack_from("<Q", payload, 0)
    return dict(json.loads(payload[8 : 8 + n])["__metadata__"])


def with_float64(payload: bytes, tensors: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    spoiled = {
        k: (v.astype(np.float64) if i == 0 else v)
        for i, (k, v) in enumerate(sorted(tensors.items()))
    }
    return save(spoiled, metadata=_metadata(payload))


def with_extra_tensor(payload: bytes, tensors: dict[str, np.ndarray]) -> bytes:
    return encode_weights({**tensors, "zz.extra": np.zeros(2, np.float32)}, _metadata(payload))


def with_missing_tensor(payload: bytes, tensors: dict[str, np.ndarray]) -> bytes:
    first = sorted(tensors)[0]
    return encode_weights({k: v for k, v in tensors.items() if k != first}, _metadata(payload))


def with_wrong_shape(payload: bytes, tensors: dict[str, np.ndarray]) -> bytes:
    first = sorted(tensors)[0]
    flat = {**tensors, first: tensors[first].reshape(-1)[:-1].copy()}
    return encode_weights(flat, _metadata(payload))


def as_pickle(_: bytes, tensors: dict[str, np.ndarray]) -> bytes:
    import pickle

    return pickle.dumps({k: v.tolist() for k, v in tensors.items()}, protocol=4)


def main() -> None:
    threads = int(sys.argv[1])
    import torch

    torch.set_num_threads(threads)
    from flchain.merge import merge

    for aggregation in Aggregation:
        rules = standard_rules(aggregation=aggregation, cluster_cap_ppm=400_000, trim_ppm=200_000)
        record, payloads, base, bench = build(standard_updates(), rules)
        result = merge(record, payloads, base, bench, [])
        print(aggregation.name, result.merged_digest, sha256_hex(result.manifest))
    rules = standard_rules(
        similarity_metric=SimilarityMetric.WEIGHT_DELTA, similarity_threshold_ppm=0
    )
    record, payloads, base, bench = build(standard_updates(), rules)
    result = merge(record, payloads, base, bench, [])
    print("WEIGHT_DELTA", result.merged_digest, sha256_hex(result.manifest))


if __name__ == "__main__":
    main()
