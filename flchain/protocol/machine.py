"""The protocol v2 reference state machine: docs/protocol.md as executable Python.

Consensus-specs style. A `State` holds what the contract stores (immutables, rule versions,
nodes, rounds, accounts) plus the contract's native balance and a log of its transfers out. One
`process_<function>(state, tx, ...)` per external function of `IFLChainV2`:

- it first runs the contract's checks, in the contract's order (each docstring lists them), and
  raises `ProtocolError(name, *args)` — the custom error's name and arguments — at the first
  that fails, **before touching `state`**;
- then applies the effects and returns the events, in emission order, named and keyed as the
  ABI names them.

`get_*` functions are the contract's views. Nothing here does I/O, reads a clock or draws a
random number: every call carries its block timestamp and sender in a `Tx`.

The data is shaped as the contract can store it in O(1) per transaction: two-value stake
checkpoints, one pending reservation, the latest final result only, a node's last vote (settled
lazily) and last participation, an unrevealed-commitment counter. No transaction loops over
nodes, rounds or penalties; rule lookups are a search over versions (§10).

Byte values are `bytes`, addresses checksummed strings, enums `IntEnum`s — what web3 decodes
from the contract, so errors, events and views compare directly.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import astuple, dataclass, field, fields
from enum import IntEnum
from typing import Any, Final

from eth_utils import to_checksum_address

from flchain.errors import FlchainError
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol.beacon import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, beacon_round
from flchain.protocol.merkle import TREE_DEPTH, TREE_SIZE, verify_proof
from flchain.protocol.schedule import RoundWindows

# ---------------------------------------------------------------- constants (§2)

PROTOCOL_VERSION_V2: Final = 2
PPM: Final = 1_000_000
BPS: Final = 10_000
MAX_PAYLOAD_BYTES: Final = 16_384
MAX_PAUSE: Final = 7 * 86_400
PAUSE_COOLDOWN: Final = 7 * 86_400
MAX_NODES: Final = TREE_SIZE
ZERO_ADDRESS: Final = "0x" + "00" * 20
# The smallest commitment the contract stores: below it, its (round, node) word means empty (0),
# revealed with an outcome or slashed — a keccak output falls there with probability 2⁻²⁴⁰.
MIN_COMMITMENT: Final = 1 << 16
CODEC_RAW: Final = 0x55
CODEC_DAG_PB: Final = 0x70

# Rules bounds (§2.2), inclusive unless the name says otherwise.
MIN_ROI_MIN_BPS: Final = -BPS
MAX_ROI_MAX_BPS: Final = 100 * BPS
MAX_ABS_ELIGIBILITY_MIN_SCORE_BPS: Final = 100 * BPS
MAX_PROBATION_ROUNDS: Final = 1_000
MAX_PENALTY_COOLDOWN_ROUNDS: Final = 1_000
MAX_NOTICE_ROUNDS: Final = 1_000
FINALITY_PPM_ABOVE: Final = PPM // 2  # exclusive: q > ½ is what makes two finals impossible
MAX_FINALITY_PPM: Final = 900_000
# The largest ppm not above ⅔: exactly two thirds of the stake is final (2 of 3 equal nodes);
# 666 667 would make a three-node federation need every vote.
DEFAULT_FINALITY_PPM: Final = 666_666
MAX_SIMILARITY_THRESHOLD_PPM: Final = PPM
MAX_CLUSTER_CAP_PPM: Final = PPM
MAX_SIMILARITY_METRIC: Final = 1
MAX_AGGREGATION: Final = 3
MAX_TRIM_PPM: Final = PPM // 2 - 1
MAX_ROI_TOLERANCE_BPS: Final = BPS
MAX_FEE_PPM: Final = PPM - 1
MAX_BOUNTY_PPM: Final = PPM // 2

ETHER: Final = 10**18


class Status(IntEnum):
    NONE = 0
    ACTIVE = 1
    EXITING = 2
    WITHDRAWN = 3


class Phase(IntEnum):
    NOT_STARTED = 0
    COMMIT = 1
    REVEAL = 2
    BEACON = 3
    ATTEST = 4


class RevealOutcome(IntEnum):
    ACCEPTED = 0
    REJECTED_ABNORMAL_ROI = 1
    REJECTED_INELIGIBLE = 2
    REJECTED_STALE_BASE = 3


class CommitState(IntEnum):
    NONE = 0
    COMMITTED = 1
    REVEALED = 2
    SLASHED = 3


class Fault(IntEnum):
    NO_REVEAL = 0
    PENALTY = 1
    WRONG_VOTE = 2


# ---------------------------------------------------------------- ABI value types


def _check_uint(name: str, value: int, bits: int) -> None:
    if not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(f"{name} = {value!r} is not a uint{bits}")


def _check_int(name: str, value: int, bits: int) -> None:
    if not isinstance(value, int) or not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError(f"{name} = {value!r} is not an int{bits}")


def _check_bytes(name: str, value: bytes, length: int | None = None) -> None:
    if not isinstance(value, bytes) or (length is not None and len(value) != length):
        raise ValueError(f"{name} must be {length or 'some'} bytes")


class _AbiStruct:
    """A struct of the ABI: fields in declaration order, `to_abi()` its tuple."""

    def to_abi(self) -> tuple[Any, ...]:
        return tuple(int(v) if isinstance(v, IntEnum) else v for v in astuple(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Deployment(RoundWindows, _AbiStruct):
    """`IFLChainV2.Deployment`: everything fixed at deployment (§2.1)."""

    t0: int
    round_length: int
    commit_window: int
    reveal_window: int
    beacon_window: int
    exit_delay: int
    min_notice_rounds: int
    min_bond: int
    genesis_digest: bytes
    genesis_cid: bytes
    beacon_genesis: int
    beacon_period: int
    beacon_delay: int
    beacon_public_key: bytes
    source_chain_id: int = 0
    source_contract: str = ZERO_ADDRESS
    source_round: int = 0

    def __post_init__(self) -> None:
        for name in ("t0", "round_length", "commit_window", "reveal_window", "beacon_window"):
            _check_uint(name, getattr(self, name), 64)
        _check_uint("exit_delay", self.exit_delay, 64)
        _check_uint("min_notice_rounds", self.min_notice_rounds, 32)
        _check_uint("min_bond", self.min_bond, 256)
        _check_bytes("genesis_digest", self.genesis_digest, 32)
        _check_bytes("genesis_cid", self.genesis_cid)
        for name in ("beacon_genesis", "beacon_period", "beacon_delay", "source_round"):
            _check_uint(name, getattr(self, name), 64)
        _check_bytes("beacon_public_key", self.beacon_public_key)
        _check_uint("source_chain_id", self.source_chain_id, 256)
        object.__setattr__(self, "source_contract", to_checksum_address(self.source_contract))

    # The schedule (§1): start, commit_end, reveal_end, deadline, round_at are
    # `RoundWindows`' (the one round arithmetic of v1 and v2); v2 adds the beacon window.
    def attest_open(self, round: int) -> int:
        return self.reveal_end(round) + self.beacon_window

    def phase_at(self, ts: int) -> tuple[int, Phase]:
        if ts < self.t0:
            return 0, Phase.NOT_STARTED
        round, offset = self.round_offset(ts)
        if offset < self.commit_window:
            return round, Phase.COMMIT
        if offset < self.commit_window + self.reveal_window:
            return round, Phase.REVEAL
        if offset < self.commit_window + self.reveal_window + self.beacon_window:
            return round, Phase.BEACON
        return round, Phase.ATTEST

    def effective_round(self, ts: int) -> int:
        """The first round a stake or rule change made at `ts` can affect (§3)."""
        return 0 if ts < self.t0 else self.round_at(ts) + 1


@dataclass(frozen=True)
class RulesV2(_AbiStruct):
    """`IFLChainV2.Rules` (§2.2). Protocol v1's `flchain.protocol.Rules` has a head-count quorum
    and none of v2's finality, payload, notice, emission and slash fields; this is v2's.

    Construction refuses only what the ABI cannot encode (a ValueError); the protocol's bounds
    are `check_rules`, which is what `scheduleRules` runs."""

    effective_round: int = 0
    roi_min_bps: int = -5_000
    roi_max_bps: int = 20_000
    eligibility_min_score_bps: int = -10_000
    probation_rounds: int = 3
    penalty_cooldown_rounds: int = 3
    max_participants: int = 64
    notice_rounds: int = 2
    finality_ppm: int = DEFAULT_FINALITY_PPM
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    similarity_threshold_ppm: int = 950_000
    cluster_cap_ppm: int = PPM
    similarity_metric: int = 0
    aggregation: int = 0
    trim_ppm: int = 100_000
    roi_tolerance_bps: int = 1
    norm_bound_micro: int = 100_000_000
    fee_ppm: int = 1_000
    bounty_ppm: int = 100_000
    benchmark_id: bytes = dg.ZERO32
    emission_wei: int = 0
    no_reveal_slash_wei: int = 5 * ETHER // 100
    penalty_slash_wei: int = ETHER // 10
    wrong_vote_slash_wei: int = 2 * ETHER // 100
    # forward scoring (§15.1); forward_bars = 0 keeps it off
    forward_bars: int = 0
    forward_margin_seconds: int = 0
    forward_lag_rounds: int = 1
    forward_trail_rounds: int = 8
    forward_noise_z_ppm: int = 1_000_000
    forward_noise_floor_bps: int = 100
    norm_bound_rel_ppm: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            abi_type = _RULES_TYPES[f.name]
            value = getattr(self, f.name)
            if abi_type == "bytes32":
                _check_bytes(f.name, value, 32)
            elif abi_type.startswith("int"):
                _check_int(f.name, value, int(abi_type[3:]))
            else:
                _check_uint(f.name, value, int(abi_type[4:]))

    @classmethod
    def from_abi(cls, values: Sequence[Any]) -> RulesV2:
        """From a decoded `Rules` tuple (declaration order)."""
        kwargs: dict[str, Any] = {}
        for (name, _, abi_type), v in zip(RULES_ABI, values, strict=True):
            kwargs[name] = bytes(v) if abi_type == "bytes32" else int(v)
        return cls(**kwargs)


#: (python field, ABI member, ABI type) of `Rules`, in declaration order.
RULES_ABI: Final[tuple[tuple[str, str, str], ...]] = (
    ("effective_round", "effectiveRound", "uint32"),
    ("roi_min_bps", "roiMinBps", "int32"),
    ("roi_max_bps", "roiMaxBps", "int32"),
    ("eligibility_min_score_bps", "eligibilityMinScoreBps", "int32"),
    ("probation_rounds", "probationRounds", "uint16"),
    ("penalty_cooldown_rounds", "penaltyCooldownRounds", "uint16"),
    ("max_participants", "maxParticipants", "uint16"),
    ("notice_rounds", "noticeRounds", "uint16"),
    ("finality_ppm", "finalityPpm", "uint32"),
    ("max_payload_bytes", "maxPayloadBytes", "uint32"),
    ("similarity_threshold_ppm", "similarityThresholdPpm", "uint32"),
    ("cluster_cap_ppm", "clusterCapPpm", "uint32"),
    ("similarity_metric", "similarityMetric", "uint8"),
    ("aggregation", "aggregation", "uint8"),
    ("trim_ppm", "trimPpm", "uint32"),
    ("roi_tolerance_bps", "roiToleranceBps", "uint32"),
    ("norm_bound_micro", "normBoundMicro", "uint64"),
    ("fee_ppm", "feePpm", "uint32"),
    ("bounty_ppm", "bountyPpm", "uint32"),
    ("benchmark_id", "benchmarkId", "bytes32"),
    ("emission_wei", "emissionWei", "uint128"),
    ("no_reveal_slash_wei", "noRevealSlashWei", "uint128"),
    ("penalty_slash_wei", "penaltySlashWei", "uint128"),
    ("wrong_vote_slash_wei", "wrongVoteSlashWei", "uint128"),
    ("forward_bars", "forwardBars", "uint16"),
    ("forward_margin_seconds", "forwardMarginSeconds", "uint32"),
    ("forward_lag_rounds", "forwardLagRounds", "uint16"),
    ("forward_trail_rounds", "forwardTrailRounds", "uint16"),
    ("forward_noise_z_ppm", "forwardNoiseZPpm", "uint32"),
    ("forward_noise_floor_bps", "forwardNoiseFloorBps", "uint32"),
    ("norm_bound_rel_ppm", "normBoundRelPpm", "uint32"),
)
_RULES_TYPES: Final = {py: t for py, _, t in RULES_ABI}


@dataclass(frozen=True)
class Result(_AbiStruct):
    """`IFLChainV2.Result`: what nodes attest and `finalize` makes final (§7)."""

    merged_digest: bytes
    merged_cid: bytes
    manifest_cid: bytes
    settlement_root: bytes
    round_earned: int

    def __post_init__(self) -> None:
        _check_bytes("merged_digest", self.merged_digest, 32)
        _check_bytes("merged_cid", self.merged_cid)
        _check_bytes("manifest_cid", self.manifest_cid)
        _check_bytes("settlement_root", self.settlement_root, 32)
        _check_uint("round_earned", self.round_earned, 128)

    def hash(self, chain_id: int, contract: str, round: int) -> bytes:
        return dg.result_hash_v2(
            chain_id,
            contract,
            round,
            self.merged_digest,
            self.merged_cid,
            self.manifest_cid,
            self.settlement_root,
            self.round_earned,
        )


@dataclass(frozen=True)
class Leaf(_AbiStruct):
    """`IFLChainV2.Leaf`: a node's cumulative settlement leaf (§8)."""

    node: str
    index: int
    cum_earned: int = 0
    cum_penalties: int = 0
    merged_rounds: int = 0
    last_penalty_round: int = 0
    score_bps: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "node", to_checksum_address(self.node))
        _check_uint("index", self.index, 32)
        _check_uint("cum_earned", self.cum_earned, 128)
        for name in ("cum_penalties", "merged_rounds", "last_penalty_round"):
            _check_uint(name, getattr(self, name), 32)
        _check_int("score_bps", self.score_bps, 32)

    def hash(self, chain_id: int, contract: str) -> bytes:
        return dg.leaf_hash(
            chain_id,
            contract,
            self.node,
            self.index,
            self.cum_earned,
            self.cum_penalties,
            self.merged_rounds,
            self.last_penalty_round,
            self.score_bps,
        )


@dataclass(frozen=True)
class NodeView(_AbiStruct):
    """`IFLChainV2.NodeView`."""

    status: Status
    index: int
    bond: int
    stake_this_round: int
    stake_next_round: int
    accepted_reveals: int
    last_accepted_round: int
    unrevealed: int
    last_participated_round: int
    settled_round: int
    cum_earned: int
    cum_penalties: int
    penalties_applied: int
    merged_rounds: int
    last_penalty_round: int
    score_bps: int
    claimed: int
    last_attested_round: int
    last_vote_round: int
    last_vote_hash: bytes
    withdrawable_at: int


@dataclass(frozen=True)
class RoundView(_AbiStruct):
    """`IFLChainV2.RoundView`."""

    opened: bool
    reserved: int
    total_stake: int
    final_result: bytes
    accumulator: bytes
    reveals: int
    attestations: int
    others: int


@dataclass(frozen=True)
class Latest(_AbiStruct):
    """`IFLChainV2.Latest`: the latest final model (round + 1, 0 = genesis)."""

    round_plus_one: int
    merged_digest: bytes
    merged_cid: bytes
    manifest_cid: bytes
    settlement_root: bytes


@dataclass(frozen=True)
class Accounts(_AbiStruct):
    """`IFLChainV2.Accounts`: the separate accounts the balance backs (§8)."""

    bonds: int
    pool: int
    reserved: int
    claimable: int

    @property
    def total(self) -> int:
        return self.bonds + self.pool + self.reserved + self.claimable


# ---------------------------------------------------------------- transactions, errors, events


@dataclass(frozen=True)
class Tx:
    """One call: who sends it, the wei it carries, the block timestamp it runs at."""

    sender: str
    timestamp: int
    value: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sender", to_checksum_address(self.sender))
        _check_uint("value", self.value, 256)


#: Custom errors of `IFLChainV2`: name → argument names, in order.
ERRORS: Final[Mapping[str, tuple[str, ...]]] = {
    "InvalidDeployment": ("field",),
    "RuleOutOfBounds": ("field",),
    "InvalidCid": (),
    "CidDigestMismatch": (),
    "AlreadyRegistered": ("node",),
    "WalletRetired": ("node",),
    "BondTooSmall": ("bond", "minBond"),
    "RegistryFull": (),
    "NotActive": ("node",),
    "NotExiting": ("node",),
    "WithdrawalTooEarly": ("withdrawableAt",),
    "RoundUndecided": ("round",),
    "UnrevealedCommitment": ("count",),
    "SettlementPending": ("node", "latestRound"),
    "TransferFailed": (),
    "NotInCommitWindow": ("round",),
    "NotInRevealWindow": ("round",),
    "NotInBeaconWindow": ("round",),
    "NotInAttestWindow": ("round",),
    "NotOpenable": ("round",),
    "RoundAlreadyOpen": ("round",),
    "RoundPaused": ("round",),
    "NotInFrozenSet": ("round", "node"),
    "AlreadyCommitted": ("round", "node"),
    "NoCommitment": ("round", "node"),
    "AlreadyRevealed": ("round", "node"),
    "CommitmentMismatch": ("round", "node"),
    "PayloadTooLarge": ("length", "maxLength"),
    "BeaconAlreadyPosted": ("round", "node"),
    "InvalidBeaconSignature": ("length",),
    "AlreadyAttested": ("round", "node"),
    "AlreadyFinal": ("round",),
    "BelowFinality": ("tally", "needed"),
    "OverBudget": ("roundEarned", "reserved"),
    "NotSlashable": ("round", "node"),
    "InvalidProof": (),
    "AlreadySettled": ("node",),
    "LeafRegressed": ("node",),
    "NothingOwed": (),
    "NotGovernor": ("caller",),
    "NotPendingGovernor": ("caller",),
    "ZeroAddress": (),
    "NoticeTooShort": ("effectiveRound", "earliest"),
    "RulesOutOfOrder": ("effectiveRound", "lastScheduled"),
    "NothingToCancel": (),
    "RulesInEffect": ("version",),
    "PauseNotAllowed": ("earliest",),
    "NotPaused": (),
    # forward scoring (§15.2)
    "ForwardScoringOff": ("round",),
    "ForwardTooEarly": ("round", "opensAt"),
    "ForwardVoteClosed": ("round", "closedAt"),
    "ForwardTooLarge": ("length", "maxLength"),
    "NotForwardVoteRound": ("forwardRound", "round"),
    "ForwardNotPosted": ("forwardRound", "windowHash"),
}

#: Not a custom error: the EVM reverts without data when wei is sent to a non-payable function.
NOT_PAYABLE: Final = "NotPayable"


class ProtocolError(FlchainError):
    """The contract reverts with custom error `name(*args)` (or `NOT_PAYABLE`, no data)."""

    def __init__(self, name: str, *args: Any) -> None:
        if name != NOT_PAYABLE and len(ERRORS[name]) != len(args):
            raise TypeError(f"{name} takes {ERRORS[name]}, got {args!r}")
        self.name = name
        self.arguments = args
        super().__init__(f"the contract refuses: {name}({', '.join(map(_show, args))})")


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def _bytes32_name(name: str) -> bytes:
    """A field name as the contract's `bytes32` error argument (left-aligned ASCII)."""
    return name.encode().ljust(32, b"\x00")


#: Events of `IFLChainV2`: name → argument names, in order.
EVENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "Genesis": ("deployment",),
    "Registered": ("node", "index", "bond", "fromRound"),
    "BondAdded": ("node", "amount", "bond", "fromRound"),
    "ExitRequested": ("node", "fromRound", "withdrawableAt"),
    "Withdrawn": ("node", "amount"),
    "Collected": ("node", "amount"),
    "RoundOpened": ("round", "reserved", "totalStake"),
    "Committed": ("round", "node", "commitment"),
    "Revealed": (
        "round",
        "node",
        "updateDigest",
        "baseDigest",
        "roiBps",
        "salt",
        "outcome",
        "payloadLength",
    ),
    "BeaconPosted": ("round", "beaconRound", "node", "signature"),
    "Attested": (
        "round",
        "node",
        "resultHash",
        "weight",
        "mergedDigest",
        "mergedCid",
        "manifestCid",
        "settlementRoot",
        "roundEarned",
    ),
    "Finalized": ("round", "resultHash", "tally", "totalStake"),
    "Settled": ("node", "round", "cumEarned", "cumPenalties", "slashed"),
    "Slashed": ("node", "round", "fault", "amount", "bounty", "beneficiary"),
    "PoolFunded": ("from", "amount"),
    "RulesScheduled": ("effectiveRound", "version", "rules"),
    "RulesCancelled": ("version",),
    "GovernanceTransferStarted": ("governor", "pendingGovernor"),
    "GovernanceTransferred": ("previousGovernor", "newGovernor"),
    "Paused": ("from", "until"),
    "Unpaused": (),
    "ForwardPosted": ("round", "windowHash", "poster", "length"),
    "ForwardVoted": ("round", "node", "windowHash", "weight"),
    "ForwardAccepted": ("round", "windowHash", "tally"),
}


@dataclass(frozen=True)
class Event:
    """An emitted event: its ABI name and arguments (by ABI name, in declaration order)."""

    name: str
    args: tuple[tuple[str, Any], ...]

    def __getitem__(self, key: str) -> Any:
        for k, v in self.args:
            if k == key:
                return v
        raise KeyError(key)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.args)


def _event(name: str, *values: Any) -> Event:
    names = EVENTS[name]
    if len(names) != len(values):
        raise TypeError(f"event {name} takes {names}, got {len(values)} values")
    return Event(name, tuple(zip(names, values, strict=True)))


@dataclass(frozen=True)
class Transfer:
    """A native transfer out of the contract."""

    to: str
    amount: int
    kind: str  # "withdraw", "bounty", "collect"


# ---------------------------------------------------------------- state


@dataclass
class Checkpoint:
    """A two-value stake checkpoint (§3): `value` from `from_round` on, `previous` before."""

    from_round: int = 0
    value: int = 0
    previous: int = 0

    def at(self, round: int) -> int:
        return self.value if round >= self.from_round else self.previous

    def write(self, from_round: int, value: int) -> None:
        """Set the value for rounds ≥ `from_round`; the round before keeps what it had."""
        if from_round != self.from_round:
            self.previous = self.at(from_round - 1)
            self.from_round = from_round
        self.value = value


@dataclass
class NodeState:
    """What the contract stores per node (`nodeView` shows it)."""

    index: int
    status: Status = Status.ACTIVE
    bond: int = 0
    stake: Checkpoint = field(default_factory=Checkpoint)
    accepted_reveals: int = 0
    last_accepted_round: int = 0  # round + 1 of the latest Accepted reveal, 0 = never
    unrevealed: int = 0  # commitments neither revealed nor slashed
    last_participated_round: int = 0  # round + 1 of the latest commit or attest, 0 = never
    settled_round: int = 0  # round + 1 of the final root last applied, 0 = never
    cum_earned: int = 0
    cum_penalties: int = 0
    penalties_applied: int = 0
    merged_rounds: int = 0
    last_penalty_round: int = 0
    score_bps: int = 0
    claimed: int = 0
    last_attested_round: int = 0
    last_vote_round: int = 0  # round + 1 of the vote not yet settled, 0 = none
    last_vote_hash: bytes = dg.ZERO32
    withdrawable_at: int = 0


@dataclass
class Slot:
    """A (round, node) commitment slot."""

    state: CommitState = CommitState.NONE
    commitment: bytes = dg.ZERO32
    outcome: RevealOutcome = RevealOutcome.ACCEPTED


@dataclass
class RoundState:
    """What the contract stores per round."""

    opened: bool = False
    reserved: int = 0
    final_result: bytes = dg.ZERO32
    accumulator: bytes = dg.EMPTY_ACCUMULATOR
    reveals: int = 0
    attestations: int = 0
    others: int = 0
    slots: dict[str, Slot] = field(default_factory=dict)
    tallies: dict[bytes, int] = field(default_factory=dict)
    beacon_posted: set[str] = field(default_factory=set)


@dataclass
class State:
    """The contract's storage, its native balance and its transfers out.

    `rejecting` is not contract state but a fact of the world the machine needs: the addresses
    whose code reverts on receiving ether (a transfer to them fails)."""

    chain_id: int
    contract: str
    deployment: Deployment
    rules: list[RulesV2]
    governor: str
    latest: Latest
    pending_governor: str = ZERO_ADDRESS
    pause_from: int = 0
    pause_until: int = 0
    nodes: dict[str, NodeState] = field(default_factory=dict)
    node_at: list[str] = field(default_factory=list)
    total_stake: Checkpoint = field(default_factory=Checkpoint)
    rounds: dict[int, RoundState] = field(default_factory=dict)
    bonds: int = 0
    pool: int = 0
    reserved: int = 0
    claimable: int = 0
    balance: int = 0
    transfers: list[Transfer] = field(default_factory=list)
    rejecting: set[str] = field(default_factory=set)
    # forward scoring (§15.2): windows posted, tallies and the accepted window, by window round
    forward_posted: set[tuple[int, bytes]] = field(default_factory=set)
    forward_tallies: dict[tuple[int, bytes], int] = field(default_factory=dict)
    forward_window: dict[int, bytes] = field(default_factory=dict)


# ---------------------------------------------------------------- helpers (pure)


def _non_payable(tx: Tx) -> None:
    if tx.value:
        raise ProtocolError(NOT_PAYABLE)


def _round(state: State, round: int) -> RoundState:
    """Round storage for reading (a default for a round never written; never inserted)."""
    return state.rounds.get(round) or RoundState()


def _round_mut(state: State, round: int) -> RoundState:
    return state.rounds.setdefault(round, RoundState())


def _node(state: State, address: str) -> NodeState | None:
    return state.nodes.get(to_checksum_address(address))


def _in_window(state: State, round: int, ts: int, phase: Phase) -> bool:
    current, at = state.deployment.phase_at(ts)
    return at == phase and current == round


def _stake(state: State, address: str, round: int) -> int:
    node = _node(state, address)
    return node.stake.at(round) if node is not None else 0


def _paused(state: State, round: int) -> bool:
    """Round `round` starts inside the pause window (§10)."""
    start = state.deployment.start(round)
    return state.pause_from <= start < state.pause_until


def round_decided(state: State, round: int, ts: int) -> bool:
    """Round `round` is final, or past its deadline (skipped)."""
    return _round(state, round).final_result != dg.ZERO32 or ts >= state.deployment.deadline(round)


def compute_lags(
    last_participated_round: int, settled_round: int, latest_round_plus_one: int, current: int
) -> bool:
    """§8 lag rule: the node took part in a round p of an earlier round than `current` (the
    one in progress) with settledRound < p ≤ latestFinalRound (all as round + 1). The latest
    participation stands for every earlier one: each was checked when the next was made."""
    p = last_participated_round
    return p != 0 and p - 1 < current and settled_round < p <= latest_round_plus_one


def node_lags(state: State, node: NodeState, ts: int) -> bool:
    """`compute_lags` of `node` at time `ts`."""
    return compute_lags(
        node.last_participated_round,
        node.settled_round,
        state.latest.round_plus_one,
        state.deployment.round_at(ts),
    )


def _parse_cid(cid: bytes) -> tuple[int, bytes]:
    """(codec, digest) of a 36-byte CIDv1 sha2-256, raw or dag-pb; else `InvalidCid`."""
    if len(cid) != 36 or cid[0] != 0x01 or cid[2:4] != b"\x12\x20":
        raise ProtocolError("InvalidCid")
    if cid[1] not in (CODEC_RAW, CODEC_DAG_PB):
        raise ProtocolError("InvalidCid")
    return cid[1], cid[4:]


def get_rules_for_round(state: State, round: int) -> RulesV2:
    """The rules frozen for `round`: the last version with effectiveRound ≤ round."""
    index = bisect.bisect_right([v.effective_round for v in state.rules], round) - 1
    return state.rules[index]


def _eligible(node: NodeState, round: int, rules: RulesV2) -> bool:
    """§9, from the node's settled record."""
    last = node.last_penalty_round
    if last != 0 and round <= last - 1 + rules.penalty_cooldown_rounds:
        return False
    if node.merged_rounds < rules.probation_rounds:
        return True
    return node.score_bps >= rules.eligibility_min_score_bps


def check_rules(rules: RulesV2, deployment: Deployment) -> None:
    """The bounds of §2.2, field by field in declaration order: `RuleOutOfBounds(field)` at the
    first violated one."""

    def bound(ok: bool, name: str) -> None:
        if not ok:
            raise ProtocolError("RuleOutOfBounds", _bytes32_name(name))

    r = rules
    bound(MIN_ROI_MIN_BPS <= r.roi_min_bps <= r.roi_max_bps, "roiMinBps")
    bound(r.roi_max_bps <= MAX_ROI_MAX_BPS, "roiMaxBps")
    bound(
        abs(r.eligibility_min_score_bps) <= MAX_ABS_ELIGIBILITY_MIN_SCORE_BPS,
        "eligibilityMinScoreBps",
    )
    bound(r.probation_rounds <= MAX_PROBATION_ROUNDS, "probationRounds")
    bound(r.penalty_cooldown_rounds <= MAX_PENALTY_COOLDOWN_ROUNDS, "penaltyCooldownRounds")
    bound(r.max_participants >= 1, "maxParticipants")
    bound(deployment.min_notice_rounds <= r.notice_rounds <= MAX_NOTICE_ROUNDS, "noticeRounds")
    bound(FINALITY_PPM_ABOVE < r.finality_ppm <= MAX_FINALITY_PPM, "finalityPpm")
    bound(1 <= r.max_payload_bytes <= MAX_PAYLOAD_BYTES, "maxPayloadBytes")
    bound(r.similarity_threshold_ppm <= MAX_SIMILARITY_THRESHOLD_PPM, "similarityThresholdPpm")
    bound(1 <= r.cluster_cap_ppm <= MAX_CLUSTER_CAP_PPM, "clusterCapPpm")
    bound(r.similarity_metric <= MAX_SIMILARITY_METRIC, "similarityMetric")
    bound(r.aggregation <= MAX_AGGREGATION, "aggregation")
    bound(r.trim_ppm <= MAX_TRIM_PPM, "trimPpm")
    bound(r.roi_tolerance_bps <= MAX_ROI_TOLERANCE_BPS, "roiToleranceBps")
    bound(r.fee_ppm <= MAX_FEE_PPM, "feePpm")
    bound(r.bounty_ppm <= MAX_BOUNTY_PPM, "bountyPpm")
    # The per-node, per-round slash cap (§11): a round's worst case is one of no-reveal or
    # penalty, plus one wrong vote.
    bound(r.no_reveal_slash_wei + r.wrong_vote_slash_wei <= deployment.min_bond, "noRevealSlashWei")
    bound(r.penalty_slash_wei + r.wrong_vote_slash_wei <= deployment.min_bond, "penaltySlashWei")
    # forward scoring (§15.1)
    d = deployment
    bound(r.forward_bars <= fw.MAX_FORWARD_BARS, "forwardBars")
    bound(r.forward_margin_seconds <= fw.MAX_FORWARD_MARGIN_SECONDS, "forwardMarginSeconds")
    # with forward scoring off (forwardBars = 0) a lag and a trail of 0 are fine: an all-zero
    # forward part of a rules version is valid, so versions written before it existed are
    on = r.forward_bars > 0
    fits = fw.lag_fits(
        d.commit_window, d.reveal_window, d.round_length, r.forward_margin_seconds,
        r.forward_bars, r.forward_lag_rounds,
    )  # fmt: skip
    lag_ok = r.forward_lag_rounds <= fw.MAX_FORWARD_LAG_ROUNDS and (
        not on or (r.forward_lag_rounds >= 1 and fits)
    )
    bound(lag_ok, "forwardLagRounds")
    trail_ok = r.forward_trail_rounds <= fw.MAX_FORWARD_TRAIL_ROUNDS and (
        not on or r.forward_trail_rounds >= 1
    )
    bound(trail_ok, "forwardTrailRounds")
    bound(r.forward_noise_z_ppm <= fw.MAX_FORWARD_NOISE_Z_PPM, "forwardNoiseZPpm")
    bound(r.forward_noise_floor_bps <= fw.MAX_FORWARD_NOISE_FLOOR_BPS, "forwardNoiseFloorBps")
    bound(r.norm_bound_rel_ppm <= fw.MAX_NORM_BOUND_REL_PPM, "normBoundRelPpm")


def check_deployment(deployment: Deployment) -> None:
    """§1 and §2.1: `InvalidDeployment(field)`, `InvalidCid` or `CidDigestMismatch`."""

    def valid(ok: bool, name: str) -> None:
        if not ok:
            raise ProtocolError("InvalidDeployment", _bytes32_name(name))

    d = deployment
    valid(d.commit_window > 0, "commitWindow")
    valid(d.reveal_window > 0, "revealWindow")
    valid(d.beacon_window > 0, "beaconWindow")
    valid(d.commit_window + d.reveal_window + d.beacon_window < d.round_length, "roundLength")
    # A new pause may only start a cooldown after the previous one ended; a round no longer
    # than the cooldown therefore never started inside an earlier pause than the stored one.
    valid(d.round_length <= PAUSE_COOLDOWN, "roundLength")
    valid(d.exit_delay >= 2 * d.round_length, "exitDelay")
    valid(1 <= d.min_notice_rounds <= MAX_NOTICE_ROUNDS, "minNoticeRounds")
    valid(d.min_bond > 0, "minBond")
    valid(d.genesis_digest != dg.ZERO32, "genesisDigest")
    valid(d.beacon_period > 0, "beaconPeriod")
    valid(d.beacon_window >= d.beacon_delay + d.beacon_period, "beaconWindow")
    valid(d.beacon_genesis <= d.reveal_end(0) + d.beacon_delay, "beaconGenesis")
    valid(len(d.beacon_public_key) == PUBLIC_KEY_BYTES, "beaconPublicKey")
    no_source = d.source_chain_id == 0 and d.source_contract == ZERO_ADDRESS and d.source_round == 0
    valid(no_source or (d.source_chain_id != 0 and d.source_contract != ZERO_ADDRESS), "source")
    codec, digest = _parse_cid(d.genesis_cid)
    if codec == CODEC_RAW and digest != d.genesis_digest:
        raise ProtocolError("CidDigestMismatch")


# ---------------------------------------------------------------- shared effects


def _restake(state: State, address: str, node: NodeState, ts: int) -> int:
    """Recompute the node's stake from `effective(ts)` on (its bond if Active and ≥ minBond,
    else 0), keeping the total in step; returns that round."""
    from_round = state.deployment.effective_round(ts)
    active = node.status == Status.ACTIVE and node.bond >= state.deployment.min_bond
    new = node.bond if active else 0
    old = node.stake.at(from_round)
    state.total_stake.write(from_round, state.total_stake.at(from_round) + new - old)
    node.stake.write(from_round, new)
    return from_round


def _slash(
    state: State,
    address: str,
    node: NodeState,
    round: int,
    fault: Fault,
    wanted: int,
    beneficiary: str,
    ts: int,
    events: list[Event],
) -> tuple[int, int]:
    """Take up to `wanted` from the bond: `bountyPpm` of it (rules of `round`) to a third-party
    `beneficiary`, the rest to the pool. Returns (amount, bounty); the bounty is paid by the
    caller after every effect."""
    amount = min(wanted, node.bond)
    bounty = 0
    if beneficiary != address:
        bounty = amount * get_rules_for_round(state, round).bounty_ppm // PPM
    node.bond -= amount
    state.bonds -= amount
    state.pool += amount - bounty
    _restake(state, address, node, ts)
    events.append(_event("Slashed", address, round, fault, amount, bounty, beneficiary))
    return amount, bounty


def _wrong_vote_due(state: State, node: NodeState, ts: int) -> tuple[int, bool] | None:
    """The node's pending vote, if its round is decided: (round, whether it is slashable)."""
    if node.last_vote_round == 0:
        return None
    round = node.last_vote_round - 1
    if not round_decided(state, round, ts):
        return None
    final = _round(state, round).final_result
    return round, final != dg.ZERO32 and final != node.last_vote_hash


def _planned_slashes(
    state: State,
    address: str,
    node: NodeState,
    beneficiary: str,
    ts: int,
    penalty_round: int | None,
) -> tuple[int, int]:
    """(wei taken, bounty owed to `beneficiary`) by the slashes a call is about to apply: the
    pending wrong vote if due, then a penalty under the rules of `penalty_round` (None: none).
    The check phase uses it to refuse a bounty the sender cannot receive before any effect."""
    bond, taken, bounty = node.bond, 0, 0
    due = _wrong_vote_due(state, node, ts)
    charges: list[tuple[RulesV2, int]] = []
    if due is not None and due[1]:
        rules = get_rules_for_round(state, due[0])
        charges.append((rules, rules.wrong_vote_slash_wei))
    if penalty_round is not None:
        rules = get_rules_for_round(state, penalty_round)
        charges.append((rules, rules.penalty_slash_wei))
    for rules, wanted in charges:
        amount = min(wanted, bond)
        bond -= amount
        taken += amount
        if beneficiary != address:
            bounty += amount * rules.bounty_ppm // PPM
    return taken, bounty


def _settle_vote(
    state: State, address: str, node: NodeState, beneficiary: str, ts: int, events: list[Event]
) -> int:
    """§11 lazy wrong-vote slash: once the voted round is decided the vote is cleared, and
    slashed if that round has a final result other than the vote. Returns the bounty due."""
    due = _wrong_vote_due(state, node, ts)
    if due is None:
        return 0
    round, wrong = due
    node.last_vote_round = 0
    node.last_vote_hash = dg.ZERO32
    if not wrong:
        return 0
    wanted = get_rules_for_round(state, round).wrong_vote_slash_wei
    _, bounty = _slash(
        state, address, node, round, Fault.WRONG_VOTE, wanted, beneficiary, ts, events
    )
    return bounty


def _pay(state: State, to: str, amount: int, kind: str) -> None:
    """A transfer that must succeed (the check phase made sure `to` accepts ether)."""
    if amount == 0:
        return
    assert to not in state.rejecting, "checked before any effect"
    state.balance -= amount
    state.transfers.append(Transfer(to, amount, kind))


def _require_accepts(state: State, to: str, amount: int) -> None:
    """`TransferFailed` if a transfer of `amount` to `to` would revert (withdraw, collect,
    bounty: the recipient is the caller, who can fix it)."""
    if amount > 0 and to in state.rejecting:
        raise ProtocolError("TransferFailed")


def _accumulate(state: State, round: int, entry: bytes) -> RoundState:
    rs = _round_mut(state, round)
    rs.accumulator = dg.accumulate(rs.accumulator, entry)
    return rs


# ---------------------------------------------------------------- construction


def initialize_state(
    deployment: Deployment, rules: RulesV2, tx: Tx, chain_id: int, contract: str
) -> tuple[State, list[Event]]:
    """The constructor. Checks: `check_deployment`; the rules' `effectiveRound` is 0
    (`RulesOutOfOrder(effectiveRound, 0)`); `check_rules`. The sender becomes the governor.
    Events: GovernanceTransferred(0, sender), Genesis(deployment), RulesScheduled(0, 0, rules)."""
    _non_payable(tx)
    check_deployment(deployment)
    if rules.effective_round != 0:
        raise ProtocolError("RulesOutOfOrder", rules.effective_round, 0)
    check_rules(rules, deployment)
    latest = Latest(0, deployment.genesis_digest, deployment.genesis_cid, b"", dg.ZERO32)
    state = State(
        chain_id=chain_id,
        contract=to_checksum_address(contract),
        deployment=deployment,
        rules=[rules],
        governor=tx.sender,
        latest=latest,
    )
    events = [
        _event("GovernanceTransferred", ZERO_ADDRESS, tx.sender),
        _event("Genesis", deployment),
        _event("RulesScheduled", 0, 0, rules),
    ]
    return state, events


# ---------------------------------------------------------------- identity (§3)


def process_register(state: State, tx: Tx) -> list[Event]:
    """`register()` payable. Checks: `WalletRetired(sender)` (withdrawn),
    `AlreadyRegistered(sender)`, `BondTooSmall(value, minBond)`, `RegistryFull()`.
    Effects: Active, the next index, bond = value, stake from effective(now).
    Events: Registered(node, index, bond, fromRound)."""
    d = state.deployment
    node = state.nodes.get(tx.sender)
    if node is not None and node.status == Status.WITHDRAWN:
        raise ProtocolError("WalletRetired", tx.sender)
    if node is not None:
        raise ProtocolError("AlreadyRegistered", tx.sender)
    if tx.value < d.min_bond:
        raise ProtocolError("BondTooSmall", tx.value, d.min_bond)
    if len(state.node_at) >= MAX_NODES:
        raise ProtocolError("RegistryFull")
    state.balance += tx.value
    node = NodeState(index=len(state.node_at), bond=tx.value)
    state.nodes[tx.sender] = node
    state.node_at.append(tx.sender)
    state.bonds += tx.value
    from_round = _restake(state, tx.sender, node, tx.timestamp)
    return [_event("Registered", tx.sender, node.index, node.bond, from_round)]


def process_add_bond(state: State, tx: Tx) -> list[Event]:
    """`addBond()` payable. Checks: `NotActive(sender)`. Effects: bond += value, stake from
    effective(now). Events: BondAdded(node, amount, bond, fromRound)."""
    node = state.nodes.get(tx.sender)
    if node is None or node.status != Status.ACTIVE:
        raise ProtocolError("NotActive", tx.sender)
    state.balance += tx.value
    node.bond += tx.value
    state.bonds += tx.value
    from_round = _restake(state, tx.sender, node, tx.timestamp)
    return [_event("BondAdded", tx.sender, tx.value, node.bond, from_round)]


def process_request_exit(state: State, tx: Tx) -> list[Event]:
    """`requestExit()`. Checks: `NotActive(sender)`. Effects: Exiting, stake 0 from
    effective(now), withdrawableAt = now + exitDelay. Events: ExitRequested(node, fromRound,
    withdrawableAt)."""
    _non_payable(tx)
    node = state.nodes.get(tx.sender)
    if node is None or node.status != Status.ACTIVE:
        raise ProtocolError("NotActive", tx.sender)
    node.status = Status.EXITING
    node.withdrawable_at = tx.timestamp + state.deployment.exit_delay
    from_round = _restake(state, tx.sender, node, tx.timestamp)
    return [_event("ExitRequested", tx.sender, from_round, node.withdrawable_at)]


def process_withdraw(state: State, tx: Tx) -> list[Event]:
    """`withdraw()`. Checks: `NotExiting(sender)`; `WithdrawalTooEarly(withdrawableAt)`;
    `RoundUndecided(round)` for the last round it took part in (unreachable while exitDelay ≥
    2·L, kept as a guard); `SettlementPending(node, latestRound)`; `UnrevealedCommitment(count)`;
    `TransferFailed()` if the sender refuses ether. Effects: the pending vote settled (a
    wrong-vote slash, no bounty), Withdrawn, the remaining bond paid.
    Events: [Slashed(WrongVote)], Withdrawn(node, amount)."""
    _non_payable(tx)
    node = state.nodes.get(tx.sender)
    if node is None or node.status != Status.EXITING:
        raise ProtocolError("NotExiting", tx.sender)
    if tx.timestamp < node.withdrawable_at:
        raise ProtocolError("WithdrawalTooEarly", node.withdrawable_at)
    last = node.last_participated_round
    if last != 0 and not round_decided(state, last - 1, tx.timestamp):
        raise ProtocolError("RoundUndecided", last - 1)
    if node_lags(state, node, tx.timestamp):
        raise ProtocolError("SettlementPending", tx.sender, state.latest.round_plus_one - 1)
    if node.unrevealed:
        raise ProtocolError("UnrevealedCommitment", node.unrevealed)
    taken, _ = _planned_slashes(state, tx.sender, node, tx.sender, tx.timestamp, None)
    _require_accepts(state, tx.sender, node.bond - taken)
    events: list[Event] = []
    _settle_vote(state, tx.sender, node, tx.sender, tx.timestamp, events)
    amount = node.bond
    node.status = Status.WITHDRAWN
    node.bond = 0
    state.bonds -= amount
    events.append(_event("Withdrawn", tx.sender, amount))
    _pay(state, tx.sender, amount, "withdraw")
    return events


def get_collectable(state: State, address: str) -> int:
    """What collect would pay `address` now: min(cumEarned − claimed, claimable) (§8)."""
    node = state.nodes.get(address)
    return 0 if node is None else min(node.cum_earned - node.claimed, state.claimable)


def process_collect(state: State, tx: Tx) -> list[Event]:
    """`collect()`, pays the sender only. Checks: `NothingOwed()` when `get_collectable` is 0;
    `TransferFailed()` if the sender refuses ether. Effects: claimed += amount, claimable −=
    amount. Events: Collected(node, amount)."""
    _non_payable(tx)
    amount = get_collectable(state, tx.sender)
    if amount == 0:
        raise ProtocolError("NothingOwed")
    _require_accepts(state, tx.sender, amount)
    node = state.nodes[tx.sender]
    node.claimed += amount
    state.claimable -= amount
    events = [_event("Collected", tx.sender, amount)]
    _pay(state, tx.sender, amount, "collect")
    return events


def process_fund_pool(state: State, tx: Tx) -> list[Event]:
    """`fundPool()` payable, anyone. Effects: pool += value. Events: PoolFunded(from, amount)."""
    state.balance += tx.value
    state.pool += tx.value
    return [_event("PoolFunded", tx.sender, tx.value)]


# ---------------------------------------------------------------- a round (§4–§7)


def process_open_round(state: State, tx: Tx, round: int) -> list[Event]:
    """`openRound(round)`, anyone. Checks: `NotOpenable(round)` unless round is the current one
    and now < revealEnd(round); `RoundPaused(round)`; `RoundAlreadyOpen(round)`. Effects: the
    pending reservation of an earlier (necessarily skipped) round returns to the pool;
    reserved(r) = min(emissionWei(r), pool) moves from the pool. Events: RoundOpened(round,
    reserved, totalStake)."""
    _non_payable(tx)
    d = state.deployment
    ts = tx.timestamp
    if ts < d.t0 or d.round_at(ts) != round or ts >= d.reveal_end(round):
        raise ProtocolError("NotOpenable", round)
    if _paused(state, round):
        raise ProtocolError("RoundPaused", round)
    if _round(state, round).opened:
        raise ProtocolError("RoundAlreadyOpen", round)
    state.pool += state.reserved
    amount = min(get_rules_for_round(state, round).emission_wei, state.pool)
    state.pool -= amount
    state.reserved = amount
    rs = _round_mut(state, round)
    rs.opened = True
    rs.reserved = amount
    return [_event("RoundOpened", round, amount, state.total_stake.at(round))]


def process_commit(state: State, tx: Tx, round: int, commitment: bytes) -> list[Event]:
    """`commit(round, commitment)`. Checks: `NotInCommitWindow(round)`; `RoundPaused(round)`;
    `NotInFrozenSet(round, node)`; `AlreadyCommitted(round, node)`; `CommitmentMismatch(round,
    node)` for a commitment below MIN_COMMITMENT; `SettlementPending(node, latestRound)`.
    Effects: the pending vote settled; the slot holds the commitment; unrevealed += 1;
    lastParticipatedRound = round + 1. Events: [Slashed(WrongVote)], Committed(round, node,
    commitment)."""
    node = _commit_checks(state, tx, round, commitment)
    events: list[Event] = []
    _apply_commit(state, tx, node, round, commitment, events)
    return events


def _commit_checks(state: State, tx: Tx, round: int, commitment: bytes) -> NodeState:
    _non_payable(tx)
    _check_bytes("commitment", commitment, 32)
    if not _in_window(state, round, tx.timestamp, Phase.COMMIT):
        raise ProtocolError("NotInCommitWindow", round)
    if _paused(state, round):
        raise ProtocolError("RoundPaused", round)
    if _stake(state, tx.sender, round) == 0:
        raise ProtocolError("NotInFrozenSet", round, tx.sender)
    node = state.nodes[tx.sender]
    if tx.sender in _round(state, round).slots:
        raise ProtocolError("AlreadyCommitted", round, tx.sender)
    if int.from_bytes(commitment, "big") < MIN_COMMITMENT:
        raise ProtocolError("CommitmentMismatch", round, tx.sender)
    if node_lags(state, node, tx.timestamp):
        raise ProtocolError("SettlementPending", tx.sender, state.latest.round_plus_one - 1)
    return node


def _apply_commit(
    state: State, tx: Tx, node: NodeState, round: int, commitment: bytes, events: list[Event]
) -> None:
    _settle_vote(state, tx.sender, node, tx.sender, tx.timestamp, events)
    _round_mut(state, round).slots[tx.sender] = Slot(CommitState.COMMITTED, commitment)
    node.unrevealed += 1
    node.last_participated_round = round + 1
    events.append(_event("Committed", round, tx.sender, commitment))


def process_reveal(
    state: State,
    tx: Tx,
    round: int,
    payload: bytes,
    base_digest: bytes,
    roi_bps: int,
    salt: bytes,
) -> list[Event]:
    """`reveal(round, payload, baseDigest, roiBps, salt)`. Checks: `NotInRevealWindow(round)`;
    `NoCommitment(round, node)`; `AlreadyRevealed(round, node)`; `PayloadTooLarge(length,
    maxPayloadBytes(round))`; `CommitmentMismatch(round, node)` with updateDigest =
    sha256(payload). Effects: the outcome (first that applies: RejectedStaleBase,
    RejectedAbnormalRoi, RejectedIneligible, Accepted) recorded in the slot; unrevealed −= 1; on
    Accepted acceptedReveals += 1 and lastAcceptedRound = round + 1; the accumulator. Events:
    Revealed(...). A byte-for-byte copy is Accepted: the merge penalises an update whose
    metadata binds another reveal, so the chain keeps no seen-mark per digest."""
    _non_payable(tx)
    _check_bytes("payload", payload)
    _check_bytes("base_digest", base_digest, 32)
    _check_int("roi_bps", roi_bps, 32)
    _check_bytes("salt", salt, 32)
    if not _in_window(state, round, tx.timestamp, Phase.REVEAL):
        raise ProtocolError("NotInRevealWindow", round)
    slot = _round(state, round).slots.get(tx.sender)
    if slot is None:
        raise ProtocolError("NoCommitment", round, tx.sender)
    if slot.state != CommitState.COMMITTED:
        raise ProtocolError("AlreadyRevealed", round, tx.sender)
    rules = get_rules_for_round(state, round)
    if len(payload) > rules.max_payload_bytes:
        raise ProtocolError("PayloadTooLarge", len(payload), rules.max_payload_bytes)
    update_digest = dg.sha256(payload)
    expected = dg.commitment_hash_v2(
        state.chain_id, state.contract, round, tx.sender, update_digest, base_digest, roi_bps, salt
    )
    if expected != slot.commitment:
        raise ProtocolError("CommitmentMismatch", round, tx.sender)
    node = state.nodes[tx.sender]
    # During r's reveal window the latest final model is r's base: finalize(r−1) closed at S(r)
    # and finalize(r) opens only at attestOpen(r).
    if base_digest != state.latest.merged_digest:
        outcome = RevealOutcome.REJECTED_STALE_BASE
    elif not rules.roi_min_bps <= roi_bps <= rules.roi_max_bps:
        outcome = RevealOutcome.REJECTED_ABNORMAL_ROI
    elif not _eligible(node, round, rules):
        outcome = RevealOutcome.REJECTED_INELIGIBLE
    else:
        outcome = RevealOutcome.ACCEPTED
    slot.state = CommitState.REVEALED
    slot.outcome = outcome
    node.unrevealed -= 1
    if outcome == RevealOutcome.ACCEPTED:
        node.accepted_reveals += 1
        node.last_accepted_round = round + 1
    entry = dg.revealed_entry(
        tx.sender, update_digest, base_digest, roi_bps, salt, outcome, len(payload)
    )
    _accumulate(state, round, entry).reveals += 1
    return [
        _event(
            "Revealed",
            round,
            tx.sender,
            update_digest,
            base_digest,
            roi_bps,
            salt,
            outcome,
            len(payload),
        )
    ]


def process_post_beacon(state: State, tx: Tx, round: int, signature: bytes) -> list[Event]:
    """`postBeacon(round, signature)`. Checks: `NotInBeaconWindow(round)`; `NotInFrozenSet(round,
    node)`; `BeaconAlreadyPosted(round, node)`; `InvalidBeaconSignature(length)` unless 96 bytes
    (BLS is verified by the merge, not here). Effects: the post recorded; the accumulator.
    Events: BeaconPosted(round, D(round), node, signature)."""
    _non_payable(tx)
    _check_bytes("signature", signature)
    if not _in_window(state, round, tx.timestamp, Phase.BEACON):
        raise ProtocolError("NotInBeaconWindow", round)
    if _stake(state, tx.sender, round) == 0:
        raise ProtocolError("NotInFrozenSet", round, tx.sender)
    if tx.sender in _round(state, round).beacon_posted:
        raise ProtocolError("BeaconAlreadyPosted", round, tx.sender)
    if len(signature) != SIGNATURE_BYTES:
        raise ProtocolError("InvalidBeaconSignature", len(signature))
    rs = _accumulate(state, round, dg.beacon_entry(tx.sender, signature))
    rs.beacon_posted.add(tx.sender)
    rs.others += 1
    return [
        _event("BeaconPosted", round, beacon_round(state.deployment, round), tx.sender, signature)
    ]


def process_attest(state: State, tx: Tx, round: int, result: Result) -> list[Event]:
    """`attest(round, result)`. Checks: `NotInAttestWindow(round)`; `NotInFrozenSet(round,
    node)`; `AlreadyAttested(round, node)`; `SettlementPending(node, latestRound)`;
    `InvalidCid()` (mergedCid); `CidDigestMismatch()` (a raw mergedCid not carrying
    mergedDigest); `InvalidCid()` (manifestCid). Effects: the pending vote settled; the stake
    of the round added to the result's tally; the vote recorded (lastAttestedRound,
    lastParticipatedRound, lastVoteRound = round + 1, lastVoteHash); the accumulator.
    Events: [Slashed(WrongVote)], Attested(...)."""
    _non_payable(tx)
    if not _in_window(state, round, tx.timestamp, Phase.ATTEST):
        raise ProtocolError("NotInAttestWindow", round)
    weight = _stake(state, tx.sender, round)
    if weight == 0:
        raise ProtocolError("NotInFrozenSet", round, tx.sender)
    node = state.nodes[tx.sender]
    if node.last_attested_round == round + 1:
        raise ProtocolError("AlreadyAttested", round, tx.sender)
    if node_lags(state, node, tx.timestamp):
        raise ProtocolError("SettlementPending", tx.sender, state.latest.round_plus_one - 1)
    codec, digest = _parse_cid(result.merged_cid)
    if codec == CODEC_RAW and digest != result.merged_digest:
        raise ProtocolError("CidDigestMismatch")
    _parse_cid(result.manifest_cid)
    events: list[Event] = []
    _settle_vote(state, tx.sender, node, tx.sender, tx.timestamp, events)
    result_hash = result.hash(state.chain_id, state.contract, round)
    rs = _accumulate(state, round, dg.attested_entry(tx.sender, result_hash, weight))
    rs.tallies[result_hash] = rs.tallies.get(result_hash, 0) + weight
    rs.attestations += 1
    node.last_attested_round = round + 1
    node.last_participated_round = round + 1
    node.last_vote_round = round + 1
    node.last_vote_hash = result_hash
    events.append(
        _event(
            "Attested",
            round,
            tx.sender,
            result_hash,
            weight,
            result.merged_digest,
            result.merged_cid,
            result.manifest_cid,
            result.settlement_root,
            result.round_earned,
        )
    )
    return events


def finality_needed(total_stake: int, finality_ppm: int) -> int:
    """The least tally that is final: ⌈q · totalStake / 10⁶⌉, at least 1 (§7)."""
    return max(1, -(-finality_ppm * total_stake // PPM))


def process_finalize(state: State, tx: Tx, round: int, result: Result) -> list[Event]:
    """`finalize(round, result)`, anyone. Checks: `NotInAttestWindow(round)`; `AlreadyFinal(round)`;
    `BelowFinality(tally, needed)`; `OverBudget(roundEarned, reserved(round))`. Effects: the
    round's final result; the latest final model; reserved − roundEarned back to the pool and
    roundEarned to claimable; the accumulator. Events: Finalized(round, resultHash, tally,
    totalStake)."""
    _non_payable(tx)
    if not _in_window(state, round, tx.timestamp, Phase.ATTEST):
        raise ProtocolError("NotInAttestWindow", round)
    rs_read = _round(state, round)
    if rs_read.final_result != dg.ZERO32:
        raise ProtocolError("AlreadyFinal", round)
    result_hash = result.hash(state.chain_id, state.contract, round)
    tally = rs_read.tallies.get(result_hash, 0)
    total = state.total_stake.at(round)
    needed = finality_needed(total, get_rules_for_round(state, round).finality_ppm)
    if tally < needed:
        raise ProtocolError("BelowFinality", tally, needed)
    if result.round_earned > rs_read.reserved:
        raise ProtocolError("OverBudget", result.round_earned, rs_read.reserved)
    rs = _accumulate(state, round, dg.finalized_entry(result_hash, tally, total))
    rs.final_result = result_hash
    rs.others += 1
    state.latest = Latest(
        round + 1,
        result.merged_digest,
        result.merged_cid,
        result.manifest_cid,
        result.settlement_root,
    )
    state.reserved -= rs.reserved
    state.pool += rs.reserved - result.round_earned
    state.claimable += result.round_earned
    return [_event("Finalized", round, result_hash, tally, total)]


def process_settle(state: State, tx: Tx, leaf: Leaf, proof: Sequence[bytes]) -> list[Event]:
    """`settle(leaf, proof)`, anyone, against the latest final root. Checks:
    `AlreadySettled(leaf.node)` (settledRound ≥ latest round + 1, so also when nothing is final);
    `InvalidProof()` (the index is not leaf.node's, or the proof fails); `LeafRegressed(node)`;
    `TransferFailed()` if a bounty is due to a sender that refuses ether. Effects, in order: the
    pending vote settled; at most one new penalty slashed, and only if the node's latest
    Accepted reveal is in a round the root covers and no earlier applied root did
    (settledRound < lastAcceptedRound ≤ latest round + 1); the record stored; settledRound =
    latest round + 1; bounties paid to the sender. No reward is paid: leaf.node collects what
    it earned with `collect` (§8). Events: [Slashed(WrongVote)], [Slashed(Penalty)],
    Settled(...)."""
    _non_payable(tx)
    latest = state.latest.round_plus_one
    node = state.nodes.get(leaf.node)
    if node is None or node.settled_round >= latest:
        raise ProtocolError("AlreadySettled", leaf.node)
    if (
        leaf.index >= len(state.node_at)
        or state.node_at[leaf.index] != leaf.node
        or len(proof) != TREE_DEPTH
        or not verify_proof(
            state.latest.settlement_root,
            leaf.index,
            leaf.hash(state.chain_id, state.contract),
            proof,
        )
    ):
        raise ProtocolError("InvalidProof")
    if leaf.cum_earned < node.cum_earned or leaf.cum_penalties < node.cum_penalties:
        raise ProtocolError("LeafRegressed", leaf.node)
    latest_round = latest - 1
    ts = tx.timestamp
    penalty_due = (
        leaf.cum_penalties > node.cum_penalties
        and node.settled_round < node.last_accepted_round <= latest
    )
    _, bounty = _planned_slashes(
        state, leaf.node, node, tx.sender, ts, latest_round if penalty_due else None
    )
    _require_accepts(state, tx.sender, bounty)
    events: list[Event] = []
    bounty = _settle_vote(state, leaf.node, node, tx.sender, ts, events)
    slashed = 0
    if penalty_due:
        wanted = get_rules_for_round(state, latest_round).penalty_slash_wei
        slashed, penalty_bounty = _slash(
            state, leaf.node, node, latest_round, Fault.PENALTY, wanted, tx.sender, ts, events
        )
        bounty += penalty_bounty
        node.penalties_applied += 1
    node.cum_earned = leaf.cum_earned
    node.cum_penalties = leaf.cum_penalties
    node.merged_rounds = leaf.merged_rounds
    node.last_penalty_round = leaf.last_penalty_round
    node.score_bps = leaf.score_bps
    node.settled_round = latest
    events.append(
        _event("Settled", leaf.node, latest_round, leaf.cum_earned, leaf.cum_penalties, slashed)
    )
    _pay(state, tx.sender, bounty, "bounty")
    return events


def process_slash_no_reveal(state: State, tx: Tx, round: int, node_address: str) -> list[Event]:
    """`slashNoReveal(round, node)`, anyone. Checks: `NotSlashable(round, node)` unless now ≥
    revealEnd(round) and the slot holds an unrevealed commitment; `TransferFailed()` if a
    bounty is due to a sender that refuses ether. Effects: the slot Slashed; unrevealed −= 1;
    noRevealSlashWei(round) taken (bounty to a third-party sender); the accumulator of `round`.
    Events: Slashed(node, round, NoReveal, amount, bounty, beneficiary)."""
    _non_payable(tx)
    address = to_checksum_address(node_address)
    slot = _round(state, round).slots.get(address)
    if (
        tx.timestamp < state.deployment.reveal_end(round)
        or slot is None
        or slot.state != CommitState.COMMITTED
    ):
        raise ProtocolError("NotSlashable", round, address)
    node = state.nodes[address]
    rules = get_rules_for_round(state, round)
    if tx.sender != address:
        _require_accepts(
            state, tx.sender, min(rules.no_reveal_slash_wei, node.bond) * rules.bounty_ppm // PPM
        )
    events: list[Event] = []
    amount, bounty = _slash(
        state,
        address,
        node,
        round,
        Fault.NO_REVEAL,
        rules.no_reveal_slash_wei,
        tx.sender,
        tx.timestamp,
        events,
    )
    slot.state = CommitState.SLASHED
    node.unrevealed -= 1
    _accumulate(state, round, dg.no_reveal_entry(address, amount, bounty, tx.sender)).others += 1
    _pay(state, tx.sender, bounty, "bounty")
    return events


# ---------------------------------------------------------------- governance (§10)


def _only_governor(state: State, tx: Tx) -> None:
    _non_payable(tx)
    if tx.sender != state.governor:
        raise ProtocolError("NotGovernor", tx.sender)


def _notice_earliest(state: State, ts: int) -> int:
    """The earliest round a change made at `ts` may take effect: effective(now) + the notice of
    the rules in force now (a change of the notice itself waits out the current one)."""
    d = state.deployment
    return d.effective_round(ts) + get_rules_for_round(state, d.round_at(ts)).notice_rounds


def process_schedule_rules(state: State, tx: Tx, rules: RulesV2) -> list[Event]:
    """`scheduleRules(rules)`, governor. Checks: `NotGovernor(sender)`;
    `NoticeTooShort(effectiveRound, earliest)`; `RulesOutOfOrder(effectiveRound, lastScheduled)`
    unless strictly after the last version; `check_rules`. Effects: a new version.
    Events: RulesScheduled(effectiveRound, version, rules)."""
    _only_governor(state, tx)
    earliest = _notice_earliest(state, tx.timestamp)
    if rules.effective_round < earliest:
        raise ProtocolError("NoticeTooShort", rules.effective_round, earliest)
    last = state.rules[-1].effective_round
    if rules.effective_round <= last:
        raise ProtocolError("RulesOutOfOrder", rules.effective_round, last)
    check_rules(rules, state.deployment)
    state.rules.append(rules)
    return [_event("RulesScheduled", rules.effective_round, len(state.rules) - 1, rules)]


def process_cancel_rules(state: State, tx: Tx) -> list[Event]:
    """`cancelRules()`, governor. Checks: `NotGovernor(sender)`; `NothingToCancel()` (only
    version 0); `RulesInEffect(version)` once its round has started; `NoticeTooShort(
    effectiveRound, earliest)` inside the notice period — a cancellation is a change too.
    Effects: the last version removed. Events: RulesCancelled(version)."""
    _only_governor(state, tx)
    if len(state.rules) == 1:
        raise ProtocolError("NothingToCancel")
    version = len(state.rules) - 1
    effective = state.rules[-1].effective_round
    if effective < state.deployment.effective_round(tx.timestamp):
        raise ProtocolError("RulesInEffect", version)
    earliest = _notice_earliest(state, tx.timestamp)
    if effective < earliest:
        raise ProtocolError("NoticeTooShort", effective, earliest)
    state.rules.pop()
    return [_event("RulesCancelled", version)]


def process_transfer_governance(state: State, tx: Tx, pending: str) -> list[Event]:
    """`transferGovernance(pending)`, governor. Checks: `NotGovernor(sender)`; `ZeroAddress()`.
    Effects: the pending governor (replacing any). Events: GovernanceTransferStarted(governor,
    pending)."""
    _only_governor(state, tx)
    pending = to_checksum_address(pending)
    if pending == ZERO_ADDRESS:
        raise ProtocolError("ZeroAddress")
    state.pending_governor = pending
    return [_event("GovernanceTransferStarted", state.governor, pending)]


def process_accept_governance(state: State, tx: Tx) -> list[Event]:
    """`acceptGovernance()`. Checks: `NotPendingGovernor(sender)`. Effects: the sender governs;
    no pending governor. Events: GovernanceTransferred(previous, sender)."""
    _non_payable(tx)
    if state.pending_governor == ZERO_ADDRESS or tx.sender != state.pending_governor:
        raise ProtocolError("NotPendingGovernor", tx.sender)
    previous = state.governor
    state.governor = tx.sender
    state.pending_governor = ZERO_ADDRESS
    return [_event("GovernanceTransferred", previous, tx.sender)]


def process_pause(state: State, tx: Tx, duration: int) -> list[Event]:
    """`pause(duration)`, governor. Checks: `NotGovernor(sender)`; `PauseNotAllowed(0)` unless
    0 < duration ≤ MAX_PAUSE; `PauseNotAllowed(until + PAUSE_COOLDOWN)` while paused or within
    the cooldown after the last pause ended. Effects: the window [now, now + duration).
    Events: Paused(from, until)."""
    _only_governor(state, tx)
    _check_uint("duration", duration, 64)
    if not 0 < duration <= MAX_PAUSE:
        raise ProtocolError("PauseNotAllowed", 0)
    if state.pause_until != 0 and tx.timestamp < state.pause_until + PAUSE_COOLDOWN:
        raise ProtocolError("PauseNotAllowed", state.pause_until + PAUSE_COOLDOWN)
    state.pause_from = tx.timestamp
    state.pause_until = tx.timestamp + duration
    return [_event("Paused", state.pause_from, state.pause_until)]


def process_unpause(state: State, tx: Tx) -> list[Event]:
    """`unpause()`, governor. Checks: `NotGovernor(sender)`; `NotPaused()` unless from ≤ now <
    until. Effects: until = now (rounds that started inside the pause stay paused).
    Events: Unpaused()."""
    _only_governor(state, tx)
    if not state.pause_from <= tx.timestamp < state.pause_until:
        raise ProtocolError("NotPaused")
    state.pause_until = tx.timestamp
    return [_event("Unpaused")]


# ---------------------------------------------------------------- views


def get_protocol_version(state: State) -> int:
    return PROTOCOL_VERSION_V2


def get_deployment(state: State) -> Deployment:
    return state.deployment


def get_phase_at(state: State, ts: int) -> tuple[int, Phase]:
    return state.deployment.phase_at(ts)


def get_current_phase(state: State, now: int) -> tuple[int, Phase]:
    return state.deployment.phase_at(now)


def get_beacon_round(state: State, round: int) -> int:
    return beacon_round(state.deployment, round)


def get_rules_version_count(state: State) -> int:
    return len(state.rules)


def get_rules_version(state: State, version: int) -> RulesV2:
    return state.rules[version]


def get_governor(state: State) -> str:
    return state.governor


def get_pending_governor(state: State) -> str:
    return state.pending_governor


def get_pause_window(state: State) -> tuple[int, int]:
    return state.pause_from, state.pause_until


def get_node_count(state: State) -> int:
    return len(state.node_at)


def get_node_at(state: State, index: int) -> str:
    return state.node_at[index] if index < len(state.node_at) else ZERO_ADDRESS


def get_stake_of(state: State, node: str, round: int) -> int:
    """stake(node, round): exact for the current round and the next (the checkpoint's range)."""
    return _stake(state, node, round)


def get_node_view(state: State, address: str, ts: int) -> NodeView:
    n = _node(state, address)
    if n is None:
        n = NodeState(index=0, status=Status.NONE)
    current = state.deployment.round_at(ts)
    return NodeView(
        n.status,
        n.index,
        n.bond,
        n.stake.at(current),
        n.stake.at(current + 1),
        n.accepted_reveals,
        n.last_accepted_round,
        n.unrevealed,
        n.last_participated_round,
        n.settled_round,
        n.cum_earned,
        n.cum_penalties,
        n.penalties_applied,
        n.merged_rounds,
        n.last_penalty_round,
        n.score_bps,
        n.claimed,
        n.last_attested_round,
        n.last_vote_round,
        n.last_vote_hash,
        n.withdrawable_at,
    )


def get_round_view(state: State, round: int) -> RoundView:
    rs = _round(state, round)
    return RoundView(
        rs.opened,
        rs.reserved,
        state.total_stake.at(round),
        rs.final_result,
        rs.accumulator,
        rs.reveals,
        rs.attestations,
        rs.others,
    )


def get_commitment_of(
    state: State, round: int, node: str
) -> tuple[bytes, CommitState, RevealOutcome]:
    """(commitment while Committed else 0, slot state, outcome once Revealed else Accepted)."""
    slot = _round(state, round).slots.get(to_checksum_address(node))
    if slot is None:
        return dg.ZERO32, CommitState.NONE, RevealOutcome.ACCEPTED
    commitment = slot.commitment if slot.state == CommitState.COMMITTED else dg.ZERO32
    outcome = slot.outcome if slot.state == CommitState.REVEALED else RevealOutcome.ACCEPTED
    return commitment, slot.state, outcome


def get_tally_of(state: State, round: int, result_hash: bytes) -> int:
    return _round(state, round).tallies.get(result_hash, 0)


def get_has_posted_beacon(state: State, round: int, node: str) -> bool:
    return to_checksum_address(node) in _round(state, round).beacon_posted


def get_latest(state: State) -> Latest:
    return state.latest


def get_accounts(state: State) -> Accounts:
    return Accounts(state.bonds, state.pool, state.reserved, state.claimable)


def get_is_eligible(state: State, node: str, round: int) -> bool:
    """§9 for `node` in `round`; false for a wallet that is not (or no longer) registered."""
    n = _node(state, node)
    if n is None or n.status == Status.WITHDRAWN:
        return False
    return _eligible(n, round, get_rules_for_round(state, round))


# ---------------------------------------------------------------- forward scoring (§15)


def forward_close_of(state: State, round: int) -> int:
    """When round `round`'s forward window has closed (its posts open), by its rules."""
    rules = get_rules_for_round(state, round)
    reveal_end = state.deployment.reveal_end(round)
    return fw.forward_close(reveal_end, rules.forward_margin_seconds, rules.forward_bars)


def forward_vote_end_of(state: State, round: int) -> int:
    """When the votes on round `round`'s window close: the end of its vote round's commits."""
    lag = get_rules_for_round(state, round).forward_lag_rounds
    return state.deployment.commit_end(fw.vote_round(round, lag))


def process_post_forward(state: State, tx: Tx, round: int, window: bytes) -> list[Event]:
    """`postForward(round, window)`, anyone. Checks: `ForwardScoringOff(round)` when the round's
    forwardBars is 0; `ForwardTooEarly(round, opensAt)` before the window has closed;
    `ForwardVoteClosed(round, closedAt)` once its vote round's commit window has ended;
    `ForwardTooLarge(length, MAX_FORWARD_BYTES)` for an empty or oversized window. The same
    bytes may be posted again (a first post forwarded by another contract leaves no readable
    input, §15.2). Effects: the window's sha256 is posted for the round (it stays posted).
    Events: ForwardPosted(round, windowHash, poster, length), on every post."""
    _non_payable(tx)
    _check_bytes("window", window)
    if get_rules_for_round(state, round).forward_bars == 0:
        raise ProtocolError("ForwardScoringOff", round)
    opens = forward_close_of(state, round)
    if tx.timestamp < opens:
        raise ProtocolError("ForwardTooEarly", round, opens)
    closed = forward_vote_end_of(state, round)
    if tx.timestamp >= closed:
        raise ProtocolError("ForwardVoteClosed", round, closed)
    if not 0 < len(window) <= fw.MAX_FORWARD_BYTES:
        raise ProtocolError("ForwardTooLarge", len(window), fw.MAX_FORWARD_BYTES)
    window_hash = dg.sha256(window)
    state.forward_posted.add((round, window_hash))
    return [_event("ForwardPosted", round, window_hash, tx.sender, len(window))]


def process_commit_with_forward(
    state: State, tx: Tx, round: int, commitment: bytes, forward_round: int, window_hash: bytes
) -> list[Event]:
    """`commitWithForward(round, commitment, forwardRound, windowHash)`: `commit` and a vote on
    round `forwardRound`'s window. Checks: those of `commit`, in its order; then
    `NotForwardVoteRound(forwardRound, round)` unless forwardRound's rules score forward and
    `round = forwardRound + forwardLagRounds`; `ForwardNotPosted(forwardRound, windowHash)`.
    Effects: commit's; the window's tally grows by stake(node, round); the window is accepted
    for forwardRound when its tally reaches `finality_needed(totalStake(round), finalityPpm)`
    and none was. Events: [Slashed(WrongVote)], Committed, ForwardVoted(forwardRound, node,
    windowHash, weight), [ForwardAccepted(forwardRound, windowHash, tally)]."""
    node = _commit_checks(state, tx, round, commitment)
    _check_bytes("window_hash", window_hash, 32)
    rules = get_rules_for_round(state, forward_round)
    if not (
        forward_round < round
        and rules.forward_bars > 0
        and round - forward_round == rules.forward_lag_rounds
    ):
        raise ProtocolError("NotForwardVoteRound", forward_round, round)
    if (forward_round, window_hash) not in state.forward_posted:
        raise ProtocolError("ForwardNotPosted", forward_round, window_hash)
    events: list[Event] = []
    _apply_commit(state, tx, node, round, commitment, events)
    weight = _stake(state, tx.sender, round)
    key = (forward_round, window_hash)
    tally = state.forward_tallies.get(key, 0) + weight
    state.forward_tallies[key] = tally
    events.append(_event("ForwardVoted", forward_round, tx.sender, window_hash, weight))
    needed = finality_needed(
        state.total_stake.at(round), get_rules_for_round(state, round).finality_ppm
    )
    if forward_round not in state.forward_window and tally >= needed:
        state.forward_window[forward_round] = window_hash
        events.append(_event("ForwardAccepted", forward_round, window_hash, tally))
    return events


def get_forward_box(state: State) -> str:
    """The address of the forward box: the constructor's second CREATE (nonce 2; RulesCheckV2 is
    the first), keccak256(rlp([contract, 2]))[12:]."""
    encoded = b"\xd6\x94" + bytes.fromhex(state.contract[2:]) + b"\x02"
    return to_checksum_address(dg.keccak(encoded)[12:])


def get_forward_window_of(state: State, round: int) -> bytes:
    """The accepted window hash of `round`, or 32 zero bytes."""
    return state.forward_window.get(round, dg.ZERO32)


def get_forward_tally_of(state: State, round: int, window_hash: bytes) -> int:
    return state.forward_tallies.get((round, window_hash), 0)


def get_is_forward_posted(state: State, round: int, window_hash: bytes) -> bool:
    return (round, window_hash) in state.forward_posted


# ---------------------------------------------------------------- dispatch

#: Each state-changing function of FLChainV2 and of its forward box, by ABI name → its
#: process (the value sent travels in the `Tx`; the ABI-decoded arguments follow it): what the
#: audit's replay and the contract's differential harness dispatch a transaction on.
PROCESS: Final[Mapping[str, Callable[..., list[Event]]]] = {
    "register": process_register,
    "addBond": process_add_bond,
    "requestExit": process_request_exit,
    "withdraw": process_withdraw,
    "collect": process_collect,
    "fundPool": process_fund_pool,
    "openRound": process_open_round,
    "commit": process_commit,
    "reveal": process_reveal,
    "postBeacon": process_post_beacon,
    "attest": process_attest,
    "finalize": process_finalize,
    "settle": process_settle,
    "slashNoReveal": process_slash_no_reveal,
    "scheduleRules": process_schedule_rules,
    "cancelRules": process_cancel_rules,
    "transferGovernance": process_transfer_governance,
    "acceptGovernance": process_accept_governance,
    "pause": process_pause,
    "unpause": process_unpause,
    "commitWithForward": process_commit_with_forward,
    "postForward": process_post_forward,
}
#: The functions of PROCESS that are the forward box's (`get_forward_box`), not FLChainV2's.
BOX_FUNCTIONS: Final = frozenset({"postForward"})
