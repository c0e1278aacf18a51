"""Pinned v2 merge vectors: committed inputs, committed expected outputs, and the comparison.

    inputs/round.json            the RoundRecordV2 (payloads from calldata inline, hex), the
                                 benchmark window, a label per node
    inputs/base.safetensors      the base model: the merged model of the previous round
    inputs/base.manifest.json    that round's v2 manifest, pretty-printed; its canonical bytes
                                 have the record's base manifest CID, its table the base's
                                 settlement root (the prior of this round)
    inputs/forward.round.json    round 9's RoundRecordV2 with forward scoring on (the forward
                                 case's w), forward.base.safetensors its base, and
                                 forward.window.bin its accepted window's bytes
    expected/<case>.json         merged digest/CID, manifest CID, result hash, settlement root,
                                 roundEarned, dust, seed, decisions, weights, clusters,
                                 directives, earnings, every leaf, merged tensors (float32 bits)
    expected/<case>.manifest.json   the manifest, pretty-printed

A case is one `Aggregation` with the round's beacon posts (a forged post, then a valid one, then
another valid one never looked at), plus `mean_equal.fallback`: the forged post only, so the seed
is the salts' alone, and `mean_roi.forward`: the forward rules (`FORWARD_RULES`) on, round 9's
updates scored on its window, the records ranking, weighing and paying. The comparison, the
report and the rewrite are the v1 vectors' (tests/merge/vectors/pinned.py) with the v2
summary's fields (and the manifest's forward section when there is one). Procedure: docs/merge.md,
"Pinned v2 vectors".

Run as a script (`python pinned_v2.py <threads>`) it computes every case under that thread
setting and prints one JSON object: the cross-process check of the test.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "vectors"))  # the v1 vectors' comparison and report

import pinned  # noqa: E402

from flchain.market.benchmark import Benchmark  # noqa: E402
from flchain.merge.forward import ForwardRound  # noqa: E402
from flchain.merge.settlement import leaf_doc  # noqa: E402
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest  # noqa: E402
from flchain.protocol import digests as dg  # noqa: E402
from flchain.protocol.record import RoundRecordV2  # noqa: E402
from flchain.protocol.types import Aggregation  # noqa: E402
from flchain.storage.cid import cid_for_bytes, parse_cid  # noqa: E402
from flchain.storage.weights import decode_weights  # noqa: E402

INPUTS = HERE / "inputs"
EXPECTED = HERE / "expected"
ROUND_FILE = INPUTS / "round.json"
BASE_FILE = INPUTS / "base.safetensors"
BASE_MANIFEST_FILE = INPUTS / "base.manifest.json"
FORWARD_FILE = INPUTS / "forward.round.json"
FORWARD_BASE_FILE = INPUTS / "forward.base.safetensors"
FORWARD_WINDOW_FILE = INPUTS / "forward.window.bin"

FIELDS = pinned.Fields(
    scalars=(
        "merged_digest",
        "merged_cid",
        "manifest_cid",
        "result_hash",
        "settlement_root",
        "round_earned",
        "dust",
        "kept_base",
        "seed",
    ),
    node_entries=("decisions", "weights", "directives", "earned", "leaves"),
    node_lists=("penalised", "clusters"),
)


#: The forward case's rule fields (docs/protocol.md §15), in round 9's rules and round 10's:
#: 16 scored bars voted one round later (they fit: C + R + 18 bars < L), a record of up to 4
#: rounds, one scored round out of probation.
FORWARD_RULES: dict[str, int] = {
    "forward_bars": 16,
    "forward_lag_rounds": 1,
    "forward_trail_rounds": 4,
    "probation_rounds": 1,
}


@dataclass(frozen=True)
class Case:
    aggregation: Aggregation
    fallback: bool = False  # only the forged beacon post: the salts-only seed
    forward: bool = False  # forward scoring on: round 9 scored on its window ranks and pays

    @property
    def name(self) -> str:
        suffix = ".fallback" if self.fallback else ".forward" if self.forward else ""
        return self.aggregation.name.lower() + suffix

    @property
    def title(self) -> str:
        suffix = " without a valid beacon" if self.fallback else ""
        return f"v2 {self.aggregation.name}{suffix}" + (" forward-scored" if self.forward else "")


CASES = (
    *(Case(a) for a in Aggregation),
    Case(Aggregation.MEAN_EQUAL, fallback=True),
    Case(Aggregation.MEAN_ROI, forward=True),
)


@dataclass(frozen=True)
class Inputs:
    record: RoundRecordV2
    base: bytes
    base_manifest: bytes
    prior: PriorRound
    benchmark: Benchmark
    labels: dict[str, str]
    forward: ForwardRound  # round 9 with forward scoring on, its base and its window


def load_inputs() -> Inputs:
    doc = json.loads(ROUND_FILE.read_text())
    record = RoundRecordV2.model_validate(doc["record"])
    bench = pinned.load_benchmark(doc["benchmark"])
    if record.rules.benchmark_id.hex() != bench.id[2:]:
        raise AssertionError("inputs/round.json: the rules name another benchmark than pinned")
    manifest = pinned.canonical(BASE_MANIFEST_FILE.read_text())
    if parse_cid(cid_for_bytes(manifest)).to_bytes() != record.base.manifest_cid:
        raise AssertionError("inputs/base.manifest.json is not the base's manifest (CID)")
    forward = RoundRecordV2.model_validate(json.loads(FORWARD_FILE.read_text())["record"])
    window = FORWARD_WINDOW_FILE.read_bytes()
    if forward.forward_window != dg.sha256(window):
        raise AssertionError("inputs/forward.window.bin is not the forward round's window")
    return Inputs(
        forward=ForwardRound(forward, FORWARD_BASE_FILE.read_bytes(), window),
        record=record,
        base=BASE_FILE.read_bytes(),
        base_manifest=manifest,
        prior=prior_from_manifest(manifest),
        benchmark=bench,
        labels=dict(doc["labels"]),
    )


def case_record(inputs: Inputs, case: Case) -> RoundRecordV2:
    rules = inputs.record.rules
    posts = inputs.record.beacon_posts
    if case.fallback:
        posts = posts[:1]
    changes: dict[str, Any] = dict(FORWARD_RULES) if case.forward else {}
    return inputs.record.model_copy(
        update={
            "rules": replace(rules, aggregation=int(case.aggregation), **changes),
            "beacon_posts": posts,
        }
    )


def run_case(inputs: Inputs, case: Case, shuffle: int | None = None) -> MergeResultV2:
    """The merge of one case; `shuffle` seeds a permutation of the reveals, the beacon posts and
    the directives in force (arrival order, which must change nothing)."""
    record, prior = case_record(inputs, case), inputs.prior
    forward = inputs.forward if case.forward else None
    if shuffle is not None:
        rng = random.Random(shuffle)
        reveals, posts = list(record.reveals), list(record.beacon_posts)
        directives = list(prior.directives)
        for items in (reveals, posts, directives):
            rng.shuffle(items)
        record = record.model_copy(update={"reveals": tuple(reveals), "beacon_posts": tuple(posts)})
        prior = prior.model_copy(update={"directives": tuple(directives)})
        if forward is not None:
            scored, committed = list(forward.record.reveals), list(forward.record.committed)
            for items in (scored, committed):
                rng.shuffle(items)
            update = {"reveals": tuple(scored), "committed": tuple(committed)}
            forward = replace(forward, record=forward.record.model_copy(update=update))
    return merge_v2(record, inputs.base, inputs.benchmark, prior, forward)


def summarise(result: MergeResultV2, labels: Mapping[str, str]) -> dict[str, Any]:
    """Everything a v2 vector pins about one merge, as plain JSON values."""
    manifest = json.loads(result.manifest)
    measured = {e["node"]: e for e in manifest["inputs"]}
    tensors, _ = decode_weights(result.merged_weights)
    settlement = manifest["settlement"]
    return {
        "merged_digest": result.merged_digest,
        "merged_cid": result.merged_cid,
        "manifest_cid": result.manifest_cid,
        "result_hash": "0x" + result.result_hash.hex(),
        "settlement_root": settlement["root"],
        "round_earned": settlement["round_earned"],
        "dust": settlement["dust"],
        "kept_base": result.kept_base,
        "seed": manifest["seed"],
        "penalised": list(result.penalised),
        "decisions": [
            {
                "node": d.node,
                "label": labels.get(d.node, ""),
                "reason": d.reason.value,
                "recomputed_roi_bps": measured[d.node].get("recomputed_roi_bps"),
                "norm_micro": measured[d.node].get("norm_micro"),
            }
            for d in result.decisions
        ],
        "clusters": manifest.get("clusters", []),
        "weights": [
            {"node": w["node"], "share": w["share"], "integer": w["integer"]}
            for w in manifest.get("weights", [])
        ],
        "directives": [d.model_dump(mode="json") for d in result.directives],
        "earned": settlement["earned"],
        "leaves": [
            {**leaf_doc(leaf), "label": labels.get(leaf.node, "")}
            for leaf in result.settlement.leaves
        ],
        **({"forward": manifest["forward"]} if "forward" in manifest else {}),
        "merged_tensors": {
            name: pinned.float32_bits(t.reshape(-1)) for name, t in sorted(tensors.items())
        },
    }


def compute_case(inputs: Inputs, case: Case) -> tuple[dict[str, Any], bytes]:
    result = run_case(inputs, case)
    return summarise(result, inputs.labels), result.manifest


def load_expected(case: Case) -> tuple[dict[str, Any], bytes] | None:
    return pinned.load_expected(case, EXPECTED)  # type: ignore[arg-type]


def differences(
    case: Case, expected: tuple[Mapping[str, Any], bytes], got: tuple[Mapping[str, Any], bytes]
) -> list[str]:
    return pinned.differences(case, expected, got, FIELDS)  # type: ignore[arg-type]


def report(case: Case, problems: list[str]) -> str:
    return pinned.report(case, problems, EXPECTED)  # type: ignore[arg-type]


def main(threads: int) -> None:
    import torch  # the merge does not use torch; its thread pool is set anyway, as a node's is

    torch.set_num_threads(threads)
    inputs = load_inputs()
    out = {}
    for case in CASES:
        result = run_case(inputs, case)
        out[case.name] = {
            "merged_digest": result.merged_digest,
            "manifest_cid": result.manifest_cid,
            "result_hash": "0x" + result.result_hash.hex(),
        }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(int(sys.argv[1]))
