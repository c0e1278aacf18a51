"""`LedgerV2`: the typed interface to the protocol v2 contract (FLChainV2), and `connect_ledger`,
which answers the right facade for whatever FLChain contract sits at an address.

The same small facade as v1's `Ledger` over parts with one job each:

- `ContractV2` (`contract_v2.py`): the v2 artifact bound to the address, decoders, the shared
  event index and the immutables (the constructor's `Deployment` struct), one per contract;
- a `Signer` and the v1 `TxSender` under a `TxPolicy`, unchanged (fees, replacement,
  confirmations, deadlines); one method per entry point of `IFLChainV2`, each returning a
  `TxResult` with the v2 events typed (`events_v2.py`); a refusal is `ContractRevert` by the
  custom error's name. The round actions carry their window's end as the deadline: `commit`
  commitEnd(r), `reveal` revealEnd(r), `post_beacon` attestOpen(r), `attest` and `finalize`
  deadline(r) = S(r + 1);
- `views_v2.py`: every view, as the reference machine's structs;
- round history from events and calldata (`history_v2.py`, `payloads.py`):
  `round_record_v2(r)` is the v2 merge's input.

Gas. JSON-RPC chains estimate each call on the state before it is mined. A call that is the
first to write a storage slot pays 20 000 gas more than one that finds it written (SSTORE of a
zero slot), and which call is first can change between the estimate and the block: another
node's reveal, vote or slash ordered before or after it (a higher tip, the pending block a node
estimated on, a reorg that drops one — after which the sender re-sends the same transaction).
So the calls whose cost depends on who came first are sent with at least the gas of their
costliest path (`*_GAS_FLOOR`, measured by `bench/gas.py --v2` and ~10 % above it): `reveal`
(the round's accumulator), `attest` (the result's tally and the accumulator, plus a wrong-vote
slash), `post_beacon` and `slash_no_reveal` (the accumulator).
The other calls write the same slots whoever comes first; their estimate and the policy's
margin suffice. tests/ledger/v2/test_gas_floors.py checks each floor covers the path.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar, Final, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from flchain.ledger import history_v2, views_v2
from flchain.ledger.backends import FROZEN_VIEWS, NETWORK_ERRORS, Backend
from flchain.ledger.contract_v2 import ContractV2
from flchain.ledger.deployment import ContractBinding, detect_protocol_version, load_artifact
from flchain.ledger.errors import ChainConfigError, ChainUnavailable, LedgerError
from flchain.ledger.events import ChainEvent, EventDecoder
from flchain.ledger.events_v2 import FORWARD_EVENT_TYPES_V2, ROUND_TOPIC_EVENTS, Attested, Revealed
from flchain.ledger.facade import LedgerBase, send_constructor
from flchain.ledger.ledger import Ledger
from flchain.ledger.payloads import PayloadReader
from flchain.ledger.revert import ErrorDecoder
from flchain.ledger.sending import Signer, TxPolicy, TxResult, TxSender
from flchain.ledger.views import get_block_timestamp, get_latest_timestamp
from flchain.protocol import Address
from flchain.protocol import digests as dg
from flchain.protocol.machine import (
    Accounts,
    CommitState,
    Deployment,
    Latest,
    Leaf,
    NodeView,
    Phase,
    Result,
    RevealOutcome,
    RoundView,
    RulesV2,
)
from flchain.protocol.merkle import TREE_DEPTH
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import BaseModelV2

__all__ = [
    "ATTEST_GAS_FLOOR",
    "COMMIT_WITH_FORWARD_GAS_FLOOR",
    "POST_BEACON_GAS_FLOOR",
    "POST_FORWARD_GAS_FLOOR",
    "REVEAL_GAS_FLOOR",
    "REVEAL_GAS_FLOOR_PER_BYTE",
    "SLASH_NO_REVEAL_GAS_FLOOR",
    "ForwardBoxV2",
    "LedgerV2",
    "connect_ledger",
]

E = TypeVar("E", bound=ChainEvent)

#: Gas of the costliest `reveal` of an empty payload (the round's first entry, an Accepted
#: outcome), and what each payload byte adds to it (calldata at 16 per
#: byte, sha256 and the copy to memory).
REVEAL_GAS_FLOOR: Final = 100_000
REVEAL_GAS_FLOOR_PER_BYTE: Final = 18
#: Gas of the costliest `attest`: the first vote for its result and the round's first entry,
#: after a wrong-vote slash of the node's previous vote.
ATTEST_GAS_FLOOR: Final = 150_000
#: Gas of a `postBeacon` that is the round's first entry.
POST_BEACON_GAS_FLOOR: Final = 90_000
#: Gas of a `slashNoReveal` that is the round's first entry, pays a bounty and takes the pool
#: from an empty budget word (114 290 measured).
SLASH_NO_REVEAL_GAS_FLOOR: Final = 125_000
#: Gas of a `commitWithForward` whose vote is the window's first and also reaches the threshold
#: (a commit, the call to the forward box, two fresh slots and three events; not yet measured
#: by bench/gas.py: a margin over the sum of its parts).
COMMIT_WITH_FORWARD_GAS_FLOOR: Final = 200_000
#: Gas of a `postForward` of an empty window; each byte adds calldata and sha256.
POST_FORWARD_GAS_FLOOR: Final = 80_000
POST_FORWARD_GAS_FLOOR_PER_BYTE: Final = 18


class ForwardBoxV2(ContractBinding):
    """The forward box FLChainV2's constructor created (`forwardBox()`, IFLChainV2Forward):
    posted windows, votes and the accepted window of each round, with its own events."""

    VERSION: ClassVar[int] = 2
    EVENT_TYPES: ClassVar[dict[str, type[ChainEvent]]] = FORWARD_EVENT_TYPES_V2

    def __init__(self, backend: Backend, address: Address, *, from_block: int = 0) -> None:
        # not ContractBinding's: the ABI is the satellite's within FLChainV2's artifact
        self.backend = backend
        self.address = to_checksum_address(address)
        self.from_block = from_block
        self.artifact = load_artifact(self.VERSION)
        abi = self.artifact["satellites"]["FLChainV2Forward"]["abi"]
        self.contract = backend.w3.eth.contract(address=self.address, abi=abi)
        self.errors = ErrorDecoder(abi)
        self.events = EventDecoder(abi, self.address, backend.w3.codec, self.EVENT_TYPES)


def _errors_v2(binding: ContractV2) -> ErrorDecoder:
    """FLChainV2's custom errors and its forward box's: a call to either is refused by name.
    One decoder per backend (a simulation makes a ledger per wallet and phase; the artifact is
    the same for all)."""

    def build() -> ErrorDecoder:
        box = binding.artifact["satellites"]["FLChainV2Forward"]["abi"]
        return ErrorDecoder([*binding.artifact["abi"], *(e for e in box if e["type"] == "error")])

    return binding.backend.shared(("errors", ContractV2.VERSION), build)


class LedgerV2(LedgerBase[ContractV2]):
    """The FLChainV2 contract `binding`, signing as `signer` (none: read-only) under `policy`
    (`flchain.ledger.sending.TxPolicy`)."""

    BINDING = ContractV2

    def __init__(
        self, binding: ContractV2, signer: Signer | None = None, policy: TxPolicy | None = None
    ) -> None:
        super().__init__(binding, signer, policy)
        if signer is not None:  # refusals of the forward box are decoded by name too
            self.sender = TxSender(
                binding.backend, _errors_v2(binding), signer, lambda: self.chain_id, self.policy
            )

    # ------------------------------------------------------------ construction

    @classmethod
    def deploy(
        cls,
        backend: Backend,
        deployer: LocalAccount,
        deployment: Deployment,
        rules: RulesV2,
        policy: TxPolicy | None = None,
    ) -> LedgerV2:
        """Deploy FLChainV2 with `deployment` (the immutables, beacon key included) and the
        first `rules` (effective round 0); `deployer` becomes the governor. A refusal is
        `ContractRevert` (`InvalidDeployment(field)`, `RuleOutOfBounds(field)`, …)."""
        address, block = send_constructor(
            backend,
            deployer,
            load_artifact(ContractV2.VERSION),
            (deployment.to_abi(), rules.to_abi()),
            policy,
        )
        binding = ContractV2(backend, address, from_block=block)
        return cls(binding, Signer(deployer), policy)

    @property
    def binding(self) -> ContractV2:
        """The v2 contract binding: decoders, event index, the immutables read once."""
        return self._binding

    def deployment(self) -> Deployment:
        """The immutables (`deployment()`, read once per contract): schedule, bonds, genesis,
        beacon, migration source."""
        return self.binding.deployment

    def with_account(self, account: LocalAccount) -> LedgerV2:
        """The same binding (decoders, event index, cached immutables) and policy, signing
        as `account` (a plain `LedgerV2`, whatever view this one is)."""
        return LedgerV2(self._binding, Signer(account), self.policy)

    # ------------------------------------------------------------ sending

    def _transact_forward(
        self,
        function: str,
        *args: Any,
        gas_floor: int,
        deadline: int | None = None,
        to: ContractBinding | None = None,
    ) -> TxResult:
        """Send `function(*args)` to this contract, or to `to` (the forward box); the result's
        events are this contract's and the forward box's, in log order."""
        self._me()
        assert self.sender is not None
        target = to or self.binding
        call = getattr(target.contract.functions, function)(*args)
        receipt = self.sender.send(call, function, gas_floor=gas_floor, deadline=deadline)
        return self._result(function, receipt)

    def _result(self, function: str, receipt: Any) -> TxResult:
        """A mined receipt as a `TxResult`: this contract's and the forward box's events, in
        log order (a call through another contract logs the same way)."""
        logs = receipt["logs"]
        events = self.binding.events.decode(logs) + self.forward_box.events.decode(logs)
        return TxResult(
            function=function,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            events=tuple(sorted(events, key=lambda e: e.log_index)),
        )

    def register(self, bond: int) -> TxResult:
        """Register the signer with `bond` wei (≥ minBond); in the frozen set from the next
        round."""
        return self._transact("register", value=bond)

    def add_bond(self, amount: int) -> TxResult:
        """Add `amount` wei to the signer's bond (counts from the next round)."""
        return self._transact("addBond", value=amount)

    def request_exit(self) -> TxResult:
        return self._transact("requestExit")

    def withdraw(self) -> TxResult:
        return self._transact("withdraw")

    def collect(self) -> TxResult:
        """Pull rewards credited to the signer after a failed transfer."""
        return self._transact("collect")

    def fund_pool(self, amount: int) -> TxResult:
        return self._transact("fundPool", value=amount)

    # a round (§4–§8)

    def open_round(self, round: int) -> TxResult:
        """Reserve `round`'s budget (anyone, once, before its reveal window ends)."""
        return self._transact("openRound", round, deadline=self.deployment().reveal_end(round))

    def commitment(
        self, round: int, update_digest: bytes, base_digest: bytes, roi_bps: int, salt: bytes
    ) -> bytes:
        """The signer's v2 commitment (§4, `flchain.protocol.digests.commitment_hash_v2`)."""
        return dg.commitment_hash_v2(
            self.chain_id, self.address, round, self._me(), update_digest, base_digest,
            roi_bps, salt,
        )  # fmt: skip

    def commit(self, round: int, commitment: bytes) -> TxResult:
        """Post `commitment` (see `commitment`) for `round`, mined before its commit window
        ends (else `DeadlineMissed`)."""
        return self._transact(
            "commit", round, bytes(commitment), deadline=self.deployment().commit_end(round)
        )

    def commit_with_forward(
        self, round: int, commitment: bytes, forward_round: int, window_hash: bytes
    ) -> TxResult:
        """`commit`, carrying the signer's vote for `window_hash` as round `forward_round`'s
        forward window (§15.2: forward_round + forwardLagRounds = round); the box's
        `ForwardVoted` (and `ForwardAccepted`) are among the events."""
        return self._transact_forward(
            "commitWithForward", round, bytes(commitment), forward_round, bytes(window_hash),
            gas_floor=COMMIT_WITH_FORWARD_GAS_FLOOR, deadline=self.deployment().commit_end(round),
        )  # fmt: skip

    def post_forward(self, round: int, window: bytes) -> TxResult:
        """Post round `round`'s forward window file to the forward box (anyone; once its bars
        have closed and before the votes on it close)."""
        return self._transact_forward(
            "postForward", round, bytes(window), to=self.forward_box,
            gas_floor=POST_FORWARD_GAS_FLOOR + POST_FORWARD_GAS_FLOOR_PER_BYTE * len(window),
        )  # fmt: skip

    def reveal(
        self, round: int, payload: bytes, base_digest: bytes, roi_bps: int, salt: bytes
    ) -> tuple[TxResult, RevealOutcome]:
        """Reveal the committed update with its payload in the calldata, mined before the
        reveal window ends; returns the transaction and the on-chain outcome."""
        tx = self._transact(
            "reveal",
            round,
            bytes(payload),
            bytes(base_digest),
            roi_bps,
            bytes(salt),
            gas_floor=REVEAL_GAS_FLOOR + REVEAL_GAS_FLOOR_PER_BYTE * len(payload),
            deadline=self.deployment().reveal_end(round),
        )
        return tx, next(e.outcome for e in tx.events if isinstance(e, Revealed))

    def post_beacon(self, round: int, signature: bytes) -> TxResult:
        """Post the beacon signature of D(round) (`beacon_round`), mined before the beacon
        window ends."""
        return self._transact(
            "postBeacon",
            round,
            bytes(signature),
            gas_floor=POST_BEACON_GAS_FLOOR,
            deadline=self.deployment().attest_open(round),
        )

    def attest(self, round: int, result: Result) -> tuple[TxResult, bytes]:
        """Vote for `result` with the signer's frozen stake, mined before S(round + 1); returns
        the transaction and the result's hash."""
        tx = self._transact(
            "attest",
            round,
            result.to_abi(),
            gas_floor=ATTEST_GAS_FLOOR,
            deadline=self.deployment().deadline(round),
        )
        return tx, next(e.result_hash for e in tx.events if isinstance(e, Attested))

    def finalize(self, round: int, result: Result) -> TxResult:
        """Make `result` final (anyone, once its tally reaches the threshold), mined before
        S(round + 1)."""
        return self._transact(
            "finalize", round, result.to_abi(), deadline=self.deployment().deadline(round)
        )

    def settle(self, leaf: Leaf, proof: Sequence[bytes]) -> TxResult:
        """Apply `leaf` of the latest final settlement root (anyone; pays `leaf.node`)."""
        if len(proof) != TREE_DEPTH:
            raise ChainConfigError(f"a settlement proof has {TREE_DEPTH} hashes, not {len(proof)}")
        return self._transact("settle", leaf.to_abi(), [bytes(p) for p in proof])

    def slash_no_reveal(self, round: int, node: Address) -> TxResult:
        """Slash `node`'s unrevealed commitment of `round` (anyone, after its reveal window)."""
        return self._transact(
            "slashNoReveal",
            round,
            to_checksum_address(node),
            gas_floor=SLASH_NO_REVEAL_GAS_FLOOR,
        )

    # governance (§10)

    def schedule_rules(self, rules: RulesV2) -> TxResult:
        """Schedule `rules` from `rules.effective_round` on (governor; notice, order, bounds)."""
        return self._transact("scheduleRules", rules.to_abi())

    def cancel_rules(self) -> TxResult:
        return self._transact("cancelRules")

    def transfer_governance(self, new_governor: Address) -> TxResult:
        return self._transact("transferGovernance", to_checksum_address(new_governor))

    def accept_governance(self) -> TxResult:
        return self._transact("acceptGovernance")

    def pause(self, duration: int) -> TxResult:
        return self._transact("pause", duration)

    def unpause(self) -> TxResult:
        return self._transact("unpause")

    # ------------------------------------------------------------ views

    def now(self) -> int:
        """Timestamp of the latest block."""
        return get_latest_timestamp(self.backend)

    def block_timestamp(self, block_number: int) -> int:
        return get_block_timestamp(self.backend, block_number)

    def phase(self) -> tuple[int, Phase]:
        """(round, phase) at the latest block, from the immutables (no call)."""
        return self.deployment().phase_at(self.now())

    def protocol_version(self) -> int:
        return views_v2.get_protocol_version(self.binding)

    def phase_at(self, ts: int) -> tuple[int, Phase]:
        return views_v2.get_phase_at(self.binding, ts)

    def current_phase(self) -> tuple[int, Phase]:
        return views_v2.get_current_phase(self.binding)

    def beacon_round(self, round: int) -> int:
        """D(round): the beacon round whose signature seeds `round` (§6)."""
        return views_v2.get_beacon_round(self.binding, round)

    def rules_for_round(self, round: int) -> RulesV2:
        """The rules frozen for `round` (`rulesForRound`). Once `round` has started they can
        never change (§10: a version takes effect after its notice, only a pending one can be
        cancelled), so a started round's are read once per contract and backend."""
        frozen: dict[int, RulesV2] = self.backend.shared(
            (*FROZEN_VIEWS, "rules", self.address), dict
        )
        found = frozen.get(round)
        if found is not None:
            return found
        current, phase = self.phase()  # before the call: started then, frozen when read
        found = views_v2.get_rules_for_round(self.binding, round)
        if phase != Phase.NOT_STARTED and round <= current:
            frozen[round] = found
        return found

    def rules_version_count(self) -> int:
        return views_v2.get_rules_version_count(self.binding)

    def rules_version(self, version: int) -> RulesV2:
        return views_v2.get_rules_version(self.binding, version)

    def governor(self) -> Address:
        return views_v2.get_governor(self.binding)

    def pending_governor(self) -> Address:
        return views_v2.get_pending_governor(self.binding)

    def pause_window(self) -> tuple[int, int]:
        return views_v2.get_pause_window(self.binding)

    def node_count(self) -> int:
        return views_v2.get_node_count(self.binding)

    def node_at(self, index: int) -> Address:
        return views_v2.get_node_at(self.binding, index)

    def node_view(self, node: Address) -> NodeView:
        return views_v2.get_node_view(self.binding, node)

    def stake_of(self, node: Address, round: int) -> int:
        return views_v2.get_stake_of(self.binding, node, round)

    def round_view(self, round: int) -> RoundView:
        return views_v2.get_round_view(self.binding, round)

    def commitment_of(self, round: int, node: Address) -> tuple[bytes, CommitState, RevealOutcome]:
        return views_v2.get_commitment_of(self.binding, round, node)

    def tally_of(self, round: int, result_hash: bytes) -> int:
        return views_v2.get_tally_of(self.binding, round, result_hash)

    def has_posted_beacon(self, round: int, node: Address) -> bool:
        return views_v2.get_has_posted_beacon(self.binding, round, node)

    def latest(self) -> Latest:
        """The latest final model (genesis before any): the base of the round in progress."""
        return views_v2.get_latest(self.binding)

    def accounts(self) -> Accounts:
        return views_v2.get_accounts(self.binding)

    @cached_property
    def forward_box(self) -> ForwardBoxV2:
        """The forward box of this contract (`forwardBox()`), bound once."""
        address = to_checksum_address(self.binding.call("forwardBox"))
        return ForwardBoxV2(self.backend, address, from_block=self.from_block)

    def forward_window_of(self, round: int) -> bytes | None:
        """Round `round`'s accepted forward window hash, None while none is accepted."""
        value = bytes(self.forward_box.call("forwardWindowOf", round))
        return None if value == dg.ZERO32 else value

    def forward_tally_of(self, round: int, window_hash: bytes) -> int:
        return int(self.forward_box.call("forwardTallyOf", round, bytes(window_hash)))

    def is_forward_posted(self, round: int, window_hash: bytes) -> bool:
        return bool(self.forward_box.call("isForwardPosted", round, bytes(window_hash)))

    def forward_events(self, round: int | None = None) -> list[ChainEvent]:
        """The forward box's events (ForwardPosted, ForwardVoted, ForwardAccepted) in chain
        order, of one window round when given."""
        index = self.forward_box.event_index
        try:
            index.sync()
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read events") from None
        found = index.query(None, None)
        return [e for e in found if round is None or getattr(e, "round", None) == round]

    def is_eligible(self, node: Address, round: int) -> bool:
        return views_v2.get_is_eligible(self.binding, node, round)

    # ------------------------------------------------------------ devnet time

    def goto(self, round: int, phase: Phase, offset: int = 1) -> int:
        """Move devnet time to `offset` seconds into `phase` of `round`; returns the time."""
        d = self.deployment()
        starts = {
            Phase.COMMIT: d.start(round),
            Phase.REVEAL: d.commit_end(round),
            Phase.BEACON: d.reveal_end(round),
            Phase.ATTEST: d.attest_open(round),
        }
        if phase not in starts:
            raise ChainConfigError("goto needs COMMIT, REVEAL, BEACON or ATTEST")
        return self.backend.set_time(starts[phase] + offset)

    # ------------------------------------------------------------ events

    def _round_events(self, name: str | None, round: int, to_block: int | None) -> list[Any]:
        # Events whose first indexed topic is the round are served by topic; the others
        # (a `round` field in their data, or none) are filtered here.
        if name in ROUND_TOPIC_EVENTS:
            return self.event_index.query(name, round, to_block=to_block)
        found = self.event_index.query(name, None, to_block=to_block)
        return [e for e in found if getattr(e, "round", None) == round]

    # ------------------------------------------------------------ round history

    @cached_property
    def payloads(self) -> PayloadReader:
        """The reader of reveal payloads from calldata (shared cache per contract)."""
        return PayloadReader(self.backend, self.address)

    def deployment_from_events(self) -> Deployment:
        with self._one_read():
            return history_v2.compute_deployment(self)

    def rules_from_events(self, round: int) -> RulesV2:
        with self._one_read():
            return history_v2.compute_rules(self, round)

    def base_for_round(self, round: int) -> BaseModelV2:
        """The base of `round` from events: the latest final model at S(round), or genesis."""
        with self._one_read():
            return history_v2.compute_base(self, round, history_v2.compute_deployment(self))

    def round_record_v2(self, round: int) -> RoundRecordV2:
        """Everything the chain says about `round` — events and the reveals' calldata, one
        index sync — as the v2 merge reads it."""
        with self._one_read():
            forward = None
            if self.rules_for_round(round).forward_bars > 0:
                forward = self.forward_window_of(round)
            record = history_v2.compute_round_record_v2(
                self, round, chain_id=self.chain_id, contract=self.address,
                payloads=self.payloads.read, forward_window=forward,
            )  # fmt: skip
        return _shared_parts(self.binding).share(record)


#: Rounds whose record parts `_RecordParts` keeps (the round in progress and the ones it reads).
SHARED_RECORD_ROUNDS = 3
_RECORD_LISTS = ("nodes", "reveals", "beacon_posts", "attestations")


class _RecordParts:
    """One copy of each registration, reveal, beacon post and attestation of recent rounds,
    for every facade on one binding. A simulation's N nodes each keep the record of the round
    they replayed: built apart, the N records held N² reveals (1 000 nodes: ~1 GiB); with
    their elements shared they hold N² pointers. An element is reused only when equal to the
    one kept at its position (a reorg's new event replaces it), so records are unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rounds: dict[int, dict[tuple[Any, ...], Any]] = {}

    def share(self, record: RoundRecordV2) -> RoundRecordV2:
        with self._lock:
            kept = self._rounds.setdefault(record.round, {})
            for old in sorted(self._rounds)[:-SHARED_RECORD_ROUNDS]:
                del self._rounds[old]
            update = {}
            for name in _RECORD_LISTS:
                items = getattr(record, name)
                shared = tuple(self._one(kept, name, item) for item in items)
                if any(a is not b for a, b in zip(shared, items, strict=True)):
                    update[name] = shared
        return record.model_copy(update=update) if update else record

    @staticmethod
    def _one(kept: dict[tuple[Any, ...], Any], name: str, item: Any) -> Any:
        # an event's position names it; a registration is named by its index
        key = (name, item.index) if name == "nodes" else (name, item.block_number, item.log_index)
        old = kept.get(key)
        if old is not None and old == item:
            return old
        kept[key] = item
        return item


_PARTS: weakref.WeakKeyDictionary[ContractV2, _RecordParts] = weakref.WeakKeyDictionary()
_PARTS_LOCK = threading.Lock()


def _shared_parts(binding: ContractV2) -> _RecordParts:
    with _PARTS_LOCK:
        parts = _PARTS.get(binding)
        if parts is None:
            parts = _PARTS[binding] = _RecordParts()
        return parts


def connect_ledger(
    backend: Backend,
    address: Address,
    account: LocalAccount | None = None,
    *,
    from_block: int = 0,
    policy: TxPolicy | None = None,
) -> Ledger | LedgerV2:
    """The facade for the FLChain contract at `address`: `LedgerV2` when it answers
    `protocolVersion()` with 2, the v1 `Ledger` when it is a v1 deployment; `ChainConfigError`
    for an address without code or with another contract."""
    version = detect_protocol_version(backend, address)
    if version == ContractV2.VERSION:
        return LedgerV2.connect(
            backend, address, account, from_block=from_block, check=False, policy=policy
        )
    if version == 1:
        return Ledger.connect(
            backend, address, account, from_block=from_block, check=False, policy=policy
        )
    raise LedgerError(f"no facade for protocol version {version}")  # detect refuses it first
