"""Pinned merge vectors: committed inputs, committed expected outputs, and the comparison.

    inputs/round.json        the RoundRecord (rules of every case but two fields), the payload
                             map (CID -> file under inputs/, or null = content unavailable),
                             the directives in force, the benchmark window, a label per node
    inputs/*.safetensors     the base model and every payload, as bytes
    expected/<case>.json     merged digest/CID, manifest CID, decisions, weights, clusters,
                             directives, penalised, merged tensors (float32 bits)
    expected/<case>.manifest.json   the manifest, pretty-printed; its canonical re-encoding is
                             the manifest's exact bytes (checked against the manifest CID)

A case is one `Aggregation` x `SimilarityMetric`; it overrides those two rule fields of the
record and nothing else. The test (tests/merge/test_vectors.py) and `regenerate.py` both
go through `compute_case` and `differences`, so the test fails on exactly what the script
would rewrite. Procedure: docs/merge.md, "Pinned vectors".

Run as a script (`python pinned.py <threads>`) it computes every case under that thread
setting and prints one JSON object: the cross-process check of the test.
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from flchain.market.benchmark import Benchmark, shipped_window
from flchain.merge import MergeResult, merge
from flchain.merge.manifest import encode_manifest
from flchain.protocol import Aggregation, Directive, RoundRecord, SimilarityMetric
from flchain.storage.weights import decode_weights

Labels = Callable[[str], str]  # address -> "address (label)"

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
EXPECTED = HERE / "expected"
ROUND_FILE = INPUTS / "round.json"


@dataclass(frozen=True)
class Fields:
    """The fields of a summary compared one by one, in the order a failure reports them:
    single values, entries keyed by node, lists of addresses."""

    scalars: tuple[str, ...]
    node_entries: tuple[str, ...]
    node_lists: tuple[str, ...]


FIELDS = Fields(
    scalars=("merged_digest", "merged_cid", "manifest_cid", "kept_base"),
    node_entries=("decisions", "weights", "directives"),
    node_lists=("penalised", "clusters"),
)
MAX_DIFF_LINES = 200  # of the manifest's unified diff in one report


@dataclass(frozen=True)
class Case:
    aggregation: Aggregation
    metric: SimilarityMetric

    @property
    def name(self) -> str:
        return f"{self.aggregation.name.lower()}.{self.metric.name.lower()}"

    @property
    def title(self) -> str:
        return f"{self.aggregation.name} x {self.metric.name}"


CASES = tuple(Case(a, m) for a, m in product(Aggregation, SimilarityMetric))


@dataclass(frozen=True)
class Inputs:
    record: RoundRecord
    payloads: dict[str, bytes | None]
    base: bytes
    benchmark: Benchmark
    directives: tuple[Directive, ...]
    labels: dict[str, str]


class BenchmarkChanged(AssertionError):
    """The shipped market data moved under the vectors: a data change, not a merge change."""


def benchmark_summary(bench: Benchmark, window: int) -> dict[str, Any]:
    return {
        "window": window,
        "name": bench.name,
        "id": bench.id,  # = bars.content_hash(): sha256 of the bars' canonical bytes
        "bars": len(bench.bars),
        "first_timestamp_ms": int(bench.bars.timestamps[0]),
        "last_timestamp_ms": int(bench.bars.timestamps[-1]),
    }


def load_benchmark(pinned: Mapping[str, Any]) -> Benchmark:
    """The shipped window the vectors were built on; refuses it if its content moved."""
    bench = shipped_window(int(pinned["window"]))
    now = benchmark_summary(bench, int(pinned["window"]))
    if bench.bars.content_hash() != pinned["id"] or now != dict(pinned):
        raise BenchmarkChanged(
            f"shipped benchmark window {pinned['window']} is not the one the merge vectors were "
            f"built on: the market data changed, not the merge.\n  pinned: {dict(pinned)}\n"
            f"  now:    {now}\nRebuild the inputs on purpose (regenerate.py --inputs) or restore "
            "the data."
        )
    return bench


def load_inputs() -> Inputs:
    doc = json.loads(ROUND_FILE.read_text())
    record = RoundRecord.model_validate(doc["record"])
    bench = load_benchmark(doc["benchmark"])
    if record.rules.benchmark_id != bench.id:
        raise AssertionError("inputs/round.json: the rules name another benchmark than pinned")
    payloads: dict[str, bytes | None] = {
        cid: None if name is None else (INPUTS / name).read_bytes()
        for cid, name in doc["payloads"].items()
    }
    return Inputs(
        record=record,
        payloads=payloads,
        base=(INPUTS / doc["base"]).read_bytes(),
        benchmark=bench,
        directives=tuple(Directive.model_validate(d) for d in doc["directives"]),
        labels=dict(doc["labels"]),
    )


def case_record(inputs: Inputs, case: Case) -> RoundRecord:
    rules = inputs.record.rules.model_copy(
        update={"aggregation": case.aggregation, "similarity_metric": case.metric}
    )
    return inputs.record.model_copy(update={"rules": rules})


def run_case(inputs: Inputs, case: Case, shuffle: int | None = None) -> MergeResult:
    """The merge of one case; `shuffle` seeds a permutation of the reveals, the payload
    entries and the directives (arrival order, which must change nothing)."""
    record = case_record(inputs, case)
    payloads, directives = inputs.payloads, list(inputs.directives)
    if shuffle is not None:
        rng = random.Random(shuffle)
        reveals = list(record.reveals)
        rng.shuffle(reveals)
        record = record.model_copy(update={"reveals": tuple(reveals)})
        keys = list(payloads)
        rng.shuffle(keys)
        payloads = {k: payloads[k] for k in keys}
        rng.shuffle(directives)
    return merge(record, payloads, inputs.base, inputs.benchmark, directives)


def float32_bits(values: np.ndarray) -> list[str]:
    return [f"{int(b):08x}" for b in np.ascontiguousarray(values, np.float32).view(np.uint32)]


def summarise(result: MergeResult, labels: Mapping[str, str]) -> dict[str, Any]:
    """Everything a vector pins about one merge, as plain JSON values."""
    manifest = json.loads(result.manifest)
    measured = {e["node"]: e for e in manifest["inputs"]}
    tensors, _ = decode_weights(result.merged_weights)
    return {
        "merged_digest": result.merged_digest,
        "merged_cid": result.merged_cid,
        "manifest_cid": result.manifest_cid,
        "kept_base": result.kept_base,
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
        "merged_tensors": {
            name: float32_bits(t.reshape(-1)) for name, t in sorted(tensors.items())
        },
    }


def compute_case(inputs: Inputs, case: Case) -> tuple[dict[str, Any], bytes]:
    result = run_case(inputs, case)
    return summarise(result, inputs.labels), result.manifest


# --- expected files -------------------------------------------------------------------------


def summary_path(case: Case, folder: Path = EXPECTED) -> Path:
    return folder / f"{case.name}.json"


def manifest_path(case: Case, folder: Path = EXPECTED) -> Path:
    return folder / f"{case.name}.manifest.json"


def pretty(manifest: bytes) -> str:
    return json.dumps(json.loads(manifest), indent=1, sort_keys=True) + "\n"


def canonical(pretty_text: str) -> bytes:
    """Exact manifest bytes back from the pretty file (ints and strings only, so the round
    trip is exact). The encoder itself is pinned too: the summary holds the manifest CID."""
    return encode_manifest(json.loads(pretty_text))


def summary_text(case: Case, summary: Mapping[str, Any]) -> str:
    doc = {"case": case.title, **summary}
    return json.dumps(doc, indent=1) + "\n"


def load_expected(case: Case, folder: Path = EXPECTED) -> tuple[dict[str, Any], bytes] | None:
    summary_file, manifest_file = summary_path(case, folder), manifest_path(case, folder)
    if not summary_file.exists() or not manifest_file.exists():
        return None
    summary = json.loads(summary_file.read_text())
    summary.pop("case", None)
    return summary, canonical(manifest_file.read_text())


def write_tree(folder: Path, files: dict[str, bytes]) -> bool:
    """Make `folder` hold exactly `files`; print each file added, changed or removed."""
    folder.mkdir(parents=True, exist_ok=True)
    old = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    changed = False
    for name in sorted(set(old) | set(files)):
        if name not in files:
            (folder / name).unlink()
            print(f"  removed {folder.name}/{name}")
        elif old.get(name) != files[name]:
            (folder / name).write_bytes(files[name])
            print(f"  {'changed' if name in old else 'added'} {folder.name}/{name}")
        else:
            continue
        changed = True
    return changed


def rewrite_expected(
    cases: Sequence[Any],
    compute: Callable[[Any], tuple[dict[str, Any], bytes]],
    folder: Path,
    check: bool,
    fields: Fields = FIELDS,
) -> int:
    """Recompute every case, print what changed, and (unless `check`) rewrite `folder`.
    @return the number of cases that changed (or would)."""
    files: dict[str, bytes] = {}
    changed = 0
    for case in cases:
        summary, manifest = compute(case)
        files[summary_path(case, folder).name] = summary_text(case, summary).encode()
        files[manifest_path(case, folder).name] = pretty(manifest).encode()
        expected = load_expected(case, folder)
        if expected is None:
            print(f"{case.title}: new vector, merged {summary['merged_digest']}")
            changed += 1
            continue
        problems = differences(case, expected, (summary, manifest), fields)
        if problems:
            changed += 1
            print(report(case, problems, folder))
        else:
            print(f"{case.title}: unchanged")
    print(f"{changed} of {len(cases)} cases {'would change' if check else 'changed'}")
    if not check and write_tree(folder, files):
        print(
            "vectors rewritten: commit them with the reason the merged bytes changed"
            if changed
            else "vector files rewritten, every case's content unchanged (format only)"
        )
    return changed


def regenerate_main(doc: str, build_inputs: Callable[[], None], vectors: Any) -> int:
    """The command line of both regenerate.py scripts (`doc`: the script's docstring):
    `--inputs` rebuilds the inputs by `build_inputs` first, then every case of `vectors` (this
    module or pinned_v2: `CASES`, `load_inputs`, `compute_case`, `EXPECTED`, `FIELDS`) is
    recomputed from the committed inputs and its expected files rewritten; `--check` prints
    the changes and writes nothing. @return the exit code (1: `--check` found changes)"""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on changes")
    parser.add_argument("--inputs", action="store_true", help="rebuild inputs/ from the recipe")
    args = parser.parse_args()
    if args.inputs and args.check:
        parser.error("--inputs writes the inputs; it cannot be combined with --check")
    if args.inputs:
        print("inputs (recipe in regenerate.py):")
        build_inputs()
    inputs = vectors.load_inputs()
    changed = rewrite_expected(
        vectors.CASES,
        lambda case: vectors.compute_case(inputs, case),
        vectors.EXPECTED,
        args.check,
        vectors.FIELDS,
    )
    return 1 if args.check and changed else 0


# --- differences ----------------------------------------------------------------------------


def _order_key(bits: str) -> int:
    """float32 bits -> an integer whose order is the float order, so |a - b| counts ulps."""
    value = int(bits, 16)
    return -(value & 0x7FFFFFFF) if value >> 31 else value


def _bits_value(bits: str) -> float:
    return float(np.array([int(bits, 16)], np.uint32).view(np.float32)[0])


def _tensor_differences(
    expected: Mapping[str, list[str]], got: Mapping[str, list[str]]
) -> Iterator[str]:
    if sorted(expected) != sorted(got):
        yield f"merged_tensors: names expected {sorted(expected)}, got {sorted(got)}"
        return
    for name in sorted(expected):
        old, new = expected[name], got[name]
        if len(old) != len(new):
            yield f"merged_tensors[{name!r}]: {len(old)} values expected, got {len(new)}"
            continue
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        if not changed:
            continue
        ulps = [abs(_order_key(old[i]) - _order_key(new[i])) for i in changed]
        worst = changed[ulps.index(max(ulps))]
        yield (
            f"merged_tensors[{name!r}]: {len(changed)} of {len(old)} values differ, "
            f"max {max(ulps)} ulp at [{worst}]: expected {_bits_value(old[worst])!r} "
            f"(0x{old[worst]}), got {_bits_value(new[worst])!r} (0x{new[worst]})"
        )


def _per_node_differences(
    field: str, expected: Sequence[Mapping[str, Any]], got: Sequence[Mapping[str, Any]], who: Labels
) -> Iterator[str]:
    """Entries keyed by node (decisions, weights, directives): one line per differing value."""
    old = {e["node"]: e for e in expected}
    new = {e["node"]: e for e in got}
    for node in [n for n in old if n not in new]:
        yield f"{field}: {who(node)} expected {json.dumps(old[node])}, now absent"
    for node in [n for n in new if n not in old]:
        yield f"{field}: {who(node)} not expected, got {json.dumps(new[node])}"
    for node in [n for n in old if n in new]:
        changed = [
            f"{key} expected {old[node][key]!r}, got {new[node].get(key)!r}"
            for key in old[node]
            if key not in ("node", "label") and old[node][key] != new[node].get(key)
        ]
        if changed:
            yield f"{field} of {who(node)}: " + "; ".join(changed)
    if [n for n in old if n in new] != [n for n in new if n in old]:
        yield f"{field}: order expected {[who(n) for n in old]}, got {[who(n) for n in new]}"


def _node_list_differences(
    field: str, expected: Sequence[Any], got: Sequence[Any], who: Labels
) -> Iterator[str]:
    """Lists of addresses (penalised) or of lists of addresses (clusters), shown by label."""
    if list(expected) == list(got):
        return

    def show(items: Sequence[Any]) -> list[Any]:
        return [show(i) if isinstance(i, list) else who(i) for i in items]

    yield f"{field}:\n  expected {show(expected)}\n  got      {show(got)}"


def manifest_diff(expected: bytes, got: bytes, case: Case) -> str:
    lines = list(
        difflib.unified_diff(
            pretty(expected).splitlines(keepends=True),
            pretty(got).splitlines(keepends=True),
            fromfile=f"expected/{case.name}.manifest.json",
            tofile=f"computed {case.name} manifest",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        more = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"... {more} more diff lines\n"]
    return "".join(lines)


def differences(
    case: Case,
    expected: tuple[Mapping[str, Any], bytes],
    got: tuple[Mapping[str, Any], bytes],
    fields: Fields = FIELDS,
) -> list[str]:
    """Every field of `got` that is not as pinned, one readable line each, then the manifest
    as a unified diff. Empty when the case reproduces its vector byte for byte."""
    (old, old_manifest), (new, new_manifest) = expected, got
    labels = {d["node"]: d["label"] for d in [*old.get("decisions", []), *new["decisions"]]}

    def who(node: str) -> str:
        return f"{node} ({labels[node]})" if labels.get(node) else node

    out: list[str] = []
    for key in fields.scalars:
        if old.get(key) != new[key]:
            out.append(f"{key}: expected {old.get(key)!r}, got {new[key]!r}")
    for key in fields.node_entries:
        out.extend(_per_node_differences(key, old.get(key, []), new[key], who))
    for key in fields.node_lists:
        out.extend(_node_list_differences(key, old.get(key, []), new[key], who))
    out.extend(_tensor_differences(old.get("merged_tensors", {}), new["merged_tensors"]))
    if old_manifest != new_manifest:
        diff = manifest_diff(old_manifest, new_manifest, case)
        out.append("manifest:\n" + (diff or "same content, other bytes: the encoding changed"))
    return out


def report(case: Case, problems: Sequence[str], folder: Path = EXPECTED) -> str:
    where = summary_path(case, folder).relative_to(HERE.parents[2])
    lines = [f"merge vector {case.title} ({where}):"]
    lines += ["  " + p.replace("\n", "\n  ") for p in problems]
    return "\n".join(lines)


# --- cross-process worker -------------------------------------------------------------------


def main(threads: int) -> None:
    import torch  # the merge does not use torch; its thread pool is set anyway, as a node's is

    torch.set_num_threads(threads)
    inputs = load_inputs()
    out = {}
    for case in CASES:
        result = run_case(inputs, case)
        out[case.name] = {
            "merged_digest": result.merged_digest,
            "merged_cid": result.merged_cid,
            "manifest_cid": result.manifest_cid,
        }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(int(sys.argv[1]))
