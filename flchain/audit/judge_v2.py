"""Judging a protocol v2 deployment (pure): every rule recomputed from what the chain said.

    replay_calls(calls, chain_id, contract) -> MachineReplay
    check_code / check_creation / check_state                       (the deployment)
    check_machine / check_accumulator / check_merge / check_attestations / check_settlement
    decide_round_verdict(checks, finalized) -> (Verdict, headline)

The material (`V2Material`) is gathered by `flchain.audit.core_v2` (I/O): every transaction
that emitted a log of the contract (`ChainCall`: sender, value, block timestamp, calldata
decoded by the ABI, and the logs the event query returned for it), the code at the address,
the state proof of the contract's account and of each round's accumulator word, the views at
the audited block; the merges and final manifests come with each round.

The rules, each a named `RuleCheck` with its own status, in the order they are reported (the
deployment's three, then five per round):

    code           the runtime code at the address is the artifact's with every immutable filled
                   from the Genesis event, and so is each satellite's (RulesCheckV2, the forward
                   box) at the address of the constructor's first and second CREATE; each
                   keccak is the code hash the state proof proves
    creation       the deployment transaction ran the artifact's creation code with exactly the
                   Genesis deployment and the first rules
    state          (deployment) at the audited block the machine's accounts, latest model and
                   every node's view equal the contract's views, and the contract's balance —
                   proven — equals the machine's
    machine        (per round) each transaction of the round, fed to the reference machine
                   (`flchain.protocol.machine`) with its calldata, sender, value and block time,
                   is accepted and returns exactly the logs the chain shows: commitments,
                   reveal outcomes (base, band, eligibility, duplicates), frozen stake weights,
                   tallies and the finality threshold, every slash and its precondition,
                   settlement proofs against the final roots, payouts
    accumulator    (per round) the machine's accumulator and counts of the round equal the
                   storage word proven against the block's state root: an event that an RPC
                   dropped, added or rewrote changes the machine's chain of entries
    merge          (per round) the v2 merge recomputed from the round's record, base and prior
                   (`flchain.replay.v2`) is the final result field by field and the final
                   manifest byte for byte
    attestations   (per round) every vote is the replayed result (else: conflict)
    settlement     (per final round) the final manifest's settlement table hashes to the final
                   result's settlementRoot, its rows are the nodes registered before the round
                   by index, what it pays is the result's roundEarned, and no cumulative field
                   falls from the previous final table

The replay stops at the first transaction where machine and chain disagree (after it the
machine's state is not the contract's): that round's `machine` check fails naming the
transaction, and later rounds' checks are unverifiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from eth_utils import keccak

from flchain.audit import code_v2
from flchain.audit.proof import ProvenAccount
from flchain.audit.report import CheckStatus, RuleCheck, Verdict
from flchain.errors import FlchainError
from flchain.ledger.events import ChainEvent
from flchain.ledger.events_v2 import Attested, Credited, Genesis, RulesScheduled, struct_doc
from flchain.merge.settlement import (
    decode_manifest_v2,
    manifest_leaves,
    settlement_root,
)
from flchain.merge.v2 import MergeResultV2
from flchain.protocol import machine as m

__all__ = [
    "ChainCall",
    "MachineReplay",
    "V2Material",
    "check_accumulator",
    "check_attestations",
    "check_code",
    "check_creation",
    "check_machine",
    "check_merge",
    "check_settlement",
    "check_state",
    "decide_round_verdict",
    "replay_calls",
]

#: The ABI function → its machine process (the value sent travels in the `Tx`).
_PROCESS: Final[dict[str, Any]] = {
    "register": m.process_register,
    "addBond": m.process_add_bond,
    "requestExit": m.process_request_exit,
    "withdraw": m.process_withdraw,
    "collect": m.process_collect,
    "fundPool": m.process_fund_pool,
    "openRound": m.process_open_round,
    "commit": m.process_commit,
    "reveal": m.process_reveal,
    "postBeacon": m.process_post_beacon,
    "attest": m.process_attest,
    "finalize": m.process_finalize,
    "settle": m.process_settle,
    "slashNoReveal": m.process_slash_no_reveal,
    "scheduleRules": m.process_schedule_rules,
    "cancelRules": m.process_cancel_rules,
    "transferGovernance": m.process_transfer_governance,
    "acceptGovernance": m.process_accept_governance,
    "pause": m.process_pause,
    "unpause": m.process_unpause,
}
#: Calls whose first argument is the round they act on (the others are placed by block time).
_ROUND_FIRST: Final = frozenset(
    {"openRound", "commit", "reveal", "postBeacon", "attest", "finalize", "slashNoReveal"}
)


@dataclass(frozen=True)
class ChainCall:
    """One transaction that emitted logs of the contract, as the chain answered for it."""

    tx_hash: str
    block_number: int
    timestamp: int
    sender: str
    to: str | None  # None: the deployment
    value: int
    function: str | None  # the ABI function its calldata calls (None: not a call to the contract)
    args: tuple[Any, ...]
    events: tuple[ChainEvent, ...]
    input: bytes = b""  # the creation input of the deployment (other calls: decoded in `args`)


def machine_args(function: str, args: Sequence[Any]) -> tuple[Any, ...]:
    """The ABI-decoded arguments of `function` as its `process_*` takes them."""
    if function in ("attest", "finalize"):
        return (int(args[0]), m.Result(*args[1]))
    if function == "settle":
        return (m.Leaf(*args[0]), tuple(bytes(p) for p in args[1]))
    if function == "scheduleRules":
        return (m.RulesV2.from_abi(args[0]),)
    return tuple(args)


def call_round(call: ChainCall, deployment: m.Deployment) -> int:
    """The round a call belongs to: its round argument, else the round at its block time."""
    if call.function in _ROUND_FIRST and call.args:
        return int(call.args[0])
    return deployment.round_at(call.timestamp)


def _plain(value: Any) -> Any:
    if isinstance(value, m.Deployment | m.RulesV2):
        return struct_doc(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, IntEnum | bool):
        return int(value)
    return value


def machine_doc(event: m.Event) -> tuple[str, dict[str, Any]]:
    return event.name, {k: _plain(v) for k, v in event.args}


def chain_doc(event: ChainEvent) -> tuple[str, dict[str, Any]]:
    return event.name, event.abi_args()


def describe_difference(
    ours: Sequence[tuple[str, dict[str, Any]]], theirs: Sequence[tuple[str, dict[str, Any]]]
) -> str:
    """The first difference between the machine's events and the chain's, in words."""
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a[0] != b[0]:
            return f"event {i + 1} is {b[0]} on chain, the machine emits {a[0]}"
        for key in a[1]:
            if a[1][key] != b[1].get(key):
                return f"{a[0]}.{key} is {b[1].get(key)!r} on chain, the machine says {a[1][key]!r}"
    if len(ours) > len(theirs):
        return f"the chain shows no {ours[len(theirs)][0]} (the machine emits it)"
    return f"the chain shows {theirs[len(ours)][0]}, which the machine does not emit"


@dataclass
class MachineReplay:
    """The machine after every call it accepted, and where (if anywhere) it stopped."""

    state: m.State | None
    replayed: int = 0
    failed_round: int | None = None  # the round of the first call machine and chain disagree on
    failure: str | None = None
    unverifiable: bool = False  # stopped because a call could not be read, not a disagreement
    calls_by_round: dict[int, int] = field(default_factory=dict)


def _who(call: ChainCall) -> str:
    return f"{call.function or 'a call'} by {call.sender} (tx {call.tx_hash[:10]}…, block {call.block_number})"


def replay_calls(calls: Sequence[ChainCall], chain_id: int, contract: str) -> MachineReplay:
    """Feed every call, in chain order, to the reference machine, starting with the deployment
    (initialised from its own Genesis and first RulesScheduled logs and its sender)."""
    if not calls or calls[0].to is not None:
        return MachineReplay(None, failed_round=0, failure="no deployment transaction found")
    first = calls[0]
    genesis = [e for e in first.events if isinstance(e, Genesis)]
    rules0 = [e for e in first.events if isinstance(e, RulesScheduled)]
    if not genesis or not rules0:
        return MachineReplay(None, failed_round=0, failure="the deployment logged no Genesis")
    deployment = genesis[0].deployment
    try:
        state, events = m.initialize_state(
            deployment, rules0[0].rules, m.Tx(first.sender, first.timestamp),
            chain_id, contract,
        )  # fmt: skip
    except m.ProtocolError as exc:
        return MachineReplay(None, failed_round=0, failure=f"the constructor: {exc}")
    out = MachineReplay(state)
    ours, theirs = [machine_doc(e) for e in events], [chain_doc(e) for e in first.events]
    if ours != theirs:
        out.failed_round, out.failure = 0, "the deployment: " + describe_difference(ours, theirs)
        return out
    out.replayed = 1
    for call in calls[1:]:
        round = call_round(call, deployment)
        out.calls_by_round[round] = out.calls_by_round.get(round, 0) + 1
        if call.function is None or call.to is None or call.to.lower() != contract.lower():
            out.failed_round, out.unverifiable = round, True
            out.failure = (
                f"tx {call.tx_hash} reached the contract through another contract: its calls "
                "need a tracing RPC (debug_traceTransaction), nothing after it is replayed"
            )
            return out
        process = _PROCESS[call.function]
        credited = {e.node for e in call.events if isinstance(e, Credited)}
        state.rejecting |= credited  # a Credited log: that recipient refused ether (§8)
        try:
            args = machine_args(call.function, call.args)
            events = process(state, m.Tx(call.sender, call.timestamp, call.value), *args)
        except m.ProtocolError as exc:
            out.failed_round = round
            out.failure = f"{_who(call)} succeeded on chain; the machine refuses it: {exc.name}"
            return out
        except (FlchainError, ValueError, TypeError) as exc:
            out.failed_round, out.unverifiable = round, True
            out.failure = f"{_who(call)}: its arguments do not decode: {exc}"
            return out
        finally:
            state.rejecting -= credited
        ours, theirs = [machine_doc(e) for e in events], [chain_doc(e) for e in call.events]
        if ours != theirs:
            out.failed_round = round
            out.failure = f"{_who(call)}: " + describe_difference(ours, theirs)
            return out
        out.replayed += 1
    return out


@dataclass
class V2Material:
    """What one v2 audit read from the chain and the store."""

    block: int
    timestamp: int
    calls: list[ChainCall]
    code: bytes
    creation_input: bytes | None
    proven: ProvenAccount | None
    proof_problem: str | None
    views: dict[str, Any]
    #: the code at each satellite's CREATE address (`code_v2.get_satellite_addresses`), and
    #: its account proven in the same block (absent without a state proof)
    satellite_code: dict[str, bytes] = field(default_factory=dict)
    satellite_proven: dict[str, ProvenAccount] = field(default_factory=dict)


# --- deployment rules ---------------------------------------------------------------------


def _check(rule: str, problems: Sequence[str], ok: str) -> RuleCheck:
    if problems:
        return RuleCheck(rule=rule, status=CheckStatus.FAIL, message="; ".join(problems))
    return RuleCheck(rule=rule, status=CheckStatus.PASS, message=ok)


def check_code(
    artifact: dict[str, Any], deployment: m.Deployment, contract: str, mat: V2Material
) -> RuleCheck:
    """FLChainV2's runtime code and each satellite's, at the addresses its constructor's
    CREATEs give, are the artifact's with the immutables filled (code hashes proven)."""
    problems = code_v2.compare_runtime(artifact, deployment, contract, mat.code)
    if mat.proven is not None and keccak(mat.code) != mat.proven.code_hash:
        problems.append("the code the RPC returned is not the code hash the state proof proves")
    for name in code_v2.SATELLITES:
        code = mat.satellite_code.get(name, b"")
        problems += code_v2.compare_runtime(artifact, deployment, contract, code, name)
        sat = mat.satellite_proven.get(name)
        if sat is not None and keccak(code) != sat.code_hash:
            problems.append(f"{name}: the code the RPC returned is not the proven code hash")
    proven = " (code hashes proven)" if mat.proven is not None else ""
    return _check(
        "code", problems,
        f"runtime code of FLChainV2 and of {' and '.join(code_v2.SATELLITES)} at its CREATE "
        f"addresses is the artifact's with Genesis's immutables{proven}",
    )  # fmt: skip


def check_creation(
    artifact: dict[str, Any], deployment: m.Deployment, rules: m.RulesV2, mat: V2Material
) -> RuleCheck:
    if mat.creation_input is None:
        return RuleCheck(rule="creation", status=CheckStatus.UNVERIFIABLE,
                         message="the deployment transaction was not found")  # fmt: skip
    problems = code_v2.compare_creation(artifact, mat.creation_input, deployment, rules)
    return _check(
        "creation", problems, "deployed by the artifact's creation code with Genesis's arguments"
    )


def check_state(replay: MachineReplay, mat: V2Material) -> RuleCheck:
    """At the audited block the machine's accounts, latest model, node views and balance are
    the contract's."""
    state = replay.state
    if state is None or replay.failed_round is not None:
        return RuleCheck(rule="state", status=CheckStatus.UNVERIFIABLE,
                         message="the machine did not replay the whole history")  # fmt: skip
    problems = []
    if mat.views["accounts"] != m.get_accounts(state):
        problems.append(
            f"accounts() is {mat.views['accounts']}, the machine's {m.get_accounts(state)}"
        )
    if mat.views["latest"] != m.get_latest(state):
        problems.append("latest() is not the machine's latest final model")
    for node, view in mat.views["nodes"].items():
        if view != m.get_node_view(state, node, mat.timestamp):
            problems.append(f"nodeView({node}) is not the machine's")
            break
    if mat.proven is None:
        return RuleCheck(rule="state", status=CheckStatus.UNVERIFIABLE if not problems else CheckStatus.FAIL,
                         message="; ".join(problems) or f"views equal the machine's; no state proof: {mat.proof_problem}")  # fmt: skip
    if mat.proven.balance != state.balance:
        problems.append(
            f"the proven balance is {mat.proven.balance} wei, the machine's {state.balance}"
        )
    return _check(
        "state", problems,
        f"accounts, latest model, {len(mat.views['nodes'])} node view(s) and the proven balance "
        f"({state.balance} wei) equal the machine's",
    )  # fmt: skip


# --- per-round rules ------------------------------------------------------------------------


def check_machine(replay: MachineReplay, round: int) -> RuleCheck:
    """The round's calls were all accepted by the machine with the chain's logs."""
    n = replay.calls_by_round.get(round, 0)
    if replay.failed_round is None or round < replay.failed_round:
        return RuleCheck(
            rule="machine", status=CheckStatus.PASS,
            message=f"{n} transaction(s) replayed by the reference machine, logs equal",
        )  # fmt: skip
    if round == replay.failed_round:
        status = CheckStatus.UNVERIFIABLE if replay.unverifiable else CheckStatus.FAIL
        return RuleCheck(rule="machine", status=status, message=replay.failure or "")
    return RuleCheck(
        rule="machine", status=CheckStatus.UNVERIFIABLE,
        message=f"not replayed: the replay stopped in round {replay.failed_round}",
    )  # fmt: skip


def accumulator_word(view: m.RoundView) -> bytes:
    """`_rounds[r]`'s first word as the contract packs it: bytes20 ‖ uint32 × 3."""
    return view.accumulator + b"".join(
        n.to_bytes(4, "big") for n in (view.reveals, view.attestations, view.others)
    )


def check_accumulator(
    replay: MachineReplay, round: int, proven: bytes | None, block: int
) -> RuleCheck:
    """The machine's chain of the round's entries equals the storage word the proof proves."""
    if proven is None:
        return RuleCheck(rule="accumulator", status=CheckStatus.UNVERIFIABLE,
                         message="no state proof of the round's accumulator")  # fmt: skip
    if replay.state is None or (replay.failed_round is not None and round >= replay.failed_round):
        return RuleCheck(rule="accumulator", status=CheckStatus.UNVERIFIABLE,
                         message="the machine did not replay the round")  # fmt: skip
    view = m.get_round_view(replay.state, round)
    ours = accumulator_word(view)
    if ours == proven:
        return RuleCheck(
            rule="accumulator", status=CheckStatus.PASS,
            message=f"proven at block {block}: {view.reveals} reveal(s), {view.attestations} "
            f"attestation(s), {view.others} other entries",
        )  # fmt: skip
    counts = [int.from_bytes(proven[i : i + 4], "big") for i in (20, 24, 28)]
    return RuleCheck(
        rule="accumulator", status=CheckStatus.FAIL,
        message=f"the proven accumulator (reveals, attestations, others = {counts}) is not the "
        f"chain of the events read ({view.reveals}, {view.attestations}, {view.others}): an "
        "event was hidden, added or rewritten",
    )  # fmt: skip


def check_settlement(
    round: int,
    result: m.Result | None,
    manifest: bytes | None,
    problem: str | None,
    registered: Sequence[str],
    prior: Sequence[m.Leaf],
    chain_id: int,
    contract: str,
) -> RuleCheck:
    """The final manifest's table is the final root's, over the round's registered nodes, pays
    roundEarned, and is cumulative over the previous final table."""
    if result is None:
        return RuleCheck(rule="settlement", status=CheckStatus.SKIPPED,
                         message="no final result: nothing is settled")  # fmt: skip
    if manifest is None:
        return RuleCheck(rule="settlement", status=CheckStatus.UNVERIFIABLE,
                         message=f"the final manifest could not be fetched: {problem}")  # fmt: skip

    def fail(message: str) -> RuleCheck:
        return RuleCheck(rule="settlement", status=CheckStatus.FAIL, message=message)

    try:
        doc = decode_manifest_v2(manifest)
        leaves = manifest_leaves(doc)
    except FlchainError as exc:
        return fail(f"the final manifest: {exc}")
    root = settlement_root(leaves, chain_id, contract)
    if root != result.settlement_root:
        return fail(
            f"the final manifest's {len(leaves)} leaves hash to 0x{root.hex()}, the final "
            f"result's settlementRoot is 0x{result.settlement_root.hex()}"
        )
    if [leaf.node for leaf in leaves] != list(registered):
        return fail(
            f"the table lists {len(leaves)} node(s), {len(registered)} were registered before "
            f"round {round} opened (or in another order)"
        )
    before = {leaf.node: leaf for leaf in prior}
    earned = 0
    for leaf in leaves:
        old = before.get(leaf.node, m.Leaf(leaf.node, leaf.index))
        if leaf.cum_earned < old.cum_earned or leaf.cum_penalties < old.cum_penalties:
            return fail(f"{leaf.node}'s cumulative leaf falls from the previous final table")
        earned += leaf.cum_earned - old.cum_earned
    if earned != result.round_earned:
        return fail(
            f"the table pays {earned} wei more than the previous final one; the result's "
            f"roundEarned is {result.round_earned}"
        )
    return RuleCheck(
        rule="settlement", status=CheckStatus.PASS,
        message=f"{len(leaves)} leaves hash to the final root; {earned} wei earned",
    )  # fmt: skip


_RESULT_FIELDS: Final = (
    "merged_digest",
    "merged_cid",
    "manifest_cid",
    "settlement_root",
    "round_earned",
)


def _differing(a: m.Result, b: m.Result) -> list[str]:
    return [f for f in _RESULT_FIELDS if getattr(a, f) != getattr(b, f)]


def check_merge(
    replayed: MergeResultV2 | None,
    problem: RuleCheck | None,
    final: m.Result | None,
    final_manifest: bytes | None,
) -> RuleCheck:
    """The merge recomputed from the chain's record (`flchain.replay.v2`) gives the final
    result, field by field, and the final manifest byte for byte."""
    if replayed is None:
        return problem or RuleCheck(rule="merge", status=CheckStatus.UNVERIFIABLE,
                                    message="the merge was not run")  # fmt: skip
    if final is None:
        return RuleCheck(
            rule="merge", status=CheckStatus.PASS,
            message=f"replayed (no final result): result 0x{replayed.result_hash.hex()[:16]}…",
        )  # fmt: skip
    if differs := _differing(replayed.result, final):
        return RuleCheck(
            rule="merge", status=CheckStatus.FAIL,
            message=f"the final result is NOT the merge of the round's record: {', '.join(differs)} "
            "differ",
        )  # fmt: skip
    if final_manifest is not None and final_manifest != replayed.manifest:
        return RuleCheck(rule="merge", status=CheckStatus.FAIL,
                         message="the final manifest's bytes differ from the replay's")  # fmt: skip
    return RuleCheck(
        rule="merge", status=CheckStatus.PASS,
        message=f"final result and manifest reproduced bit for bit ({len(replayed.decisions)} "
        f"decision(s), {len(replayed.penalised)} penalised)",
    )  # fmt: skip


def check_attestations(replayed: MergeResultV2 | None, attested: Sequence[Attested]) -> RuleCheck:
    """Every attestation of the round is the replayed result (a wrong vote is slashable)."""
    if replayed is None:
        return RuleCheck(rule="attestations", status=CheckStatus.UNVERIFIABLE,
                         message="no replayed result to compare the votes with")  # fmt: skip
    wrong = [a for a in attested if a.result_hash != replayed.result_hash]
    if wrong:
        first = wrong[0]
        return RuleCheck(
            rule="attestations", status=CheckStatus.FAIL,
            message=f"{len(wrong)} of {len(attested)} attestation(s) differ from the replay: "
            f"{first.node} ({', '.join(_differing(replayed.result, first.result))})",
        )  # fmt: skip
    return RuleCheck(rule="attestations", status=CheckStatus.PASS,
                     message=f"{len(attested)} attestation(s), each the replayed result")  # fmt: skip


# --- the verdict ----------------------------------------------------------------------------


def decide_round_verdict(checks: Sequence[RuleCheck], finalized: bool) -> tuple[Verdict, str]:
    """A failed rule → mismatch (naming the first), but when only `attestations` failed →
    conflict (the final result holds; some voted otherwise); else an unverifiable rule →
    unverifiable; else verified when the round is final, not_finalized otherwise."""
    failed = [c for c in checks if c.status == CheckStatus.FAIL]
    if failed and all(c.rule == "attestations" for c in failed):
        return Verdict.CONFLICT, f"{failed[0].rule}: {failed[0].message}"
    if failed:
        return Verdict.MISMATCH, f"{failed[0].rule}: {failed[0].message}"
    if unsure := [c for c in checks if c.status == CheckStatus.UNVERIFIABLE]:
        return Verdict.UNVERIFIABLE, f"{unsure[0].rule}: {unsure[0].message}"
    if finalized:
        return Verdict.VERIFIED, "every rule recomputed; the final result reproduced bit for bit"
    return Verdict.NOT_FINALIZED, "every rule recomputed; no final result (skipped)"
