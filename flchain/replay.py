"""Round replay: rebuild a round from the chain and the content store, run the pure merge.

    replay_round(ledger, store, round) -> ReplayResult          (reads only)
    publish_and_attest(ledger, account, store, round) -> MergeResult

`replay_round` is what every merger and every auditor runs: the round record comes from
contract events alone (`Ledger.round_record`), every other input is fetched by the CID the
chain names and verified against it:

* the base model: the latest model finalized before the round's reveal window closed (or the
  genesis model), its bytes checked against the on-chain digest;
* the directives in force: the ones the base model's manifest assigned (the manifest is
  fetched by its on-chain CID; genesis assigns none);
* the benchmark the round's rules name (`flchain.market.benchmark.resolve`; an all-zero id
  means "unset" and selects the shipped window of that round, `benchmark_for_round`);
* every revealed payload. Content the store does not have, or has corrupted, is handed to the
  merge as `None` (the merge records `content_unavailable`, a distinct, non-penalised outcome)
  and listed in `ReplayResult.unavailable` / `.corrupted`, so a caller can tell "the network
  lost it" from "the merge rejected it". A dead IPFS daemon is *not* missing content: it raises,
  because merging without the network would attest a wrong result.

`publish_and_attest` is the merger's side: replay, store merged weights and manifest (pinned),
attest on-chain. It is idempotent per (account, round).

`MergeMemo` lets the many nodes of one in-process simulation share the pure merge: the merge is
a pure function of its inputs, so a memo keyed by a digest of *every* input (the round record
minus the attestations and finalization the merge never reads, each payload's bytes, the base
bytes, the benchmark's content id, the directives) returns the very result a recomputation
would. Each node still rebuilds the record from events, fetches and verifies every input by CID,
and attests through its own wallet; only the arithmetic is shared. Nothing else uses a memo:
the audit and a node daemon recompute every merge.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from flchain.errors import FlchainError, UnavailableError
from flchain.hashing import sha256_hex
from flchain.ledger import Ledger
from flchain.market.benchmark import Benchmark, benchmark_for_round, resolve
from flchain.merge.core import MergeResult, merge
from flchain.protocol import Directive, GlobalModel, RevealOutcome, RoundRecord, Rules
from flchain.storage import ContentStore
from flchain.storage.errors import BlockNotFoundError, ContentMismatchError, MalformedDagError

__all__ = [
    "MergeMemo",
    "ReplayError",
    "ReplayInputs",
    "ReplayResult",
    "ReplayUnavailable",
    "Tamper",
    "benchmark_for_rules",
    "directives_for_record",
    "directives_from_manifest",
    "fetch_base_weights",
    "fetch_payloads",
    "merge_inputs_key",
    "publish_and_attest",
    "replay_round",
    "run_merge",
    "tamper_accept_any_claim",
    "tamper_shift_weights",
]

ZERO_ID = "0x" + "00" * 32

#: A manifest larger than this is refused before parsing (real ones are a few KiB per node).
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class ReplayError(FlchainError):
    """A round cannot be replayed from what the chain and the store say (exit code 1)."""


class ReplayUnavailable(ReplayError, UnavailableError):
    """Content the whole round depends on (base model, previous manifest) cannot be fetched."""

    exit_code = 2


@dataclass(frozen=True)
class ReplayInputs:
    """Everything the pure merge was given, kept so callers can inspect or re-run it."""

    record: RoundRecord
    payloads: Mapping[str, bytes | None]
    base_weights: bytes
    benchmark: Benchmark
    directives: tuple[Directive, ...]


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


#: A deliberate fault (simulation adversaries, tamper tests): given the honest replay, return
#: the result to publish and attest instead. Never used by an honest node.
Tamper = Callable[[ReplayResult], MergeResult]


# --- inputs -----------------------------------------------------------------------------------


def benchmark_for_rules(rules: Rules, round: int, store: ContentStore | None = None) -> Benchmark:
    """The benchmark the rules name (a window not shipped or registered here is fetched from
    ``store`` by the CID of its file digest); an all-zero id selects the round's shipped window."""
    if rules.benchmark_id.lower() == ZERO_ID:
        return benchmark_for_round(round)
    return resolve(rules.benchmark_id, store)


def fetch_base_weights(store: ContentStore, base: GlobalModel) -> bytes:
    """The base model's bytes, fetched by CID and checked against the on-chain digest.

    @raises ReplayUnavailable when the store does not have it (or has it corrupted).
    @raises ReplayError when the bytes under the CID are not the digest the chain recorded.
    """
    label = "genesis model" if base.round < 0 else f"global model of round {base.round}"
    try:
        data = store.get(base.cid)
    except (BlockNotFoundError, ContentMismatchError, MalformedDagError) as exc:
        raise ReplayUnavailable(f"cannot fetch the {label} ({base.cid}): {exc}") from None
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
    try:
        data = store.get(cid)
    except (BlockNotFoundError, ContentMismatchError, MalformedDagError) as exc:
        raise ReplayUnavailable(
            f"cannot fetch the manifest of round {record.base.round} ({cid}): {exc}"
        ) from None
    return directives_from_manifest(data)


@dataclass(frozen=True)
class Fetched:
    payloads: dict[str, bytes | None]
    unavailable: tuple[str, ...]
    corrupted: tuple[str, ...]
    problems: dict[str, str]


def needs_content(record: RoundRecord) -> list[str]:
    """CIDs the merge will read: accepted on-chain and built on the round's base (the merge
    decides the other reveals from the record alone), de-duplicated, in reveal order."""
    out: list[str] = []
    for r in record.reveals:
        reads = r.outcome == RevealOutcome.ACCEPTED and r.base_digest == record.base.digest
        if reads and r.cid not in out:
            out.append(r.cid)
    return out


def fetch_payloads(store: ContentStore, cids: list[str]) -> Fetched:
    """Fetch each CID (verified by the store). Missing or corrupt content becomes `None`.

    Daemon outages (`UnavailableError`) propagate: they say nothing about the content.
    """
    payloads: dict[str, bytes | None] = {}
    unavailable: list[str] = []
    corrupted: list[str] = []
    problems: dict[str, str] = {}
    for cid in cids:
        try:
            payloads[cid] = store.get(cid)
        except BlockNotFoundError as exc:
            payloads[cid] = None
            unavailable.append(cid)
            problems[cid] = f"unavailable: {exc}"
        except (ContentMismatchError, MalformedDagError) as exc:
            payloads[cid] = None
            corrupted.append(cid)
            problems[cid] = f"corrupted: {exc}"
    return Fetched(payloads, tuple(unavailable), tuple(corrupted), problems)


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
        self._results: OrderedDict[str, MergeResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def merge(self, inputs: ReplayInputs) -> MergeResult:
        """`run_merge(inputs)`, computed once per distinct inputs."""
        key = merge_inputs_key(inputs)
        cached = self._results.get(key)
        if cached is not None:
            self.hits += 1
            self._results.move_to_end(key)
            return cached
        self.misses += 1
        result = run_merge(inputs)
        self._results[key] = result
        while len(self._results) > self.max_entries:
            self._results.popitem(last=False)
        return result


# --- replay -----------------------------------------------------------------------------------


def gather_inputs(
    ledger: Ledger, store: ContentStore, round: int, record: RoundRecord | None = None
) -> tuple[ReplayInputs, Fetched]:
    """Rebuild the round from events and fetch every input the merge needs (no writes)."""
    record = record if record is not None else ledger.round_record(round)
    base_weights = fetch_base_weights(store, record.base)
    directives = directives_for_record(store, record)
    benchmark = benchmark_for_rules(record.rules, round, store)
    fetched = fetch_payloads(store, needs_content(record))
    inputs = ReplayInputs(
        record=record,
        payloads=fetched.payloads,
        base_weights=base_weights,
        benchmark=benchmark,
        directives=directives,
    )
    return inputs, fetched


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


# --- publish ----------------------------------------------------------------------------------


def publish(store: ContentStore, result: MergeResult) -> None:
    """Put the merged weights and the manifest in the store (pinned) and check their CIDs."""
    for label, data, cid in (
        ("merged weights", result.merged_weights, result.merged_cid),
        ("manifest", result.manifest, result.manifest_cid),
    ):
        stored = store.put(data)
        if stored != cid:
            raise ReplayError(f"the store gave {label} CID {stored}, the merge computed {cid}")
        store.pin(stored)


def already_attested(record: RoundRecord, address: str) -> bool:
    return any(a.attester.lower() == address.lower() for a in record.attestations)


def publish_and_attest(
    ledger: Ledger,
    account: LocalAccount,
    store: ContentStore,
    round: int,
    *,
    tamper: Tamper | None = None,
    memo: MergeMemo | None = None,
) -> MergeResult:
    """Replay `round`, publish the merged weights and manifest, attest the result on-chain.

    Idempotent: if `account` already attested this round, nothing is written and the
    (replayed, possibly tampered) result is returned.

    @param tamper a deliberate fault for adversary simulations and tamper tests: it receives
        the honest replay and returns the result to publish and attest instead.
    @param memo an in-process `MergeMemo` shared by the simulation's nodes (see `replay_round`)
    @return the result that was (or had been) attested
    @raises ContractRevert e.g. RoundNotClosed, AttestationOutOfOrder, Unregistered
    """
    replay = replay_round(ledger, store, round, memo=memo)
    result = tamper(replay) if tamper is not None else replay.result
    if already_attested(replay.record, account.address):
        return result
    publish(store, result)
    # A ledger already signing as `account` (a node's own) is reused: `with_account` builds a
    # fresh contract binding and re-reads the schedule on first use.
    signer = ledger if ledger.account is account else ledger.with_account(account)
    signer.attest(
        round, result.merged_digest, result.merged_cid, result.manifest_cid, result.penalised
    )
    return result


# --- deliberate faults (simulation adversaries and tamper tests only) -------------------------


def _with_merged(result: MergeResult, merged: bytes) -> MergeResult:
    """`result` with other merged bytes, the manifest's `merged` entry rewritten to match, so
    the forgery is internally consistent and only a replay can tell."""
    from flchain.merge.manifest import encode_manifest
    from flchain.storage.cid import cid_for_bytes

    digest, cid = sha256_hex(merged), cid_for_bytes(merged)
    doc = parse_manifest(result.manifest)
    doc["merged"] = {"digest": digest, "cid": cid}
    manifest = encode_manifest(doc)
    return result.model_copy(
        update={
            "merged_weights": merged,
            "merged_digest": digest,
            "merged_cid": cid,
            "manifest": manifest,
            "manifest_cid": cid_for_bytes(manifest),
        }
    )


def tamper_shift_weights(replay: ReplayResult, delta: float = 1e-3) -> MergeResult:
    """FAULT: attest merged weights with `delta` added to every element of the first tensor
    (valid canonical safetensors, plausible values, wrong bytes)."""
    import numpy as np

    from flchain.storage.weights import decode_weights, encode_weights

    tensors, metadata = decode_weights(replay.result.merged_weights)
    first = sorted(tensors)[0]
    tensors[first] = (tensors[first].astype(np.float64) + delta).astype(np.float32)
    return _with_merged(replay.result, encode_weights(tensors, metadata))


def tamper_accept_any_claim(replay: ReplayResult) -> MergeResult:
    """FAULT: a merger that skips ROI verification (tolerance = the contract's maximum, 10 000
    bps), so false claims are accepted; everything else is computed honestly."""
    if replay.inputs is None:
        raise ReplayError("this replay kept no inputs to re-run")
    inputs = replay.inputs
    rules = inputs.record.rules.model_copy(update={"roi_tolerance_bps": 10**9})
    record = inputs.record.model_copy(update={"rules": rules})
    faulty = merge(
        record, inputs.payloads, inputs.base_weights, inputs.benchmark, inputs.directives
    )
    # The forged manifest keeps the real rules, so the lie is in the decisions, not the header.
    doc = parse_manifest(faulty.manifest)
    doc["rules"] = inputs.record.rules.model_dump(mode="json")
    from flchain.merge.manifest import encode_manifest
    from flchain.storage.cid import cid_for_bytes

    manifest = encode_manifest(doc)
    return faulty.model_copy(update={"manifest": manifest, "manifest_cid": cid_for_bytes(manifest)})
