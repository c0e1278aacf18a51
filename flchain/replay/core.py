"""Replaying a round: the pure merge over the gathered inputs, shared in-process by a memo.

replay_round(ledger, store, round) -> ReplayResult          (reads only)
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flchain.ledger import Ledger
from flchain.merge.core import MergeResult, merge
from flchain.protocol import RoundRecord
from flchain.replay.inputs import ReplayInputs, gather_inputs
from flchain.storage import ContentStore

_R = TypeVar("_R")


@dataclass(frozen=True)
class ReplayResult:
    """One replayed round.

    @param result the merge's output (merged bytes, manifest, digests, CIDs, decisions)
    @param record the round as rebuilt from contract events
    @param unavailable CIDs of revealed payloads the store does not have
    @param corrupted CIDs whose stored bytes do not match the CID (named blocks in `problems`)
    @param problems CID -> one-line description of what went wrong fetching it
    @param inputs the exact merge inputs (base bytes, payloads, benchmark, directives)
    """

    result: MergeResult
    record: RoundRecord
    unavailable: tuple[str, ...]
    corrupted: tuple[str, ...] = ()
    problems: Mapping[str, str] = field(default_factory=dict)
    inputs: ReplayInputs | None = None


#: A deliberate fault's hook (`flchain.simulate.adversaries`): given the honest replay, return
#: the result to publish and attest instead. Never used by an honest node.
Tamper = Callable[[ReplayResult], MergeResult]


def run_merge(inputs: ReplayInputs) -> MergeResult:
    """The pure merge over already-gathered inputs."""
    return merge(
        inputs.record, inputs.payloads, inputs.base_weights, inputs.benchmark, inputs.directives
    )


#: Record fields written by attesting, which the merge never reads: leaving them out of the key
#: lets the nodes that attest one after another share the merge of the same closed round.
_KEY_EXCLUDED_RECORD_FIELDS = frozenset({"attestations", "finalized"})


def merge_inputs_key(inputs: ReplayInputs) -> str:
    """A sha256 over everything `run_merge` reads: equal keys mean equal merge results.

    Payloads and base weights are hashed by their bytes (not trusted by CID), the benchmark by
    its id and the hash of the bars it holds, the record and directives by their canonical JSON.
    """
    h = hashlib.sha256()

    def part(label: str, data: bytes) -> None:
        h.update(f"{label}:{len(data)}:".encode())
        h.update(data)

    record = inputs.record.model_dump(mode="json", exclude=set(_KEY_EXCLUDED_RECORD_FIELDS))
    part("record", json.dumps(record, sort_keys=True, separators=(",", ":")).encode())
    part("base", hashlib.sha256(inputs.base_weights).digest())
    # The bars' own hash, not the `id` field: a Benchmark is a plain dataclass anyone can build.
    part(
        "benchmark",
        f"{inputs.benchmark.id.lower()}/{inputs.benchmark.bars.content_hash()}".encode(),
    )
    directives = [d.model_dump(mode="json") for d in inputs.directives]
    part("directives", json.dumps(directives, sort_keys=True, separators=(",", ":")).encode())
    for cid in sorted(inputs.payloads):
        data = inputs.payloads[cid]
        part("payload", cid.encode())
        part("bytes", b"-" if data is None else hashlib.sha256(data).digest())
    return h.hexdigest()


class MergeMemo:
    """An in-process memo of the pure merge, keyed by `merge_inputs_key` (bounded, LRU).

    For one process running many nodes against the same chain (the simulation): the first node
    to replay a closed round computes its merge, the others get the same frozen `MergeResult`.
    Never pass one to an audit: an audit exists to recompute.

    @param max_entries rounds kept (a closed round is only replayed while it is being attested)
    """

    def __init__(self, max_entries: int = 4) -> None:
        self.max_entries = max_entries
        self._results: OrderedDict[str, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def cached(self, key: str, compute: Callable[[], _R]) -> _R:
        """`compute()` once per `key` (a digest of everything it reads); v1 and v2 merges
        share a memo under keys of their own (`merge_inputs_key`, `replay.v2.merge_inputs_key_v2`)."""
        if key in self._results:
            self.hits += 1
            self._results.move_to_end(key)
            return cast(_R, self._results[key])
        self.misses += 1
        result = compute()
        self._results[key] = result
        while len(self._results) > self.max_entries:
            self._results.popitem(last=False)
        return result

    def merge(self, inputs: ReplayInputs) -> MergeResult:
        """`run_merge(inputs)`, computed once per distinct inputs."""
        return self.cached(merge_inputs_key(inputs), lambda: run_merge(inputs))


def replay_round(
    ledger: Ledger, store: ContentStore, round: int, *, memo: MergeMemo | None = None
) -> ReplayResult:
    """Recompute the merge of `round` from contract events and content by CID. No writes.

    @param ledger any Ledger (a wallet is not needed)
    @param store the content store to fetch by CID from
    @param round a round whose reveal window has closed (earlier rounds replay an incomplete record)
    @param memo share the pure merge between the nodes of one process (never for an audit)
    @return the merge result, the record, and which payload CIDs were unavailable or corrupted
    @raises ReplayUnavailable when the base model or the previous manifest cannot be fetched
    @raises ReplayError / MergeError when the chain's record is inconsistent
    """
    inputs, fetched = gather_inputs(ledger, store, round)
    return ReplayResult(
        result=memo.merge(inputs) if memo is not None else run_merge(inputs),
        record=inputs.record,
        unavailable=fetched.unavailable,
        corrupted=fetched.corrupted,
        problems=fetched.problems,
        inputs=inputs,
    )
