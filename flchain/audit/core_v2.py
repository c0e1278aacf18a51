"""The audit of a protocol v2 deployment: gather from the chain (I/O), judge (`judge_v2`).

    audit_v2(ledger, store, rounds) -> AuditReport

Everything is read at one block, the head when the audit starts (`audited block`): the
contract's logs up to it, each logging transaction (sender, value, calldata), the code at the
address, one state proof (`flchain.audit.proof`) of the contract's account and of every
audited round's accumulator word, the views at that block, and the final rounds' manifests
from the content store. Nothing the contract or a merger says about itself is taken on trust
where it can be recomputed: the rules are in `flchain.audit.judge_v2`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Final

import rlp
from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from flchain.audit import code_v2
from flchain.audit.code_v2 import FORWARD_BOX
from flchain.audit.judge_v2 import (
    ChainCall,
    InnerCall,
    MachineReplay,
    V2Material,
    check_accumulator,
    check_attestations,
    check_code,
    check_creation,
    check_forward,
    check_machine,
    check_merge,
    check_settlement,
    check_state,
    decide_round_verdict,
    find_window,
    replay_calls,
)
from flchain.audit.proof import ProvenAccount, fetch_proof, verify_proof
from flchain.audit.report import (
    AuditReport,
    CheckStatus,
    Finding,
    RoundAudit,
    RuleCheck,
    Severity,
)
from flchain.audit.trace import TraceProblem, get_entry_frames
from flchain.errors import FlchainError, UnavailableError
from flchain.ledger import LedgerV2
from flchain.ledger.backends import NETWORK_ERRORS
from flchain.ledger.deployment import load_artifact
from flchain.ledger.errors import ChainUnavailable
from flchain.ledger.events import ChainEvent
from flchain.ledger.events_v2 import (
    Attested,
    Finalized,
    ForwardAccepted,
    ForwardPosted,
    ForwardVoted,
    Registered,
    struct_doc,
)
from flchain.ledger.payloads import fetch_raw_transactions
from flchain.ledger.traces import fetch_call_trace
from flchain.ledger.v2 import ForwardBoxV2
from flchain.merge.forward import ForwardRound
from flchain.merge.settlement import decode_manifest_v2, manifest_leaves
from flchain.merge.v2 import MergeResultV2, merge_v2
from flchain.protocol import forward as fw
from flchain.protocol import machine as m
from flchain.replay import FetchProblem, ReplayUnavailable, fetch_content
from flchain.replay.v2 import gather_inputs_v2, get_base_weights_v2
from flchain.storage import ContentStore
from flchain.storage.cid import cid_from_bytes

__all__ = [
    "audit_v2",
    "closed_rounds_v2",
    "contract_events",
    "forward_slots",
    "gather_calls",
    "gather_forward_round",
    "gather_v2",
    "rounds_slot",
]


def closed_rounds_v2(ledger: LedgerV2) -> list[int]:
    """Every round whose deadline (the next round's start) has passed at the latest block."""
    d, now = ledger.deployment_from_events(), ledger.now()
    return [] if now < d.t0 else list(range(d.round_at(now)))


def _mapping_slot(key: int | bytes, slot: int) -> int:
    kind = "uint256" if isinstance(key, int) else "bytes32"
    return int.from_bytes(keccak(encode([kind, "uint256"], [key, slot])), "big")


def forward_slots(
    artifact: dict[str, Any], round: int, hashes: Iterable[bytes]
) -> dict[tuple[str, bytes], int]:
    """The forward box's storage slots of round `round`'s window (`_windows[round]`):
    ("accepted", b"") the accepted hash, ("posted", h) and ("tally", h) of each window `h`."""
    layout = artifact["satellites"][FORWARD_BOX]["storageLayout"]
    (entry,) = [e for e in layout["storage"] if e["label"] == "_windows"]
    members = layout["types"][layout["types"][entry["type"]]["value"]]["members"]
    at = {m["label"]: int(m["slot"]) for m in members}
    base = _mapping_slot(round, int(entry["slot"]))
    out = {("accepted", b""): base + at["accepted"]}
    for h in hashes:
        out[("posted", h)] = _mapping_slot(h, base + at["posted"])
        out[("tally", h)] = _mapping_slot(h, base + at["tallies"])
    return out


def rounds_slot(artifact: dict[str, Any], round: int) -> int:
    """The storage slot of `_rounds[round]`'s first word (the accumulator, §12)."""
    (entry,) = [e for e in artifact["storageLayout"]["storage"] if e["label"] == "_rounds"]
    return int.from_bytes(
        keccak(encode(["uint256", "uint256"], [round, int(entry["slot"])])), "big"
    )


#: Where the contract keeps each `Accounts` field: (state variable, struct member or None).
ACCOUNT_VARIABLES: Final = {
    "bonds": ("_holdings", "bonds"),
    "pool": ("_holdings", "pool"),
    "reserved": ("_budget", "reserved"),
    "claimable": ("_budget", "claimable"),
}


def account_fields(artifact: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """Each `Accounts` field's storage slot, byte offset (from the word's low end, as solc
    packs) and size in bytes, from the artifact's storage layout."""
    layout = artifact["storageLayout"]
    top = {e["label"]: e for e in layout["storage"]}
    out = {}
    for name, (variable, member) in ACCOUNT_VARIABLES.items():
        entry = top[variable]
        slot, offset, kind = int(entry["slot"]), int(entry["offset"]), entry["type"]
        if member is not None:
            (inner,) = [e for e in layout["types"][kind]["members"] if e["label"] == member]
            slot, offset, kind = slot + int(inner["slot"]), int(inner["offset"]), inner["type"]
        out[name] = (slot, offset, int(layout["types"][kind]["numberOfBytes"]))
    return out


def decode_accounts(fields: dict[str, tuple[int, int, int]], words: dict[int, bytes]) -> m.Accounts:
    """The `Accounts` the proven storage `words` hold at `fields` (`account_fields`)."""
    return m.Accounts(**{
        name: int.from_bytes(words[slot][32 - offset - size : 32 - offset], "big")
        for name, (slot, offset, size) in fields.items()
    })  # fmt: skip


#: Where `to` sits in the RLP list of each signed transaction type (value and data follow).
_TO_AT: Final = {0: 3, 1: 4, 2: 5, 3: 5, 4: 5}


def decode_signed_call(raw: bytes) -> tuple[str, str | None, int, bytes] | None:
    """(sender, to, value, input) of a signed transaction; the sender recovered from its
    signature, not taken from the RPC's `from`. None if it does not decode as one."""
    try:
        kind, items = (0, rlp.decode(raw)) if raw[0] >= 0xC0 else (raw[0], rlp.decode(raw[1:]))
        at = _TO_AT[kind]
        to, value, data = items[at], items[at + 1], items[at + 2]
        sender = Account.recover_transaction(raw)
    except (rlp.DecodingError, KeyError, IndexError, TypeError, ValueError):
        return None
    target = str(to_checksum_address(to)) if to else None
    return str(to_checksum_address(sender)), target, int.from_bytes(value, "big"), bytes(data)


@cache
def _functions(
    part: str = code_v2.LEDGER, kind: str = "function"
) -> dict[bytes, tuple[str, list[str]]]:
    """selector -> (name, argument types) of every function (or custom error: `kind`) of
    `part`'s ABI (FLChainV2 or a satellite) in the v2 artifact."""
    artifact = load_artifact(2)
    abi = artifact["abi"] if part == code_v2.LEDGER else artifact["satellites"][part]["abi"]
    out = {}
    for entry in abi:
        if entry["type"] == kind:
            types = [code_v2.abi_type(p) for p in entry["inputs"]]
            out[keccak(text=f"{entry['name']}({','.join(types)})")[:4]] = (entry["name"], types)
    return out


@cache
def _errors() -> dict[bytes, tuple[str, list[str]]]:
    return {**_functions(kind="error"), **_functions(FORWARD_BOX, "error")}


def _custom_error(data: bytes) -> tuple[str, tuple[Any, ...]] | None:
    """The contract's or the box's custom error that revert `data` encodes, with its
    arguments (None: no data, out of gas, or anything else)."""
    found = _errors().get(data[:4])
    if found is None or len(data) < 4:
        return None
    try:
        return found[0], tuple(decode(found[1], data[4:]))
    except DecodingError:
        return None


def _inner_calls(
    ledger: LedgerV2, box: str, tx_hash: str, signed: tuple[str, str | None, int, bytes]
) -> tuple[tuple[InnerCall, ...] | None, str | None]:
    """The calls the transaction's call trace shows entering the contract or its box, or
    why they cannot be read (no tracing RPC, a malformed or oversized trace)."""
    read = fetch_call_trace(ledger.backend, tx_hash)
    if read.problem is not None:
        return None, read.problem
    sender, to, _, data = signed
    try:
        frames = get_entry_frames(read.trace, sender, to, data, (ledger.address, box))
    except TraceProblem as exc:
        return None, str(exc)
    inner = []
    for f in frames:
        function, args = _decoded(ledger, box, f.to, f.input)
        error = None if f.revert is None else _custom_error(f.revert)
        inner.append(
            InnerCall(f.position, f.sender, f.to, f.value, function, args, f.revert is not None,
                      error, f.undone)
        )  # fmt: skip
    return tuple(inner), None


def _decoded(
    ledger: LedgerV2, box: str, to: str | None, data: bytes
) -> tuple[str | None, tuple[Any, ...]]:
    """The ABI function `data` calls on the contract or its forward box (`box`, the address
    the constructor's CREATE gives) and its arguments (None: a call to neither)."""
    if to is None or len(data) < 4:
        return None, ()
    if to.lower() == ledger.address.lower():
        found = _functions().get(data[:4])
    elif to.lower() == box.lower():
        found = _functions(FORWARD_BOX).get(data[:4])
    else:
        return None, ()
    if found is None:
        return None, ()
    try:
        return found[0], tuple(decode(found[1], data[4:]))
    except DecodingError:
        return None, ()


def forward_box(ledger: LedgerV2) -> ForwardBoxV2:
    """The forward box at the address the audit computes (not the one `forwardBox()` says)."""
    address = code_v2.get_satellite_addresses(ledger.address)[FORWARD_BOX]
    return ForwardBoxV2(ledger.backend, address, from_block=ledger.from_block)


def contract_events(ledger: LedgerV2, to_block: int) -> list[ChainEvent]:
    """The events of the contract and of its forward box up to `to_block`, in chain (log)
    order: a `commitWithForward` logs the ledger's Committed and the box's ForwardVoted."""
    box = forward_box(ledger).event_index
    try:
        box.sync()
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read events") from None
    found = ledger.events(to_block=to_block) + box.query(None, None, to_block=to_block)
    return sorted(found, key=lambda e: (e.block_number, e.log_index))


def gather_calls(ledger: LedgerV2, to_block: int) -> list[ChainCall]:
    """Every transaction that logged an event of the contract or its forward box up to
    `to_block`, in chain order, with those logs (as the event query returned them): each read
    signed (checked to hash to its hash; `flchain.ledger.payloads`), its sender recovered from
    the signature and its calldata decoded by the ABI. The deployment is read as the RPC shows
    it (its creation code is larger than the signed-read bound): the machine checks its sender
    against the governor its logs name (`GovernanceTransferred`). A transaction whose signed
    input is not a call to the contract or its box reached them through another contract: its
    call trace is asked for (`flchain.ledger.traces`) and read into the calls that entered them
    (`ChainCall.inner`), or why it could not be (`ChainCall.untraced`)."""
    by_tx: dict[str, list[ChainEvent]] = {}
    for e in contract_events(ledger, to_block):
        by_tx.setdefault(e.tx_hash, []).append(e)
    hashes = [bytes.fromhex(h[2:]) for h in by_tx]
    raws = fetch_raw_transactions(ledger.backend, hashes)
    box = code_v2.get_satellite_addresses(ledger.address)[FORWARD_BOX]
    calls = []
    for tx_hash, events in by_tx.items():
        block = events[0].block_number
        raw = raws.get(bytes.fromhex(tx_hash[2:]))
        decoded = None if raw is None else decode_signed_call(raw)
        if decoded is None:
            tx = ledger.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            target = tx.get("to")
            decoded = (
                to_checksum_address(tx["from"]),
                None if target is None else str(to_checksum_address(target)),
                int(tx["value"]),
                bytes(tx["input"]),
            )
        sender, to, value, data = decoded
        function, args = _decoded(ledger, box, to, data)
        inner, untraced = None, None
        if to is not None and function is None:
            inner, untraced = _inner_calls(ledger, box, tx_hash, decoded)
        calls.append(
            ChainCall(
                tx_hash=tx_hash,
                block_number=block,
                timestamp=ledger.block_timestamp(block),
                sender=sender,
                to=to,
                value=value,
                function=function,
                args=args,
                events=tuple(events),
                input=data if to is None else b"",
                inner=inner,
                untraced=untraced,
            )
        )
    return calls


def _window_hashes(calls: Sequence[ChainCall], rounds: Iterable[int]) -> dict[int, list[bytes]]:
    """Each round's window hashes the forward box's events name (posted, voted or accepted)."""
    out: dict[int, dict[bytes, None]] = {r: {} for r in rounds}
    for call in calls:
        for e in call.events:
            if isinstance(e, ForwardPosted | ForwardVoted | ForwardAccepted) and e.round in out:
                out[e.round][bytes(e.window_hash)] = None
    return {r: list(hashes) for r, hashes in out.items()}


def _views_at(ledger: LedgerV2, block: int, nodes: Iterable[str]) -> dict[str, Any]:
    f = ledger.contract.functions
    node_views = {}
    for node in nodes:
        values = f.nodeView(node).call(block_identifier=block)
        node_views[node] = m.NodeView(m.Status(int(values[0])), *values[1:])
    return {
        "accounts": m.Accounts(*f.accounts().call(block_identifier=block)),
        "latest": m.Latest(*f.latest().call(block_identifier=block)),
        "nodes": node_views,
    }  # fmt: skip


def gather_v2(ledger: LedgerV2, rounds: Sequence[int]) -> V2Material:
    """Read everything the v2 rules need at the head block."""
    block = ledger.sync_events()
    calls = gather_calls(ledger, block)
    artifact = load_artifact(2)
    code = bytes(
        ledger.w3.eth.get_code(to_checksum_address(ledger.address), block_identifier=block)
    )
    creation = calls[0].input if calls and calls[0].to is None else None
    satellites = code_v2.get_satellite_addresses(ledger.address)
    satellite_code = {
        name: bytes(ledger.w3.eth.get_code(address, block_identifier=block))  # type: ignore[arg-type]
        for name, address in satellites.items()
    }
    windows = _window_hashes(calls, rounds)
    box_slots = {r: forward_slots(artifact, r, hashes) for r, hashes in windows.items()}
    proven, proven_accounts, problem = None, None, None
    satellite_proven: dict[str, ProvenAccount] = {}
    forward_words: dict[int, dict[tuple[str, bytes], bytes]] = {}
    try:
        fields = account_fields(artifact)
        slots = sorted({rounds_slot(artifact, r) for r in rounds} | {f[0] for f in fields.values()})
        proven = verify_proof(fetch_proof(ledger.backend, ledger.address, slots, block))
        proven_accounts = decode_accounts(fields, proven.words)
        for name, address in satellites.items():
            wanted = (
                [s for by in box_slots.values() for s in by.values()] if name == FORWARD_BOX else []
            )
            satellite_proven[name] = verify_proof(
                fetch_proof(ledger.backend, address, wanted, block)
            )
        box = satellite_proven[FORWARD_BOX]
        forward_words = {
            r: {key: box.words[slot] for key, slot in by.items()} for r, by in box_slots.items()
        }
    except FlchainError as exc:  # ProofError, or a chain without eth_getProof
        proven, proven_accounts, problem = None, None, str(exc)
        satellite_proven, forward_words = {}, {}
    nodes = [e.node for e in ledger.events(Registered, to_block=block)]
    return V2Material(
        block=block,
        timestamp=ledger.block_timestamp(block),
        calls=calls,
        code=code,
        creation_input=creation,
        proven=proven,
        proven_accounts=proven_accounts,
        proof_problem=problem,
        views=_views_at(ledger, block, nodes),
        satellite_code=satellite_code,
        satellite_proven=satellite_proven,
        forward_words=forward_words,
    )  # fmt: skip


# --- the audit ----------------------------------------------------------------------------


def _final_results(calls: Sequence[ChainCall]) -> dict[int, m.Result]:
    """Each final round's result: the attested preimage of its Finalized hash."""
    events = [e for c in calls for e in c.events]
    attested = {e.result_hash: e.result for e in events if isinstance(e, Attested)}
    return {
        e.round: attested[e.result_hash]
        for e in events
        if isinstance(e, Finalized) and e.result_hash in attested
    }


def _registered_before(calls: Sequence[ChainCall], start: int) -> list[str]:
    return [
        e.node for c in calls if c.timestamp < start for e in c.events if isinstance(e, Registered)
    ]


def _fetch(store: ContentStore, cid: bytes) -> tuple[bytes | None, str | None]:
    try:
        got = fetch_content(store, str(cid_from_bytes(cid)))
    except FlchainError as exc:
        return None, str(exc)
    return (None, str(got)) if isinstance(got, FetchProblem) else (got, None)


def audit_v2(
    ledger: LedgerV2, store: ContentStore, rounds: Iterable[int] | None = None
) -> AuditReport:
    """Audit `rounds` (default: every closed round) of the v2 deployment behind `ledger`."""
    wanted = sorted(set(rounds)) if rounds is not None else closed_rounds_v2(ledger)
    artifact = load_artifact(2)
    mat = gather_v2(ledger, wanted)
    replay = replay_calls(mat.calls, ledger.chain_id, ledger.address)
    deployment = ledger.deployment_from_events()
    rules0 = ledger.rules_from_events(0)
    finals = _final_results(mat.calls)

    audits = []
    prior: tuple[m.Leaf, ...] = ()
    base_round, base_digest = -1, deployment.genesis_digest
    for r in range(max(wanted, default=-1) + 1):
        result = finals.get(r)
        manifest, problem = (None, None) if result is None else _fetch(store, result.manifest_cid)
        if r in wanted:
            audits.append(
                _audit_round(
                    r,
                    replay,
                    mat,
                    artifact,
                    result,
                    manifest,
                    problem,
                    prior,
                    (base_round, base_digest),
                    deployment,
                    ledger,
                    store,
                )
            )
        if result is not None:
            prior = _leaves_or(prior, manifest)
            base_round, base_digest = r, result.merged_digest
    deployment_checks = (
        check_code(artifact, deployment, ledger.address, mat),
        check_creation(artifact, deployment, rules0, mat),
        check_state(replay, mat),
    )
    notes = [f"protocol v2, audited at block {mat.block}"]
    if mat.proven is not None:
        notes.append(
            f"state proven against block {mat.proven.block_number} "
            f"0x{mat.proven.block_hash.hex()} (state root 0x{mat.proven.state_root.hex()})"
        )
    else:
        notes.append(f"no state proof: {mat.proof_problem}")
    return AuditReport(
        chain_id=ledger.chain_id,
        contract=ledger.address,
        rounds=tuple(audits),
        genesis_digest="0x" + deployment.genesis_digest.hex(),
        notes=tuple(notes),
        protocol_version=2,
        checks=deployment_checks,
    )


def _audit_round(
    r: int,
    replay: MachineReplay,
    mat: V2Material,
    artifact: dict[str, Any],
    result: m.Result | None,
    manifest: bytes | None,
    problem: str | None,
    prior: Sequence[m.Leaf],
    base: tuple[int, bytes],
    d: m.Deployment,
    ledger: LedgerV2,
    store: ContentStore,
) -> RoundAudit:
    """Round `r`'s rule lines and verdict (`d`: the immutables as Genesis says them)."""
    word = None if mat.proven is None else mat.proven.words.get(rounds_slot(artifact, r))
    registered = _registered_before(mat.calls, d.start(r))
    replayed, problem_merge = _replay(ledger, store, r, replay, mat.calls)
    attested = [e for c in mat.calls for e in c.events if isinstance(e, Attested) and e.round == r]
    checks = (
        check_machine(replay, r),
        check_accumulator(replay, r, word, mat.block),
        check_forward(replay, r, mat.forward_words.get(r), mat.calls, mat.block, mat.timestamp),
        check_merge(replayed, problem_merge, result, manifest),
        check_attestations(replayed, attested),
        check_settlement(r, result, manifest, problem, registered, prior, ledger.chain_id,
                         ledger.address),
    )  # fmt: skip
    verdict, headline = decide_round_verdict(checks, finalized=result is not None)
    findings = tuple(
        Finding(
            severity=Severity.MISMATCH if c.status == CheckStatus.FAIL else Severity.UNVERIFIABLE,
            fact=c.rule, message=c.message,
        )
        for c in checks
        if c.status in (CheckStatus.FAIL, CheckStatus.UNVERIFIABLE)
    )  # fmt: skip
    rules = {} if replay.state is None else struct_doc(m.get_rules_for_round(replay.state, r))
    return RoundAudit(
        round=r, verdict=verdict, headline=headline, base_round=base[0],
        base_digest="0x" + base[1].hex(), rules=rules, findings=findings, checks=checks,
    )  # fmt: skip


def gather_forward_round(
    ledger: LedgerV2,
    store: ContentStore,
    round: int,
    replay: MachineReplay,
    calls: Sequence[ChainCall],
) -> ForwardRound | None:
    """What the merge of `round` reads about the round w it scores: w's record with the
    window the machine accepted from the votes (not the `forwardWindowOf` view), w's base
    model by CID and digest, and the accepted window's bytes from postForward calldata."""
    state = replay.state
    if state is None:
        return None

    def forward_of(r: int) -> tuple[int, int]:
        rules = m.get_rules_for_round(state, r)
        return rules.forward_bars, rules.forward_lag_rounds

    w = fw.get_scored_round(round, forward_of)
    if w is None:
        return None
    accepted = state.forward_window.get(w)
    record = ledger.round_record_v2(w).model_copy(update={"forward_window": accepted})
    window = None if accepted is None else find_window(calls, w, accepted)
    return ForwardRound(record, get_base_weights_v2(store, record.base), window)


def _replay(
    ledger: LedgerV2,
    store: ContentStore,
    round: int,
    replay: MachineReplay,
    calls: Sequence[ChainCall],
) -> tuple[MergeResultV2 | None, RuleCheck | None]:
    """The round's merge recomputed from the chain (`flchain.replay.v2`'s inputs, and with
    forward scoring on the scored round's window), or why it could not be."""
    try:
        inputs = gather_inputs_v2(ledger, store, round)
        forward = None
        if inputs.record.rules.forward_bars > 0:
            forward = gather_forward_round(ledger, store, round, replay, calls)
        merged = merge_v2(
            inputs.record, inputs.base_weights, inputs.benchmark, inputs.prior, forward
        )
        return merged, None
    except ReplayUnavailable as exc:
        status, message = CheckStatus.UNVERIFIABLE, str(exc)
    except UnavailableError:
        raise
    except FlchainError as exc:
        status, message = CheckStatus.FAIL, f"the merge refuses the round's inputs: {exc}"
    return None, RuleCheck(rule="merge", status=status, message=message)


def _leaves_or(prior: tuple[m.Leaf, ...], manifest: bytes | None) -> tuple[m.Leaf, ...]:
    """The table of a final round's manifest (the next rounds' prior), else `prior`."""
    if manifest is None:
        return prior
    try:
        return manifest_leaves(decode_manifest_v2(manifest))
    except FlchainError:
        return prior
