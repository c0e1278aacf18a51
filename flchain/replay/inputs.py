"""The merge's inputs of one round: the record from events, everything else by CID, verified.

    gather_inputs(ledger, store, round) -> (ReplayInputs, Fetched)

The base model (checked against its on-chain digest), the directives its manifest assigned, the
benchmark the rules name, and every payload the merge will read (`flchain.merge.content`). Missing or
corrupt payloads become `None` and are listed in `Fetched`; what the whole round depends on
(base, previous manifest) raises `ReplayUnavailable` instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from flchain.hashing import sha256_hex
from flchain.ledger import Ledger
from flchain.market.benchmark import Benchmark, benchmark_for_round, resolve
from flchain.merge.content import content_cids
from flchain.protocol import Directive, GlobalModel, RoundRecord, Rules, is_unset_benchmark
from flchain.replay.errors import ReplayError, ReplayUnavailable
from flchain.storage import ContentStore
from flchain.storage.errors import BlockNotFoundError, ContentMismatchError, MalformedDagError

#: A manifest larger than this is refused before parsing (real ones are a few KiB per node).
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReplayInputs:
    """Everything the pure merge was given, kept so callers can inspect or re-run it."""

    record: RoundRecord
    payloads: Mapping[str, bytes | None]
    base_weights: bytes
    benchmark: Benchmark
    directives: tuple[Directive, ...]


@dataclass(frozen=True)
class FetchProblem:
    """Why content could not be had intact: the store does not have it (`unavailable`), its
    bytes do not match the CID or its DAG is malformed (`corrupted`), or it is larger than the
    caller's bound (`oversized`, only with `fetch_content(..., max_bytes=)`)."""

    kind: Literal["unavailable", "corrupted", "oversized"]
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def fetch_content(
    store: ContentStore, cid: str, *, max_bytes: int | None = None
) -> bytes | FetchProblem:
    """The bytes of `cid` verified by the store, or what is wrong with them.

    The one place content faults are classified. A daemon outage (`UnavailableError`) is not a
    content fault and propagates: merging without the network would attest a wrong result.
    With `max_bytes` the file is streamed and given up as `oversized` past that many bytes, so
    a DAG that describes a huge file costs at most `max_bytes` (and a block) to refuse.
    """
    try:
        if max_bytes is None:
            return store.get(cid)
        chunks, size = [], 0
        for chunk in store.iter_content(cid):
            size += len(chunk)
            if size > max_bytes:
                return FetchProblem("oversized", f"{cid} is larger than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except BlockNotFoundError as exc:
        return FetchProblem("unavailable", str(exc))
    except (ContentMismatchError, MalformedDagError) as exc:
        return FetchProblem("corrupted", str(exc))


def benchmark_named(benchmark_id: str, round: int, store: ContentStore | None = None) -> Benchmark:
    """The benchmark a rules' 0x-hex id names (a window not shipped or registered here is
    fetched from ``store`` by the CID of its file digest); an all-zero id selects the round's
    shipped window."""
    if is_unset_benchmark(benchmark_id):
        return benchmark_for_round(round)
    return resolve(benchmark_id, store)


def benchmark_for_rules(rules: Rules, round: int, store: ContentStore | None = None) -> Benchmark:
    """The benchmark v1 rules name (`benchmark_named`)."""
    return benchmark_named(rules.benchmark_id, round, store)


def fetch_base_weights(store: ContentStore, base: GlobalModel) -> bytes:
    """The base model's bytes, fetched by CID and checked against the on-chain digest.

    @raises ReplayUnavailable when the store does not have it (or has it corrupted).
    @raises ReplayError when the bytes under the CID are not the digest the chain recorded.
    """
    label = "genesis model" if base.round < 0 else f"global model of round {base.round}"
    data = fetch_content(store, base.cid)
    if isinstance(data, FetchProblem):
        raise ReplayUnavailable(f"cannot fetch the {label} ({base.cid}): {data.detail}")
    if sha256_hex(data) != base.digest:
        raise ReplayError(
            f"the {label} under {base.cid} has digest {sha256_hex(data)}, chain says {base.digest}"
        )
    return data


def _directive_from_doc(doc: Mapping[str, Any]) -> Directive:
    return Directive(
        node=str(doc["node"]),
        feature_set=str(doc["feature_set"]),
        lookback_scale=int(doc["lookback_scale"]),
        learning_rate_ppm=int(doc["learning_rate_ppm"]),
        epochs=int(doc["epochs"]),
        init_seed=int(str(doc["init_seed"])),
    )


def parse_manifest(data: bytes) -> dict[str, Any]:
    """A manifest's JSON document (plain JSON only: nothing is ever unpickled or evaluated).

    @raises ReplayError when the bytes are not a JSON object.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ReplayError(
            f"manifest of {len(data)} bytes exceeds the {MAX_MANIFEST_BYTES}-byte limit"
        )
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReplayError(f"manifest is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ReplayError("manifest is not a JSON object")
    return doc


def directives_from_manifest(data: bytes) -> tuple[Directive, ...]:
    """The exploration directives a manifest assigns for the next round.

    @raises ReplayError when the manifest does not parse or a directive is malformed.
    """
    doc = parse_manifest(data)
    try:
        return tuple(_directive_from_doc(d) for d in doc.get("directives", []))
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise ReplayError(f"manifest directive is malformed: {str(exc).splitlines()[0]}") from None


def directives_for_record(store: ContentStore, record: RoundRecord) -> tuple[Directive, ...]:
    """Directives in force for `record`'s round: those the base model's manifest assigned.

    The genesis model has no manifest and assigns none. Nodes training for a round must use
    exactly this function's answer, or the merge rejects their update as `ignored_directive`.
    @raises ReplayUnavailable when the base manifest cannot be fetched.
    """
    cid = record.base.manifest_cid
    if record.base.round < 0 or not cid:
        return ()
    data = fetch_content(store, cid)
    if isinstance(data, FetchProblem):
        raise ReplayUnavailable(
            f"cannot fetch the manifest of round {record.base.round} ({cid}): {data.detail}"
        )
    return directives_from_manifest(data)


@dataclass(frozen=True)
class Fetched:
    payloads: dict[str, bytes | None]
    unavailable: tuple[str, ...]
    corrupted: tuple[str, ...]
    problems: dict[str, str]


def fetch_payloads(store: ContentStore, cids: list[str]) -> Fetched:
    """Fetch each CID (verified by the store). Missing or corrupt content becomes `None`.

    Daemon outages (`UnavailableError`) propagate: they say nothing about the content.
    """
    payloads: dict[str, bytes | None] = {}
    faults: dict[str, FetchProblem] = {}
    for cid in cids:
        got = fetch_content(store, cid)
        if isinstance(got, FetchProblem):
            payloads[cid], faults[cid] = None, got
        else:
            payloads[cid] = got
    return Fetched(
        payloads,
        unavailable=tuple(c for c, f in faults.items() if f.kind == "unavailable"),
        corrupted=tuple(c for c, f in faults.items() if f.kind == "corrupted"),
        problems={c: str(f) for c, f in faults.items()},
    )


def gather_inputs(
    ledger: Ledger, store: ContentStore, round: int, record: RoundRecord | None = None
) -> tuple[ReplayInputs, Fetched]:
    """Rebuild the round from events and fetch every input the merge needs (no writes)."""
    record = record if record is not None else ledger.round_record(round)
    base_weights = fetch_base_weights(store, record.base)
    directives = directives_for_record(store, record)
    benchmark = benchmark_for_rules(record.rules, round, store)
    fetched = fetch_payloads(store, content_cids(record))
    inputs = ReplayInputs(
        record=record,
        payloads=fetched.payloads,
        base_weights=base_weights,
        benchmark=benchmark,
        directives=directives,
    )
    return inputs, fetched
