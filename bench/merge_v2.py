"""The whole merge of one round, protocol v2 vs v1 on the same updates, same run.

    python bench/merge_v2.py [--updates 10 100] [--repeat 3]

For N accepted updates of the tests' small model (hidden 8, ~1.1 KB payloads) on shipped
benchmark window 3, it times:

* v1 `merge(record, payloads, base, benchmark, directives)` — the baseline;
* v2 `merge_v2(record, base, benchmark, prior)` with one valid beacon post and a prior table of
  N rows: cold (the beacon's BLS verification cleared from the memo first, as a merger's first
  look at a round pays it) and warm (memoised, as every later look does).

Both validate, re-run every ROI claim, select, cluster, aggregate and write a manifest; v2 adds
the seed, tie keys and the settlement table and root. Best of --repeat runs, wall clock.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from eth_utils import to_checksum_address

from flchain.backtest import roi_bps
from flchain.hashing import sha256_hex
from flchain.market.benchmark import shipped_window
from flchain.merge import MergeResult, merge
from flchain.merge.settlement import settlement_root
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2
from flchain.model import (
    ModelConfig,
    config_to_metadata,
    init_weights,
    perturb_weights,
    reference_positions,
)
from flchain.protocol import GlobalModel, Reveal, RevealOutcome, RoundRecord, Rules
from flchain.protocol import beacon as beacon_module
from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.binding import compute_binding_metadata
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import BaseModelV2, BeaconParams, BeaconPost, RegisteredNode, RevealV2
from flchain.storage.cid import cid_for_bytes
from flchain.storage.weights import encode_weights

CONTRACT = to_checksum_address("0x" + "c0" * 20)
CHAIN_ID, ROUND = 31_337, 5
START, COMMIT, REVEAL, BEACON_WINDOW, LENGTH = 1_000_000, 43_200, 21_600, 3_600, 86_400
CONFIG = ModelConfig(hidden=8, init_seed=5)
BEACON = DevnetBeacon(b"bench/merge_v2")


def build(
    n: int,
) -> tuple[tuple[RoundRecord, dict[str, bytes | None]], RoundRecordV2, bytes, PriorRound]:
    bench = shipped_window(3)
    base_tensors = init_weights(CONFIG)
    base = encode_weights(base_tensors, config_to_metadata(CONFIG))
    nodes = [to_checksum_address(dg.keccak(b"node %d" % i)[12:]) for i in range(n)]
    v1_reveals, v2_reveals, payloads = [], [], {}
    for i, node in enumerate(nodes):
        tensors = perturb_weights(base_tensors, 100 + i, 200_000)
        payload = encode_weights(tensors, config_to_metadata(CONFIG))
        claim = roi_bps(bench.exec_prices, reference_positions(tensors, CONFIG, bench.bars), 1_000)
        salt = dg.keccak(b"salt %d" % i)
        v1 = Reveal(
            round=ROUND,
            node=node,
            update_digest=sha256_hex(payload),
            cid=cid_for_bytes(payload),
            base_digest=sha256_hex(base),
            roi_bps=claim,
            salt="0x" + salt.hex(),
            outcome=RevealOutcome.ACCEPTED,
        )
        v1_reveals.append(v1)
        payloads[v1.cid] = payload
        # the same weights, the metadata naming the reveal (protocol.md §5): v2's update
        bound = config_to_metadata(CONFIG) | compute_binding_metadata(node, ROUND)
        payload = encode_weights(tensors, bound)
        v2_reveals.append(
            RevealV2(
                node=node,
                update_digest=dg.sha256(payload),
                base_digest=dg.sha256(base),
                roi_bps=claim,
                salt=salt,
                outcome=m.RevealOutcome.ACCEPTED,
                block_number=10,
                log_index=i,
                payload=payload,
            )
        )
    common = dict(fee_ppm=1_000, max_participants=n, similarity_threshold_ppm=950_000)
    v1_record = RoundRecord(
        round=ROUND,
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        start=START,
        commit_end=START + COMMIT,
        reveal_end=START + COMMIT + REVEAL,
        end=START + LENGTH,
        rules=Rules(**common, benchmark_id=bench.id),
        reveals=tuple(v1_reveals),
        base=GlobalModel(round=ROUND - 1, digest=sha256_hex(base), cid=cid_for_bytes(base)),
    )
    prior = tuple(m.Leaf(node, i, 10**15 * i, 0, i % 9, 0, 10 * i) for i, node in enumerate(nodes))
    params = BeaconParams(genesis=START - 1_000, period=3, delay=30, public_key=BEACON.public_key)
    v2_record = RoundRecordV2(
        round=ROUND,
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        start=START,
        commit_end=START + COMMIT,
        reveal_end=START + COMMIT + REVEAL,
        attest_open=START + COMMIT + REVEAL + BEACON_WINDOW,
        deadline=START + LENGTH,
        rules=m.RulesV2(**common, benchmark_id=bytes.fromhex(bench.id[2:]), emission_wei=10**18),
        beacon=params,
        reserved=10**18,
        nodes=tuple(RegisteredNode(address=a, index=i) for i, a in enumerate(nodes)),
        base=BaseModelV2(
            round=ROUND - 1,
            digest=dg.sha256(base),
            cid=dg.raw_leaf_cid(dg.sha256(base)),
            manifest_cid=dg.raw_leaf_cid(dg.sha256(b"previous manifest")),
            settlement_root=settlement_root(prior, CHAIN_ID, CONTRACT),
        ),
        reveals=tuple(v2_reveals),
    )
    d = v2_record.beacon_round
    post = BeaconPost(
        node=nodes[0], beacon_round=d, signature=BEACON.sign(d), block_number=20, log_index=0
    )
    v2_record = v2_record.model_copy(update={"beacon_posts": (post,)})
    return (v1_record, payloads), v2_record, base, PriorRound(round=ROUND - 1, leaves=prior)


def best(fn: Callable[[], object], repeat: int, before: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(n: int, repeat: int) -> tuple[float, float, float]:
    """(v1, v2 cold, v2 warm) best times for n updates."""
    bench = shipped_window(3)
    (v1_record, payloads), v2_record, base, prior = build(n)

    def v1() -> MergeResult:
        return merge(v1_record, payloads, base, bench, [])

    def v2() -> MergeResultV2:
        return merge_v2(v2_record, base, bench, prior)

    assert v1().merged_digest == v2().merged_digest, "same updates, same merged model"
    return (
        best(v1, repeat),
        best(v2, repeat, before=beacon_module._verdict.cache_clear),  # the memo, cleared
        best(v2, repeat),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/merge_v2.py")
    parser.add_argument("--updates", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    print(f"benchmark window 3: {len(shipped_window(3).bars)} bars; best of {opts.repeat}, seconds")
    print(f"{'updates':>8} {'v1 (baseline)':>14} {'v2 cold':>9} {'v2 warm':>9} {'v2/v1 warm':>11}")
    for n in opts.updates:
        v1, cold, warm = measure(n, opts.repeat)
        print(f"{n:>8} {v1:>14.3f} {cold:>9.3f} {warm:>9.3f} {warm / v1:>11.2f}")


if __name__ == "__main__":
    main()
