"""Judging a protocol v2 deployment (pure): every rule recomputed from what the chain said.

    replay_calls(calls, chain_id, contract) -> MachineReplay
    check_code / check_creation / check_state                       (the deployment)
    check_machine / check_accumulator / check_merge / check_attestations / check_settlement
    decide_round_verdict(checks, finalized) -> (Verdict, headline)

The material (`V2Material`) is gathered by `flchain.audit.core_v2` (I/O): every transaction
that emitted a log of the contract (`ChainCall`: sender, value, block timestamp, calldata
decoded by the ABI, and the logs the event query returned for it; for a transaction that
reached the contract through another contract, the calls its call trace shows entering the
contract or its forward box, `InnerCall`, `flchain.audit.trace`), the code at the address,
the state proof of the contract's account and of each round's accumulator word, the views at
the audited block; the merges and final manifests come with each round.

The rules, each a named `RuleCheck` with its own status, in the order they are reported (the
deployment's three, then six per round):

    code           the runtime code at the address is the artifact's with every immutable filled
                   from the Genesis event, and so is each satellite's (RulesCheckV2, the forward
                   box) at the address of the constructor's first and second CREATE; each
                   keccak is the code hash the state proof proves
    creation       the deployment transaction ran the artifact's creation code with exactly the
                   Genesis deployment and the first rules
    state          (deployment) at the audited block the machine's accounts, latest model and
                   every node's view equal the contract's views, its accounts' storage words
                   — proven — equal the machine's accounts, and its balance — proven — is at
                   least the machine's (ether forced in by a SELFDESTRUCT is named, not failed)
    machine        (per round) each transaction of the round, fed to the reference machine
                   (`flchain.protocol.machine`) with its calldata, sender, value and block time
                   — or, sent through another contract, each call its trace shows entering the
                   contract, with the calling contract as sender, one after the other; a call
                   that reverted there (caught by its caller) refused by the machine with the
                   same custom error — is accepted and returns exactly the logs the chain shows: commitments,
                   reveal outcomes (base, band, eligibility), frozen stake weights,
                   tallies and the finality threshold, every slash and its precondition,
                   settlement proofs against the final roots, payouts
    accumulator    (per round) the machine's accumulator and counts of the round equal the
                   storage word proven against the block's state root: an event that an RPC
                   dropped, added or rewrote changes the machine's chain of entries
    merge          (per round) the v2 merge recomputed from the round's record, base and prior
                   (`flchain.replay.v2`) — with forward scoring on, and the round w whose window
                   it scores (w + lag = the round), also w's record, base and accepted window's
                   bytes — is the final result field by field and the final manifest byte for
                   byte (its forward section included)
    attestations   (per round) every vote is the replayed result (else: conflict)
    forward        (per round with forward scoring on) the forward box's storage of the round's
                   window — accepted hash, each posted window's flag and tally — proven against
                   the block's state root, equals what the machine computed from the events
                   (whose weights, tallies and threshold `machine` recomputed), and the accepted
                   window's bytes are the calldata of a postForward hashing to it
    settlement     (per final round) the final manifest's settlement table hashes to the final
                   result's settlementRoot, its rows are the nodes registered before the round
                   by index, what it pays is the result's roundEarned, and no cumulative field
                   falls from the previous final table

The replay stops at the first transaction where machine and chain disagree (after it the
machine's state is not the contract's): that round's `machine` check fails naming the
transaction, and later rounds' checks are unverifiable. A transaction through another contract
whose calls could not be read (no tracing RPC, a malformed or oversized trace, a re-entrant
call) stops it the same way, `unverifiable`, naming the transaction and what would read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from eth_utils import keccak

from flchain.audit import code_v2
from flchain.audit.proof import ProvenAccount
from flchain.audit.report import CheckStatus, RuleCheck, Verdict
from flchain.errors import FlchainError
from flchain.ledger.events import ChainEvent
from flchain.ledger.events_v2 import (
    Attested,
    ForwardVoted,
    Genesis,
    RulesScheduled,
    struct_doc,
)
from flchain.merge.settlement import (
    decode_manifest_v2,
    manifest_leaves,
    settlement_root,
)
from flchain.merge.v2 import MergeResultV2
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol import machine as m

__all__ = [
    "ChainCall",
    "MachineReplay",
    "V2Material",
    "check_accumulator",
    "check_attestations",
    "check_code",
    "check_creation",
    "check_forward",
    "check_machine",
    "check_merge",
    "check_settlement",
    "check_state",
    "decide_round_verdict",
    "find_window",
    "replay_calls",
]

#: Calls whose first argument is the round they act on (the others are placed by block time).
_ROUND_FIRST: Final = frozenset(
    {
        "openRound", "commit", "reveal", "postBeacon", "attest", "finalize", "slashNoReveal",
        "commitWithForward", "postForward",
    }
)  # fmt: skip


@dataclass(frozen=True)
class InnerCall:
    """A call into the contract or its forward box made by another contract inside a
    transaction (an entry frame of its call trace, `flchain.audit.trace`)."""

    position: int  # its frame's place in the trace, in execution order
    sender: str  # the calling contract
    to: str
    value: int
    function: str | None  # the ABI function its calldata calls (None: none of the target's)
    args: tuple[Any, ...]
    reverted: bool  # it reverted (its caller caught it): it changed nothing
    #: the custom error its revert data decodes to, against the contract's and box's ABIs
    #: (name, arguments); None when it returned or its data names none (out of gas, no data)
    error: tuple[str, tuple[Any, ...]] | None = None
    undone: bool = False  # it returned, but a frame above it reverted: it changed nothing


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
    #: a transaction that reached the contract through another contract: the calls its trace
    #: shows entering the contract or its box, in execution order (None: not read, `untraced`)
    inner: tuple[InnerCall, ...] | None = None
    untraced: str | None = None  # why a call through another contract has no `inner`


def machine_args(function: str, args: Sequence[Any]) -> tuple[Any, ...]:
    """The ABI-decoded arguments of `function` as its `process_*` takes them."""
    if function in ("attest", "finalize"):
        return (int(args[0]), m.Result(*args[1]))
    if function == "settle":
        return (m.Leaf(*args[0]), tuple(bytes(p) for p in args[1]))
    if function == "scheduleRules":
        return (m.RulesV2.from_abi(args[0]),)
    return tuple(args)


def get_call_round(
    function: str | None, args: Sequence[Any], timestamp: int, deployment: m.Deployment
) -> int:
    """The round a call belongs to: its round argument, else the round at its block time."""
    if function in _ROUND_FIRST and args:
        return int(args[0])
    return deployment.round_at(timestamp)


def call_round(call: ChainCall, deployment: m.Deployment) -> int:
    return get_call_round(call.function, call.args, call.timestamp, deployment)


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

    def count(self, round: int) -> None:
        self.calls_by_round[round] = self.calls_by_round.get(round, 0) + 1

    def stop(self, round: int, failure: str, unverifiable: bool = False) -> None:
        self.failed_round, self.failure, self.unverifiable = round, failure, unverifiable


def _who(call: ChainCall) -> str:
    return f"{call.function or 'a call'} by {call.sender} (tx {call.tx_hash[:10]}…, block {call.block_number})"


def _inner_who(call: ChainCall, k: int) -> str:
    calls = call.inner or ()
    inner = calls[k]
    return (
        f"{inner.function or 'a call'} by {inner.sender} (call {k + 1} of {len(calls)} through "
        f"another contract, trace frame {inner.position}, in tx {call.tx_hash[:10]}…, block "
        f"{call.block_number})"
    )


def _target(function: str | None, contract: str, box: str) -> str:
    return box if function in m.BOX_FUNCTIONS else contract


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.lower() == b.lower()


def _norm(value: Any) -> Any:
    """An error argument as both sides compare it (addresses in any case, enums as ints)."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    return int(value) if isinstance(value, int) else value


def untraced_failure(call: ChainCall) -> str:
    """Why the replay stops at a call through another contract it could not read."""
    why = call.untraced or "it was not traced"
    return (
        f"tx {call.tx_hash} (block {call.block_number}, sent to {call.to}) reached the contract "
        f"through another contract and its calls could not be read: {why}; an RPC that answers "
        "debug_traceTransaction with geth's callTracer would make it verifiable; nothing after "
        "it is replayed"
    )


@dataclass
class _Step:
    """One call fed to the machine: who, what, and the chain logs it must emit next."""

    who: str
    function: str
    args: tuple[Any, ...]
    tx: m.Tx
    #: it reverted on chain (caught by its caller) with the custom error `expected`: the
    #: machine must refuse it so (a revert naming none is not fed to the machine)
    reverted: bool = False
    expected: tuple[str, tuple[Any, ...]] | None = None


def _steps(
    call: ChainCall, contract: str, box: str, out: MachineReplay, deployment: m.Deployment
) -> list[_Step] | None:
    """The machine calls of one transaction (None: unreadable, `out` says why): the call
    itself when it is one to the contract or its box, else its trace's inner calls."""
    if call.function is not None and _same(call.to, _target(call.function, contract, box)):
        out.count(call_round(call, deployment))
        tx = m.Tx(call.sender, call.timestamp, call.value)
        return [_Step(_who(call), call.function, call.args, tx)]
    if call.inner is None:
        out.stop(call_round(call, deployment), untraced_failure(call), unverifiable=True)
        return None
    steps = []
    for k, inner in enumerate(call.inner):
        round = get_call_round(inner.function, inner.args, call.timestamp, deployment)
        if inner.undone or (inner.reverted and inner.error is None):
            continue  # nothing it did remains, and its data names no refusal to check
        if inner.function is not None and inner.function not in m.PROCESS:
            continue  # a view called with CALL (a Safe's, say): it changes nothing
        readable = inner.function is not None and _same(
            inner.to, _target(inner.function, contract, box)
        )
        if not readable:
            if inner.reverted:  # a refusal of a function the target does not have
                continue
            out.stop(
                round, f"{_inner_who(call, k)}: its calldata is not a call of the "
                "contract's or the box's ABI", unverifiable=True,
            )  # fmt: skip
            return None
        assert inner.function is not None
        out.count(round)
        tx = m.Tx(inner.sender, call.timestamp, inner.value)
        steps.append(
            _Step(_inner_who(call, k), inner.function, inner.args, tx, inner.reverted,
                  inner.error)
        )  # fmt: skip
    return steps


def replay_calls(calls: Sequence[ChainCall], chain_id: int, contract: str) -> MachineReplay:
    """Feed every call, in chain order, to the reference machine, starting with the deployment
    (initialised from its own Genesis and first RulesScheduled logs and its sender). A
    transaction through another contract is fed as the calls its trace shows entering the
    contract (`ChainCall.inner`): together their events must be exactly the transaction's logs
    of the contract, and each that reverted with a custom error the machine must refuse with
    that error (a reverted call changes nothing; the machine's state is untouched by a refusal)."""
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
    box = m.get_forward_box(state)
    for call in calls[1:]:
        steps = _steps(call, contract, box, out, deployment)
        if steps is None:
            return out
        pending = [chain_doc(e) for e in call.events]  # the chain's logs not yet matched
        for step in steps:
            round = get_call_round(step.function, step.args, call.timestamp, deployment)
            failure = _replay_step(state, step, pending)
            if failure is not None:
                out.stop(round, failure[0], unverifiable=failure[1])
                return out
        if pending:
            out.stop(
                call_round(call, deployment), f"tx {call.tx_hash[:10]}… (block "
                f"{call.block_number}): the chain shows {pending[0][0]}, which none of its "
                "calls the machine replayed emits",
            )  # fmt: skip
            return out
        out.replayed += 1
    return out


def _replay_step(
    state: m.State, step: _Step, pending: list[tuple[str, dict[str, Any]]]
) -> tuple[str, bool] | None:
    """Run one call on the machine; consume the chain logs it emits from `pending`. A failure
    is (what differs, whether it is unverifiable rather than a disagreement)."""
    process = m.PROCESS.get(step.function)
    if process is None:  # a direct call of a view: it emits nothing
        return f"{step.who} changes nothing, yet the chain shows logs for it", False
    try:
        args = machine_args(step.function, step.args)
        events = process(state, step.tx, *args)
    except m.ProtocolError as exc:
        if not step.reverted:
            return f"{step.who} succeeded on chain; the machine refuses it: {exc.name}", False
        assert step.expected is not None
        if (exc.name, _norm(exc.arguments)) != (step.expected[0], _norm(step.expected[1])):
            return (
                f"{step.who} reverted on chain with {step.expected[0]}; the machine refuses "
                f"it with {exc.name}"
            ), False
        return None
    except (FlchainError, ValueError, TypeError) as exc:
        return f"{step.who}: its arguments do not decode: {exc}", True
    if step.reverted:
        assert step.expected is not None
        return (
            f"{step.who} reverted on chain with {step.expected[0]}; the machine accepts it",
            False,
        )
    ours, theirs = [machine_doc(e) for e in events], pending[: len(events)]
    if ours != theirs:
        return f"{step.who}: " + describe_difference(ours, theirs), False
    del pending[: len(events)]
    return None


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
    #: the contract's accounts read from its proven storage words (`core_v2.account_fields`)
    proven_accounts: m.Accounts | None = None
    #: per audited round, the forward box's words of its window (`core_v2.forward_slots`
    #: keys: the accepted hash, each window's posted flag and tally), proven
    forward_words: dict[int, dict[tuple[str, bytes], bytes]] = field(default_factory=dict)


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
    # The accounts are proven words, not the view an RPC may fake along with the logs: a
    # deposit it hides (a registration, a pool funding) would otherwise pass below as ether
    # forced in.
    if mat.proven_accounts != m.get_accounts(state):
        problems.append(
            f"the proven accounts are {mat.proven_accounts}, the machine's {m.get_accounts(state)}"
        )
    # Ether can be forced in without running the contract (a SELFDESTRUCT or a block reward
    # naming it), so the balance may exceed the machine's — by anyone, for one wei; demanding
    # equality would let them fail every later audit. What the rule needs (§8) is that the
    # balance backs the accounts: never less than the machine's.
    forced = mat.proven.balance - state.balance
    if forced < 0:
        problems.append(
            f"the proven balance is {mat.proven.balance} wei, below the machine's {state.balance}"
        )
    excess = (
        f"; {forced} wei more was forced in (a SELFDESTRUCT or block reward naming the contract: "
        "no function can spend it)"
        if forced > 0
        else ""
    )
    return _check(
        "state", problems,
        f"accounts (proven), latest model, {len(mat.views['nodes'])} node view(s) equal the "
        f"machine's and the proven balance backs its {state.balance} wei{excess}",
    )  # fmt: skip


# --- per-round rules ------------------------------------------------------------------------


def check_machine(replay: MachineReplay, round: int) -> RuleCheck:
    """The round's calls were all accepted by the machine with the chain's logs."""
    n = replay.calls_by_round.get(round, 0)
    if replay.failed_round is None or round < replay.failed_round:
        return RuleCheck(
            rule="machine", status=CheckStatus.PASS,
            message=f"{n} call(s) replayed by the reference machine, logs equal",
        )  # fmt: skip
    if round == replay.failed_round:
        status = CheckStatus.UNVERIFIABLE if replay.unverifiable else CheckStatus.FAIL
        return RuleCheck(rule="machine", status=status, message=replay.failure or "")
    return RuleCheck(
        rule="machine", status=CheckStatus.UNVERIFIABLE,
        message=f"not replayed: the replay stopped in round {replay.failed_round}",
    )  # fmt: skip


def accumulator_word(view: m.RoundView) -> bytes:
    """`_rounds[r]`'s first word as the contract packs it: bytes20 ‖ uint32 × 3, the opened
    mark in the last counter's top bit once the round was opened."""
    others = view.others | (dg.ACCUMULATOR_OPENED_MARK if view.opened else 0)
    return view.accumulator + b"".join(
        n.to_bytes(4, "big") for n in (view.reveals, view.attestations, others)
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


def find_window(calls: Sequence[ChainCall], round: int, window_hash: bytes) -> bytes | None:
    """The bytes of round `round`'s window `window_hash`: the calldata of a `postForward`
    (read signed) that hashes to it, or None when no such transaction was read."""
    for call in calls:
        if call.function == "postForward" and call.args and int(call.args[0]) == round:
            window = bytes(call.args[1])
            if dg.sha256(window) == window_hash:
                return window
    return None


def _word_int(word: bytes | None) -> int | None:
    return None if word is None else int.from_bytes(word, "big")


def check_forward(
    replay: MachineReplay,
    round: int,
    words: Mapping[tuple[str, bytes], bytes] | None,
    calls: Sequence[ChainCall],
    block: int,
    now: int,
) -> RuleCheck:
    """Round `round`'s forward window (§15.2): every ForwardPosted / ForwardVoted /
    ForwardAccepted log was recomputed by the machine (`check_machine`: hash of the calldata,
    frozen stake weights, tallies, threshold); here the box's storage — the accepted hash, each
    window's posted flag and tally — proven at the audited block, equals the machine's, and
    the accepted window's bytes are a postForward's calldata."""
    state = replay.state

    def status(kind: CheckStatus, message: str) -> RuleCheck:
        return RuleCheck(rule="forward", status=kind, message=message)

    if state is None:
        return status(CheckStatus.UNVERIFIABLE, "the machine did not replay the deployment")
    rules = m.get_rules_for_round(state, round)
    if rules.forward_bars == 0:
        return status(CheckStatus.SKIPPED, "forward scoring off for the round (forwardBars 0)")
    vote = fw.vote_round(round, rules.forward_lag_rounds)
    if replay.failed_round is not None and replay.failed_round <= vote:
        return status(CheckStatus.UNVERIFIABLE, f"the machine did not replay round {vote}, "
                      "whose commits vote on the window")  # fmt: skip
    if words is None:
        return status(CheckStatus.UNVERIFIABLE, "no state proof of the forward box's storage")
    accepted = state.forward_window.get(round)
    hashes = sorted(
        {h for r, h in state.forward_posted if r == round}
        | {key[1] for key in words if key[0] != "accepted"}
    )
    problems = []
    proven_accepted = words.get(("accepted", b""))
    if proven_accepted != (accepted or dg.ZERO32):
        problems.append(
            f"the proven accepted window is 0x{(proven_accepted or b'').hex()}, the votes the "
            f"events show accept {'none' if accepted is None else '0x' + accepted.hex()}"
        )
    for h in hashes:
        tally = m.get_forward_tally_of(state, round, h)
        proven = _word_int(words.get(("tally", h)))
        if proven != tally:
            problems.append(
                f"window 0x{h.hex()[:16]}…: the proven tally is {proven}, the votes the events "
                f"show weigh {tally}"
            )
        posted = _word_int(words.get(("posted", h)))
        if posted != int(m.get_is_forward_posted(state, round, h)):
            problems.append(f"window 0x{h.hex()[:16]}…: posted is {posted} in the proven storage")
    window = None if accepted is None else find_window(calls, round, accepted)
    if accepted is not None and window is None:
        problems.append("no postForward calldata read hashes to the accepted window")
    if problems:
        return status(CheckStatus.FAIL, "; ".join(problems))
    needed = m.finality_needed(
        state.total_stake.at(vote), m.get_rules_for_round(state, vote).finality_ppm
    )
    votes = sum(1 for call in calls for e in call.events
                if isinstance(e, ForwardVoted) and e.round == round)  # fmt: skip
    if accepted is None:
        closes = state.deployment.commit_end(vote)
        when = f"votes open until {closes}" if now < closes else "votes closed: scores missing"
        what = (
            f"no window accepted ({when}; {needed} needed); {len(hashes)} posted, {votes} vote(s)"
        )
    else:
        what = (
            f"window 0x{accepted.hex()[:16]}… accepted with "
            f"{m.get_forward_tally_of(state, round, accepted)} of {needed} needed "
            f"({len(window or b'')} bytes of postForward calldata hash to it); "
            f"{len(hashes)} posted, {votes} vote(s)"
        )
    return status(CheckStatus.PASS, f"{what}; tallies and accepted hash proven at block {block}")


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
