"""Replaying a protocol-v2 round: the record from the chain, the rest by CID, then `merge_v2`.

    gather_inputs_v2(ledger, store, round) -> ReplayInputsV2
    replay_round_v2(ledger, store, round) -> ReplayResultV2           (reads only)
    publish_and_attest_v2(ledger, store, round) -> ReplayResultV2     (writes; idempotent)

What the node daemon, the simulation and the audit run for v2. The record comes from events and
the reveals' calldata (`LedgerV2.round_record_v2`): the update payloads are in it, so no update
is fetched. Only what the whole round depends on comes from the content store, by the CID the
chain names, through v1's fetch-and-classify path (`inputs.fetch_content`) with a size bound:

* the base weights, by the base's CID, checked against the base digest the chain holds;
* the prior — the settlement table and the directives of the base's manifest (the latest final
  round before r), or `PriorRound.genesis()` when the base is genesis;
* the benchmark the round's frozen rules name (an all-zero id: the round's shipped window);
* with forward scoring on (docs/protocol.md §15), the round w whose window this round's commits
  voted on (`get_forward_round`): w's record and base weights, and its accepted window's bytes
  from the calldata of the `postForward` that posted them (`get_forward_window`, checked
  against the accepted hash; None when no window was accepted or no post carries its bytes).

Missing base content raises `ReplayUnavailable` (nothing can be merged without it; a dead store
is not a content fault and propagates as it does in v1); content under the CID that is corrupt,
oversized, or not what the chain recorded raises `ReplayError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from flchain.ledger import LedgerV2
from flchain.ledger.events_v2 import ForwardPosted
from flchain.market.benchmark import Benchmark
from flchain.merge.errors import MergeInputError
from flchain.merge.forward import ForwardRound
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol.machine import RulesV2
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import BaseModelV2
from flchain.replay.core import MergeMemo
from flchain.replay.errors import ReplayError, ReplayUnavailable
from flchain.replay.inputs import MAX_MANIFEST_BYTES, FetchProblem, benchmark_named, fetch_content
from flchain.replay.publish import publish
from flchain.storage import ContentStore
from flchain.storage.cid import cid_from_bytes

__all__ = [
    "MAX_BASE_WEIGHTS_BYTES",
    "POST_FORWARD_SELECTOR",
    "ReplayInputsV2",
    "ReplayResultV2",
    "TamperV2",
    "already_attested_v2",
    "cid_text",
    "fetch_bounded",
    "gather_inputs_v2",
    "get_base_weights_v2",
    "get_benchmark_v2",
    "get_forward_inputs",
    "get_forward_round",
    "get_forward_window",
    "get_prior",
    "merge_inputs_key_v2",
    "posted_window",
    "publish_and_attest_v2",
    "replay_round_v2",
    "run_merge_v2",
]

#: The largest base model fetched. Every update has the base's tensors and fits in a reveal
#: (at most MAX_PAYLOAD_BYTES = 16 KiB), so a real base is about that size; the bound leaves
#: room for a larger safetensors header and stops a CID that names a huge DAG after 1 MiB.
MAX_BASE_WEIGHTS_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class ReplayInputsV2:
    """Everything `merge_v2` is given, kept so callers can inspect or re-run it."""

    record: RoundRecordV2
    base_weights: bytes
    benchmark: Benchmark
    prior: PriorRound
    #: with forward scoring on: the round whose window is voted in this one (None: none yet)
    forward: ForwardRound | None = None


@dataclass(frozen=True)
class ReplayResultV2:
    """One replayed v2 round: the merge's output and the inputs it was computed from."""

    result: MergeResultV2
    inputs: ReplayInputsV2

    @property
    def record(self) -> RoundRecordV2:
        return self.inputs.record


#: A deliberate fault's hook (the simulation's adversaries, tamper tests): given the honest
#: replay, return the result to publish and attest instead. Never used by an honest node.
TamperV2 = Callable[[ReplayResultV2], MergeResultV2]


# --- fetching what the round depends on -------------------------------------------------------


def cid_text(cid: bytes) -> str:
    """A binary CID (as the contract stores it) in its string form (the store's key)."""
    return str(cid_from_bytes(cid))


def fetch_bounded(store: ContentStore, cid: str, label: str, max_bytes: int) -> bytes:
    """The verified bytes of `cid`, at most `max_bytes` of them.

    @raises ReplayUnavailable when the store does not have them
    @raises ReplayError when they are corrupt, malformed or larger than `max_bytes`
    """
    data = fetch_content(store, cid, max_bytes=max_bytes)
    if not isinstance(data, FetchProblem):
        return data
    error = ReplayUnavailable if data.kind == "unavailable" else ReplayError
    raise error(f"cannot fetch the {label} ({cid}): {data.detail}")


def _base_label(base: BaseModelV2) -> str:
    return "genesis model" if base.round < 0 else f"final model of round {base.round}"


def get_base_weights_v2(store: ContentStore, base: BaseModelV2) -> bytes:
    """The base model's bytes, fetched by its CID and checked against the chain's digest."""
    label = _base_label(base)
    data = fetch_bounded(store, cid_text(base.cid), label, MAX_BASE_WEIGHTS_BYTES)
    digest = dg.sha256(data)
    if digest != base.digest:
        raise ReplayError(
            f"the {label} under {cid_text(base.cid)} has digest 0x{digest.hex()}, "
            f"the chain says 0x{base.digest.hex()}"
        )
    return data


def get_prior(store: ContentStore, base: BaseModelV2) -> PriorRound:
    """The prior of a round on `base`: the base manifest's table and directives (genesis:
    none). The merge checks the table against the base's settlement root."""
    if base.manifest_cid is None:
        return PriorRound.genesis()
    label = f"manifest of round {base.round}"
    data = fetch_bounded(store, cid_text(base.manifest_cid), label, MAX_MANIFEST_BYTES)
    try:
        prior = prior_from_manifest(data)
    except MergeInputError as exc:
        raise ReplayError(f"the {label} is not a v2 manifest: {exc.message}") from None
    if prior.round != base.round:
        raise ReplayError(f"the {label} says it is of round {prior.round}")
    return prior


def get_benchmark_v2(rules: RulesV2, round: int, store: ContentStore | None = None) -> Benchmark:
    """The benchmark `round`'s frozen rules name."""
    return benchmark_named("0x" + rules.benchmark_id.hex(), round, store)


def gather_inputs_v2(
    ledger: LedgerV2, store: ContentStore, round: int, record: RoundRecordV2 | None = None
) -> ReplayInputsV2:
    """Rebuild `round` from events and calldata and fetch what its merge needs (no writes)."""
    record = record if record is not None else ledger.round_record_v2(round)
    return ReplayInputsV2(
        record=record,
        base_weights=get_base_weights_v2(store, record.base),
        benchmark=get_benchmark_v2(record.rules, round, store),
        prior=get_prior(store, record.base),
        forward=get_forward_inputs(ledger, store, record),
    )


# --- forward scoring (docs/protocol.md §15) ---------------------------------------------------

#: `postForward(uint256,bytes)` on the forward box: the only call whose input carries a window.
POST_FORWARD_SELECTOR: Final = keccak(b"postForward(uint256,bytes)")[:4]


def get_forward_round(ledger: LedgerV2, round: int, rules: RulesV2 | None = None) -> int | None:
    """The round w whose forward window the commits of `round` vote on and its merge scores:
    the latest w < round with forward scoring on and w + forwardLagRounds(w) = round (§15.2;
    the audit's `scored_round` searches the same way), provided `round`'s own rules score
    forward; None when there is none (off, or the first lag rounds after it was turned on).
    With constant rules it is found at w = round − lag, after lag reads of past rules."""
    rules = rules if rules is not None else ledger.rules_for_round(round)
    if rules.forward_bars == 0:
        return None
    for w in range(round - 1, max(-1, round - 1 - fw.MAX_FORWARD_LAG_ROUNDS), -1):
        of_w = ledger.rules_for_round(w)
        if of_w.forward_bars > 0 and fw.vote_round(w, of_w.forward_lag_rounds) == round:
            return w
    return None


def posted_window(input_data: bytes, round: int) -> bytes | None:
    """The window bytes of a `postForward(round, window)` call's input, or None unless the
    input is exactly that call's canonical ABI encoding (as reveal payloads are read)."""
    if input_data[:4] != POST_FORWARD_SELECTOR:
        return None
    try:
        posted_round, window = abi_decode(["uint256", "bytes"], input_data[4:])
    except Exception:  # eth_abi raises several unrelated types for malformed input
        return None
    canonical = POST_FORWARD_SELECTOR + abi_encode(["uint256", "bytes"], [round, window])
    if posted_round != round or input_data != canonical:
        return None
    return bytes(window)


def get_forward_window(ledger: LedgerV2, round: int, window_hash: bytes) -> bytes | None:
    """The bytes of round `round`'s window `window_hash`: the input of a transaction that
    emitted `ForwardPosted(round, window_hash)` and called the forward box directly, checked to
    hash to `window_hash`; None when no such transaction carries them (a post forwarded by
    another contract is not read, like a reveal's)."""
    box = to_checksum_address(ledger.forward_box.address)
    for event in ledger.forward_events(round):
        if not isinstance(event, ForwardPosted) or bytes(event.window_hash) != window_hash:
            continue
        tx = ledger.w3.eth.get_transaction(event.tx_hash)  # type: ignore[arg-type]
        if tx.get("to") is None or to_checksum_address(str(tx["to"])) != box:
            continue
        data = posted_window(bytes(tx["input"]), round)
        if data is not None and dg.sha256(data) == window_hash:
            return data
    return None


def get_forward_inputs(
    ledger: LedgerV2, store: ContentStore, record: RoundRecordV2
) -> ForwardRound | None:
    """What the merge of `record`'s round reads about the round whose window it scores (§15.3):
    that round's record and base weights and its accepted window's bytes (None when none was
    accepted or nobody has its bytes: the merge records the scores as missing)."""
    w = get_forward_round(ledger, record.round, record.rules)
    if w is None:
        return None
    scored = ledger.round_record_v2(w)
    window = None
    if scored.forward_window is not None:
        window = get_forward_window(ledger, w, bytes(scored.forward_window))
    return ForwardRound(scored, get_base_weights_v2(store, scored.base), window)


# --- the merge ---------------------------------------------------------------------------------


def run_merge_v2(inputs: ReplayInputsV2) -> MergeResultV2:
    """The pure v2 merge over gathered inputs."""
    return merge_v2(
        inputs.record, inputs.base_weights, inputs.benchmark, inputs.prior, inputs.forward
    )


#: Record fields the merge never reads (the votes): without them in the key, the nodes that
#: attest one after another share the merge of the same round.
_KEY_EXCLUDED_RECORD_FIELDS = frozenset({"attestations", "finalized"})


def merge_inputs_key_v2(inputs: ReplayInputsV2) -> str:
    """A sha256 over everything `run_merge_v2` reads: equal keys mean equal merge results.
    The record (payloads included) and the prior by their JSON, the base by its bytes' hash,
    the benchmark by its id and the hash of its bars."""
    h = hashlib.sha256(b"flchain/merge-v2\0")

    def part(label: str, data: bytes) -> None:
        h.update(f"{label}:{len(data)}:".encode())
        h.update(data)

    def doc(value: object) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

    record = inputs.record.model_dump(mode="json", exclude=set(_KEY_EXCLUDED_RECORD_FIELDS))
    part("record", doc(record))
    part("base", hashlib.sha256(inputs.base_weights).digest())
    bench = inputs.benchmark
    part("benchmark", f"{bench.id.lower()}/{bench.bars.content_hash()}".encode())
    part("prior", doc(inputs.prior.model_dump(mode="json")))
    if inputs.forward is not None:
        part("forward", forward_key_part(inputs.forward))
    return h.hexdigest()


def forward_key_part(forward: ForwardRound) -> bytes:
    """What the merge reads of the forward round: its record (less the votes), its base's and
    its window's hashes."""
    record = forward.record.model_dump(mode="json", exclude=set(_KEY_EXCLUDED_RECORD_FIELDS))
    window = b"none" if forward.window is None else hashlib.sha256(forward.window).digest()
    text = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(text).digest() + hashlib.sha256(forward.base_weights).digest() + window


def replay_round_v2(
    ledger: LedgerV2, store: ContentStore, round: int, *, memo: MergeMemo | None = None
) -> ReplayResultV2:
    """Recompute the v2 merge of `round` from the chain and the store. No writes.

    @param round a round whose beacon window has closed (earlier: the record is incomplete)
    @param memo share the pure merge between the nodes of one process (never for an audit)
    @raises ReplayUnavailable when the base model or its manifest cannot be fetched
    @raises ReplayError / MergeInputError when what the chain names is inconsistent
    """
    inputs = gather_inputs_v2(ledger, store, round)
    if memo is None:
        return ReplayResultV2(run_merge_v2(inputs), inputs)
    return ReplayResultV2(
        memo.cached(merge_inputs_key_v2(inputs), lambda: run_merge_v2(inputs)), inputs
    )


# --- the merger's side -------------------------------------------------------------------------


def already_attested_v2(record: RoundRecordV2, address: str) -> bool:
    return any(a.node.lower() == address.lower() for a in record.attestations)


def publish_and_attest_v2(
    ledger: LedgerV2,
    store: ContentStore,
    round: int,
    *,
    tamper: TamperV2 | None = None,
    memo: MergeMemo | None = None,
) -> tuple[ReplayResultV2, MergeResultV2, bool]:
    """Replay `round`, publish the merged weights and manifest (pinned), attest the result as
    `ledger`'s signer.

    Idempotent: when the signer already attested this round nothing is written.
    @param tamper a deliberate fault (adversaries only): the result to publish and attest
    @return the honest replay, the result published (the tampered one, if any), and whether
        this call sent the attestation
    @raises ContractRevert e.g. NotInAttestWindow, AlreadyAttested, SettlementPending
    """
    if ledger.account is None:
        raise ReplayError("attesting needs a ledger that signs: pass one with an account")
    replay = replay_round_v2(ledger, store, round, memo=memo)
    result = tamper(replay) if tamper is not None else replay.result
    if already_attested_v2(replay.record, ledger.account.address):
        return replay, result, False
    publish(store, result)
    ledger.attest(round, result.result)
    return replay, result, True
