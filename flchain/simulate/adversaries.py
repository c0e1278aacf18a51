"""Every deliberate fault in one place: the simulation's adversaries and the faults tests inject.

Nothing here is honest, and nothing on the daemon path (`flchain.node`, `flchain.replay`,
`flchain.cli.node`) imports this module — tests/test_architecture.py checks it. The simulation
(`flchain simulate --adversaries`) and `flchain.testing` are its only users.

* node behaviours (`flchain.node.behaviour` extension points), stackable on any update source
  through `Fault.inner`: `InflatedRoi`, `AbnormalRoi`, `Copycat`, `NanWeights`, `NoReveal`,
  `Tampering`, `WrongAttestation`, `Overfitter` (a black-box search of the weights on the
  public benchmark, which `bench/baselines.py` runs too); `behaviour_for(kind)` by the
  simulation's kind names;
* payload corruptions: `inject_nan`, `inject_inf`;
* tampers — what a merger publishes and attests instead of the honest replay (`Tamper`):
  `attest_base_instead`, `tamper_shift_weights`, `tamper_accept_any_claim`;
* a store that withholds content it announces: `WithholdingStore`;
* protocol v2's attacks (docs/security.md's table), each an `Adversary` with wallets of its own
  and hooks the simulation calls at every phase: `Sybils`, `Flooders`, `SeedGrinder`,
  `ExitBeforePenalty`, `OversizedPayload`, `DagPbPayload`, `Copier`, `TimedFinalizer`,
  `RushingGovernor` (`V2_ADVERSARIES` by `--adversaries` name); the v2 tamper
  `attest_base_instead_v2`; `forged_result`, `dag_pb_bomb`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import BinaryIO, ClassVar

import numpy as np
from eth_account.signers.local import LocalAccount

from flchain.backtest import roi_bps
from flchain.hashing import sha256_hex
from flchain.ledger import ContractRevert, DeadlineMissed, LedgerV2
from flchain.merge.core import MergeResult, merge
from flchain.merge.errors import MergeInputError
from flchain.merge.manifest import encode_manifest
from flchain.merge.settlement import decode_manifest_v2, manifest_leaves, settlement_tree
from flchain.merge.v2 import MergeResultV2
from flchain.model import reference_positions
from flchain.node.behaviour import HONEST, Behaviour
from flchain.node.runner_v2 import NodeRunnerV2
from flchain.node.update import Update, UpdateInputs, claim_roi_bps
from flchain.protocol import Address
from flchain.protocol import digests as dg
from flchain.protocol.machine import (
    CommitState,
    Latest,
    Leaf,
    NodeView,
    Phase,
    Result,
    RevealOutcome,
    Status,
)
from flchain.protocol.merkle import SettlementTree
from flchain.replay import ReplayError, ReplayResult, Tamper, parse_manifest
from flchain.replay.v2 import ReplayResultV2, TamperV2, cid_text
from flchain.storage import ContentStore
from flchain.storage.cid import Cid, cid_for_bytes, cid_for_stream, parse_cid
from flchain.storage.unixfs import PbLink, encode_file_node
from flchain.storage.weights import decode_weights, encode_weights

__all__ = [
    "ACCEPT_ANY_TOLERANCE_BPS",
    "ADVERSARY_KINDS",
    "FLOOD_ROUND",
    "FLOOD_SIZE",
    "OPT_IN_KINDS",
    "V2_ADVERSARIES",
    "AbnormalRoi",
    "Adversary",
    "AttackContext",
    "Attempt",
    "Copier",
    "Copycat",
    "DagPbPayload",
    "ExitBeforePenalty",
    "Fault",
    "Flooders",
    "InflatedRoi",
    "NanWeights",
    "NoReveal",
    "Overfitter",
    "OversizedPayload",
    "RushingGovernor",
    "SeedGrinder",
    "Sybils",
    "Tampering",
    "TimedFinalizer",
    "WithholdingBehaviour",
    "WithholdingStore",
    "WrongAttestation",
    "attest_base_instead",
    "attest_base_instead_v2",
    "behaviour_for",
    "dag_pb_bomb",
    "forged_result",
    "inject_inf",
    "inject_nan",
    "settle_all",
    "settle_own",
    "tamper_accept_any_claim",
    "tamper_shift_weights",
    "top_up",
]

#: The simulation's adversary kinds, in the order `--adversaries all` assigns them.
ADVERSARY_KINDS: tuple[str, ...] = (
    "inflated-roi",
    "abnormal-roi",
    "copycat",
    "nan-weights",
    "no-reveal",
    "wrong-attestation",
)

#: The ROI tolerance of a merger that skips verification: 10⁹ bps, so every claim passes (the
#: contract bounds the real rule at 10 000 bps; this value only ever lives in a forged merge).
ACCEPT_ANY_TOLERANCE_BPS = 10**9

#: Node behaviours `--adversaries` knows but `all` leaves out: the overfitter searches hundreds
#: of backtests a round (seconds each round), and only forward scoring answers it.
OPT_IN_KINDS: tuple[str, ...] = ("overfitter",)


# --- node behaviours ----------------------------------------------------------------------


class Fault(Behaviour):
    """A deliberate fault layered on `inner` (honest by default): a subclass overrides the one
    point it corrupts and every other point is `inner`'s, so faults stack."""

    kind = "fault"

    def __init__(self, inner: Behaviour = HONEST) -> None:
        self.inner = inner

    @property
    def reveals(self) -> bool:
        return self.inner.reveals

    def training_identity(self, node: Address) -> Address:
        return self.inner.training_identity(node)

    def prepare(self, inputs: UpdateInputs) -> Update:
        return self.inner.prepare(inputs)

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return self.inner.alter(update, inputs)

    @property
    def tamper(self) -> Tamper | None:
        return self.inner.tamper

    @property
    def tamper_v2(self) -> TamperV2 | None:
        return getattr(self.inner, "tamper_v2", None)


class InflatedRoi(Fault):
    """Claims more ROI than its weights earn (still inside the on-chain band): the merge's ROI
    verification must reject it and the attesters penalise it."""

    kind = "inflated-roi"

    def __init__(self, extra_bps: int = 700, inner: Behaviour = HONEST) -> None:
        super().__init__(inner)
        self.extra_bps = extra_bps

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        honest = self.inner.alter(update, inputs)
        return replace(
            honest, roi_bps=min(honest.roi_bps + self.extra_bps, inputs.rules.roi_max_bps)
        )


class Overfitter(Fault):
    """A black-box random search of the weights that maximises the claim on the public
    benchmark window: each try is the best weights so far plus seeded noise of 30 % of each
    tensor's RMS, kept if it claims more and stays inside the norm bound; the claim is the
    honest ROI of what it found. The claim is true — the band check passes it — and says
    nothing about the next bars: the attack forward scoring answers (docs/protocol.md §15)."""

    kind = "overfitter"

    def __init__(self, tries: int = 300, inner: Behaviour = HONEST) -> None:
        super().__init__(inner)
        self.tries = tries

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        update = self.inner.alter(update, inputs)
        tensors, metadata = decode_weights(update.payload)
        w = {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
        base, _ = decode_weights(inputs.base_weights)
        bench, cfg = inputs.benchmark, update.config
        bound = inputs.rules.norm_bound_micro / 1e6
        rng = np.random.default_rng(inputs.seed)

        def claim(weights: dict[str, np.ndarray]) -> int:
            pos = reference_positions(weights, cfg, bench.bars)
            return roi_bps(bench.exec_prices, pos, inputs.rules.fee_ppm)

        def norm(weights: dict[str, np.ndarray]) -> float:
            return float(
                np.sqrt(sum(np.sum((weights[k].astype(np.float64) - base[k]) ** 2) for k in w))
            )

        best, best_claim = w, claim(w)
        for _ in range(self.tries):
            trial = {
                k: (
                    v + rng.standard_normal(v.shape) * 0.3 * (np.sqrt(np.mean(v * v)) + 1e-3)
                ).astype(np.float32)
                for k, v in best.items()
            }
            if norm(trial) >= bound:
                continue
            got = claim(trial)
            if got > best_claim:
                best, best_claim = trial, got
        payload = encode_weights(best, metadata)
        found = claim_roi_bps(payload, update.config, inputs.benchmark, inputs.rules)
        return replace(update, payload=payload, roi_bps=found)


class AbnormalRoi(Fault):
    """Claims an ROI above the rules' band: the contract rejects it at reveal."""

    kind = "abnormal-roi"

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return replace(self.inner.alter(update, inputs), roi_bps=inputs.rules.roi_max_bps + 25_000)


class Copycat(Fault):
    """One of a cluster that trains the leader's strategy (same data, same seed): identical
    updates, caught by the diversity step (capped, then sent exploring)."""

    kind = "copycat"

    def __init__(self, leader: Address, inner: Behaviour = HONEST) -> None:
        super().__init__(inner)
        self.leader = leader

    def training_identity(self, node: Address) -> Address:
        return self.leader


class NanWeights(Fault):
    """Uploads weights with a NaN in them (claiming the honest ROI): validation rejects them."""

    kind = "nan-weights"

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        honest = self.inner.alter(update, inputs)
        return replace(honest, payload=inject_nan(honest.payload))


class NoReveal(Fault):
    """Commits every round and never reveals."""

    kind = "no-reveal"

    @property
    def reveals(self) -> bool:
        return False


class Tampering(Fault):
    """Attests what `tamper` (v1) or `tamper_v2` makes of the honest replay instead of the
    replay itself."""

    kind = "tampering"

    def __init__(
        self, tamper: Tamper | None, inner: Behaviour = HONEST, tamper_v2: TamperV2 | None = None
    ) -> None:
        super().__init__(inner)
        self._tamper = tamper
        self._tamper_v2 = tamper_v2

    @property
    def tamper(self) -> Tamper | None:
        return self._tamper

    @property
    def tamper_v2(self) -> TamperV2 | None:
        return self._tamper_v2


class WrongAttestation(Tampering):
    """Attests a result it did not compute (the round's base model instead of the merge); on
    v2 its vote is slashed `wrongVoteSlashWei` once the honest result is final."""

    kind = "wrong-attestation"

    def __init__(self, inner: Behaviour = HONEST) -> None:
        super().__init__(attest_base_instead, inner, attest_base_instead_v2)


def behaviour_for(kind: str, leader: Address | None = None) -> Behaviour:
    """A behaviour by its kind name (see `ADVERSARY_KINDS`)."""
    if kind == "honest":
        return HONEST
    if kind == "inflated-roi":
        return InflatedRoi()
    if kind == "abnormal-roi":
        return AbnormalRoi()
    if kind == "copycat":
        if leader is None:
            raise ValueError("a copycat needs a leader")
        return Copycat(leader)
    if kind == "nan-weights":
        return NanWeights()
    if kind == "no-reveal":
        return NoReveal()
    if kind == "wrong-attestation":
        return WrongAttestation()
    if kind == "overfitter":
        return Overfitter()
    raise ValueError(f"unknown behaviour {kind!r}")


# --- payload corruptions ------------------------------------------------------------------


def _overwrite_first_float(payload: bytes, bits: int) -> bytes:
    (header_len,) = struct.unpack("<Q", payload[:8])
    start = 8 + header_len
    return payload[:start] + struct.pack("<I", bits) + payload[start + 4 :]


def inject_nan(payload: bytes) -> bytes:
    """FAULT: the same safetensors bytes with the first float32 of the data section set to NaN
    (the header, names and shapes stay valid, so only the finiteness check can catch it)."""
    return _overwrite_first_float(payload, 0x7FC00000)


def inject_inf(payload: bytes) -> bytes:
    """FAULT: as `inject_nan`, with +Inf."""
    return _overwrite_first_float(payload, 0x7F800000)


# --- tampers ------------------------------------------------------------------------------


def attest_base_instead(replay: ReplayResult) -> MergeResult:
    """Tamper: publish the base model's bytes as if they were the merge (deliberate fault)."""
    assert replay.inputs is not None
    base = replay.inputs.base_weights
    honest = replay.result
    if base == honest.merged_weights:  # nothing was merged: attest a doctored manifest instead
        doctored = honest.manifest + b" "
        return honest.model_copy(
            update={"manifest": doctored, "manifest_cid": cid_for_bytes(doctored)}
        )
    return honest.model_copy(
        update={
            "merged_weights": base,
            "merged_digest": sha256_hex(base),
            "merged_cid": cid_for_bytes(base),
        }
    )


def attest_base_instead_v2(replay: ReplayResultV2) -> MergeResultV2:
    """Tamper (v2): publish the base model as if it were the merge, with the honest manifest,
    settlement root and budget — a result other than the one every honest node computes."""
    base, honest = replay.inputs.base_weights, replay.result
    record = replay.record
    digest = dg.sha256(base)
    if digest == honest.result.merged_digest:  # nothing merged: claim a doctored manifest
        manifest = honest.manifest + b" "
        manifest_cid = cid_for_bytes(manifest)
        merged_cid = honest.result.merged_cid
    else:
        manifest, manifest_cid = honest.manifest, honest.manifest_cid
        merged_cid = dg.raw_leaf_cid(digest)
    result = Result(
        merged_digest=digest,
        merged_cid=merged_cid,
        manifest_cid=parse_cid(manifest_cid).to_bytes(),
        settlement_root=honest.result.settlement_root,
        round_earned=honest.result.round_earned,
    )
    return honest.model_copy(
        update={
            "merged_weights": base,
            "merged_digest": "0x" + digest.hex(),
            "merged_cid": cid_text(merged_cid),
            "manifest": manifest,
            "manifest_cid": manifest_cid,
            "result": result,
            "result_hash": dg.result_hash_v2(
                record.chain_id,
                record.contract,
                record.round,
                result.merged_digest,
                result.merged_cid,
                result.manifest_cid,
                result.settlement_root,
                result.round_earned,
            ),
        }
    )


def _with_merged(result: MergeResult, merged: bytes) -> MergeResult:
    """`result` with other merged bytes, the manifest's `merged` entry rewritten to match, so
    the forgery is internally consistent and only a replay can tell."""
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
    tensors, metadata = decode_weights(replay.result.merged_weights)
    first = sorted(tensors)[0]
    tensors[first] = (tensors[first].astype(np.float64) + delta).astype(np.float32)
    return _with_merged(replay.result, encode_weights(tensors, metadata))


def tamper_accept_any_claim(replay: ReplayResult) -> MergeResult:
    """FAULT: a merger that skips ROI verification (its tolerance is `ACCEPT_ANY_TOLERANCE_BPS`),
    so false claims are accepted; everything else is computed honestly."""
    if replay.inputs is None:
        raise ReplayError("this replay kept no inputs to re-run")
    inputs = replay.inputs
    rules = inputs.record.rules.model_copy(update={"roi_tolerance_bps": ACCEPT_ANY_TOLERANCE_BPS})
    record = inputs.record.model_copy(update={"rules": rules})
    faulty = merge(
        record, inputs.payloads, inputs.base_weights, inputs.benchmark, inputs.directives
    )
    # The forged manifest keeps the real rules, so the lie is in the decisions, not the header.
    doc = parse_manifest(faulty.manifest)
    doc["rules"] = inputs.record.rules.model_dump(mode="json")
    manifest = encode_manifest(doc)
    return faulty.model_copy(update={"manifest": manifest, "manifest_cid": cid_for_bytes(manifest)})


# --- content withheld ---------------------------------------------------------------------


class WithholdingStore:
    """FAULT: a content store that acknowledges every write with the right CID and keeps none
    of it (a node that announces content it never serves); reads go to `store`."""

    def __init__(self, store: ContentStore) -> None:
        self.store = store

    def put(self, data: bytes) -> str:
        return cid_for_bytes(data)

    def put_stream(self, stream: BinaryIO, *, pin: bool = True) -> str:
        return cid_for_stream(stream)

    def get(self, cid: str | Cid) -> bytes:
        return self.store.get(cid)

    def iter_content(self, cid: str | Cid) -> Iterator[bytes]:
        return self.store.iter_content(cid)

    def has(self, cid: str | Cid) -> bool:
        return self.store.has(cid)

    def pin(self, cid: str | Cid) -> None:
        """Nothing was kept, so nothing is pinned."""

    def export_car(self, cid: str | Cid, out: BinaryIO) -> int:
        return self.store.export_car(cid, out)

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[str]:
        raise NotImplementedError("a withholding store keeps no CAR either")


# --- protocol v2: the attacks of docs/security.md as simulation adversaries ---------------
#
# Each is an `Adversary`: its own wallets (outside `--nodes`), an optional `NodeRunnerV2`
# behaviour for the one that runs the daemon's code with a fault, and two hooks the simulation
# calls at every phase of every round — `act` before the nodes step, `after` once they have.
# Every attempt is recorded (`Attempt`) with what the chain answered: the custom error that
# refused it, or the on-chain outcome. Which rule stops each is `Adversary.rule`.


@dataclass(frozen=True)
class Attempt:
    """One thing an adversary tried and what the chain (or the merge) answered."""

    kind: str
    node: Address
    round: int
    tried: str
    answer: str  # a custom error's name, an on-chain outcome, or "ok" (it went through)


@dataclass
class AttackContext:
    """What an adversary sees of the federation: the governor's ledger (a wallet it reuses
    for reads and, for the rushing governor, to sign), the content store, and the honest merge
    of a closed round (memoised with the nodes' own)."""

    gov: LedgerV2
    store: ContentStore
    replay: Callable[[int], ReplayResultV2]
    #: manifest CID -> (leaves by node, tree): one tree per final round for every wallet
    _tables: dict[bytes, tuple[dict[str, Leaf], SettlementTree]] = field(default_factory=dict)

    def ledger(self, account: LocalAccount) -> LedgerV2:
        return self.gov.with_account(account)

    def settlement(self, manifest_cid: bytes, node: Address) -> tuple[Leaf, tuple[bytes, ...]]:
        """`node`'s leaf and proof in the manifest of a final round (as `settlement_proof`,
        the tree built once per manifest). @raises MergeInputError without a leaf."""
        if manifest_cid not in self._tables:
            doc = decode_manifest_v2(self.store.get(cid_text(manifest_cid)))
            leaves = manifest_leaves(doc)
            tree = settlement_tree(leaves, int(doc["chain_id"]), str(doc["contract"]))
            if "0x" + tree.root.hex() != str(doc["settlement"]["root"]):
                raise MergeInputError("the manifest's leaves do not have the root it states")
            self._tables[manifest_cid] = ({x.node.lower(): x for x in leaves}, tree)
        by_node, tree = self._tables[manifest_cid]
        found = by_node.get(node.lower())
        if found is None:
            raise MergeInputError(f"{node} has no leaf in that manifest")
        return found, tree.proof(found.index)


def _answer(call: Callable[[], object]) -> str:
    """Send one transaction: "ok", or the name of the custom error that refused it."""
    try:
        call()
    except ContractRevert as exc:
        return exc.error_name
    except DeadlineMissed:
        return "DeadlineMissed"
    return "ok"


def settle_own(
    ctx: AttackContext,
    ledger: LedgerV2,
    latest: Latest | None = None,
    view: NodeView | None = None,
) -> str | None:
    """Apply the wallet's leaf of the latest final round when it lags (what the lag rule
    demands before it may commit, attest or withdraw again) or the leaf records something new
    (a reward, a penalty); None when nothing is due (nothing sent).

    @param latest the latest final result, when the caller read it already (only `finalize`
        changes it: a loop of settlements and top-ups reads it once)
    @param view the wallet's node view, when the caller read it at the current block"""
    latest = latest or ctx.gov.latest()
    assert ledger.account is not None
    node = ledger.account.address
    view = view or ledger.node_view(node)
    if latest.round_plus_one == 0 or view.settled_round >= latest.round_plus_one:
        return None
    try:
        leaf, proof = ctx.settlement(latest.manifest_cid, node)
    except MergeInputError:  # registered after that round: no leaf yet
        return None
    lags = view.settled_round < view.last_participated_round <= latest.round_plus_one
    recorded = (view.cum_earned, view.cum_penalties, view.merged_rounds, view.score_bps)
    if not lags and recorded == (
        leaf.cum_earned,
        leaf.cum_penalties,
        leaf.merged_rounds,
        leaf.score_bps,
    ):
        return None
    return _answer(lambda: ledger.settle(leaf, proof))


def settle_all(
    ctx: AttackContext, ledgers: Sequence[LedgerV2]
) -> Iterator[tuple[LedgerV2, str | None, NodeView | None]]:
    """`settle_own` of each wallet in turn, the latest final result read once; yields each
    ledger, its answer and its node view when nothing was sent (None: read it again)."""
    latest = ctx.gov.latest()
    for ledger in ledgers:
        assert ledger.account is not None
        view = ledger.node_view(ledger.account.address)
        answer = settle_own(ctx, ledger, latest, view)
        yield ledger, answer, view if answer is None else None


def top_up(ledger: LedgerV2, view: NodeView | None = None) -> bool:
    """Bring a slashed bond back to `minBond` (counts from the next round): a cheater pays to
    keep cheating. Returns whether it added anything. `view`: the wallet's node view, when
    the caller read it at the current block."""
    assert ledger.account is not None
    view = view or ledger.node_view(ledger.account.address)
    missing = ledger.deployment().min_bond - view.bond
    if view.status != Status.ACTIVE or missing <= 0:
        return False
    ledger.add_bond(missing)
    return True


def _base_digest(ctx: AttackContext) -> bytes:
    """The base of the round in progress (the latest final model): a reveal on any other base
    is `RejectedStaleBase`, so an adversary that wants its real check reached uses this one."""
    return ctx.gov.latest().merged_digest


def forged_result(ctx: AttackContext, round: int, label: bytes) -> Result:
    """A result nobody computed: a made-up model and a settlement root that pays its makers,
    claiming the honest round's budget (so only finality, not the budget check, can stop it)."""
    honest = ctx.replay(round).result.result
    digest = dg.sha256(b"flchain/simulate/forged/" + label + round.to_bytes(8, "big"))
    return Result(
        merged_digest=digest,
        merged_cid=dg.raw_leaf_cid(digest),
        manifest_cid=dg.raw_leaf_cid(dg.sha256(digest)),
        settlement_root=dg.keccak(digest),
        round_earned=honest.round_earned,
    )


class Adversary:
    """A deliberate fault of protocol v2 with wallets of its own (see the module's v2 notes).

    @cvar kind the `--adversaries` name; `rule` the v2 rule meant to stop it; `tried` what it
        tries, as the table says it
    @cvar wallet_count how many wallets it brings; `registered` whether they are bonded and
        registered before round 0 (in every frozen set from the start)
    """

    kind: ClassVar[str] = "adversary"
    rule: ClassVar[str] = ""
    tried: ClassVar[str] = ""
    wallet_count: ClassVar[int] = 1
    registered: ClassVar[bool] = True

    def __init__(self, wallets: Sequence[LocalAccount]) -> None:
        if len(wallets) != self.wallet_count:
            raise ValueError(f"{self.kind} takes {self.wallet_count} wallets")
        self.wallets = list(wallets)
        self.attempts: list[Attempt] = []
        #: The simulation's runner for `wallets[0]` when `behaviour` is not None.
        self.runner: NodeRunnerV2 | None = None

    @property
    def behaviour(self) -> Behaviour | None:
        """The fault a `NodeRunnerV2` of `wallets[0]` runs with (None: no runner)."""
        return None

    def runs(self, round: int, phase: Phase) -> bool:
        """Whether the simulation steps the runner at (`round`, `phase`)."""
        return True

    def note(self, node: Address, round: int, tried: str, answer: str) -> str:
        self.attempts.append(Attempt(self.kind, node, round, tried, answer))
        return answer

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        """Before the nodes step at (`round`, `phase`)."""

    def after(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        """After the nodes stepped at (`round`, `phase`)."""

    def note_verdicts(self, ctx: AttackContext, round: int) -> None:
        """What the honest merge of closed `round` decided about each of its accepted reveals
        (a junk payload is accepted on-chain and penalised by the merge)."""
        mine = {w.address.lower() for w in self.wallets}
        replay = ctx.replay(round)  # the reveals are complete once the reveal window closed
        accepted = [
            r.node
            for r in replay.record.reveals
            if r.node.lower() in mine and r.outcome == RevealOutcome.ACCEPTED
        ]
        decisions = {d.node.lower(): d for d in replay.result.decisions}
        for node in accepted:
            d = decisions.get(node.lower())
            self.note(node, round, "merge", "merge: " + (d.reason.value if d else "not merged"))

    def keep_bonded(self, ctx: AttackContext, round: int) -> None:
        """Commit-phase upkeep of a repeat offender: settle when lagging, top the bond up."""
        ledgers = [ctx.ledger(w) for w in self.wallets]
        for ledger, settled, view in settle_all(ctx, ledgers):
            assert ledger.account is not None
            if settled is not None:
                self.note(
                    ledger.account.address, round, "settle its leaf (applies its slashes)", settled
                )
            top_up(ledger, view)


class Sybils(Adversary):
    """Fresh wallets registered after round 0's frozen set was fixed attest a forged result
    (refused: not in the frozen set); from round 1, bonded at the minimum, they attest it and
    call `finalize` on it (refused: their stake is far below q), and each wrong vote is
    slashed at their next action."""

    kind = "sybil"
    rule = "frozen stake; finality at q of the frozen stake"
    tried = "fresh wallets attest and finalize a forged result"
    wallet_count = 3
    registered = False

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        if phase == Phase.COMMIT and round > 0:
            self.keep_bonded(ctx, round)
        if phase != Phase.ATTEST:
            return
        forged = forged_result(ctx, round, b"sybil")
        for w in self.wallets:
            ledger = ctx.ledger(w)
            if ledger.node_view(w.address).status == Status.NONE:
                ledger.register(ledger.deployment().min_bond)  # counts from the next round
            self.note(
                w.address,
                round,
                "attest a forged result",
                _answer(
                    lambda ledger=ledger: ledger.attest(round, forged)  # type: ignore[misc]
                ),
            )
        lead = ctx.ledger(self.wallets[0])
        self.note(
            self.wallets[0].address,
            round,
            "finalize the forged result",
            _answer(lambda: lead.finalize(round, forged)),
        )


#: How many flooders `--adversaries flooder` brings: one more than v1's penalised-list cap.
FLOOD_SIZE = 65
#: The round the flood comes in.
FLOOD_ROUND = 0


class Flooders(Adversary):
    """65 bonded wallets reveal junk in one round — one more than v1's cap on the penalised
    list, which made the honest result impossible to attest. In v2 penalties live in the
    settlement tree and `attest`/`finalize` are O(1): the honest result is final, and each
    flooder's penalty is slashed when its leaf is applied (the next round, before it may
    commit again)."""

    kind = "flooder"
    rule = "penalties in the settlement tree (O(1) finality), slashed on settlement"
    tried = f"{FLOOD_SIZE} wallets reveal junk in one round"
    wallet_count = FLOOD_SIZE

    def __init__(self, wallets: Sequence[LocalAccount]) -> None:
        super().__init__(wallets)
        self._sealed: dict[str, tuple[bytes, bytes, bytes]] = {}  # node -> payload, base, salt

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        if round == FLOOD_ROUND and phase == Phase.COMMIT:
            base = _base_digest(ctx)
            for w in self.wallets:
                payload = b"junk " + dg.sha256(w.address.encode() + round.to_bytes(8, "big"))
                salt = dg.sha256(b"flood salt " + payload)
                ledger = ctx.ledger(w)
                c = ledger.commitment(round, dg.sha256(payload), base, 0, salt)
                if _answer(lambda ledger=ledger, c=c: ledger.commit(round, c)) == "ok":  # type: ignore[misc]
                    self._sealed[w.address] = (payload, base, salt)
        elif round == FLOOD_ROUND and phase == Phase.REVEAL:
            for w in self.wallets:
                payload, base, salt = self._sealed[w.address]
                ledger = ctx.ledger(w)
                answer = _answer(
                    lambda ledger=ledger, p=payload, b=base, s=salt: ledger.reveal(
                        round, p, b, 0, s
                    )  # type: ignore[misc]
                )
                self.note(w.address, round, "reveal junk", answer)
        elif round == FLOOD_ROUND + 1 and phase == Phase.COMMIT:
            # to flood again it must settle first, which slashes it
            ledgers = [ctx.ledger(w) for w in self.wallets]
            for ledger, settled, _ in settle_all(ctx, ledgers):
                assert ledger.account is not None
                if settled is not None:
                    self.note(
                        ledger.account.address, round, "settle its leaf to flood again", settled
                    )
        elif round == FLOOD_ROUND + 2 and phase == Phase.COMMIT:
            w = self.wallets[0]  # its bond is below minBond now: out of the frozen set
            ledger = ctx.ledger(w)
            c = ledger.commitment(round, dg.sha256(b"again"), _base_digest(ctx), 0, bytes(32))
            self.note(
                w.address,
                round,
                "commit again, bond not topped up",
                _answer(lambda: ledger.commit(round, c)),
            )


class WithholdingBehaviour(Fault):
    """Trains and commits honestly and never reveals on its own: `SeedGrinder` reveals for it
    when that suits its grinding."""

    kind = "seed-grinder"

    @property
    def reveals(self) -> bool:
        return False


class SeedGrinder(Adversary):
    """Commits every round and, last to reveal, computes the salts-only seed with and without
    its own salt and withholds when withholding gives it the better tie key (v1's grinding:
    87 % success with 4 withheld reveals). In v2 the seed mixes the beacon round D(r), produced
    after reveals close, so the choice steers nothing; every withheld reveal is slashed
    `noRevealSlashWei`. Bonded again after each slash."""

    kind = "seed-grinder"
    rule = "seed mixes a beacon round drawn after reveals close; no-reveal slash"
    tried = "withhold its reveal whenever that gives it the better salts-only tie key"

    def __init__(self, wallets: Sequence[LocalAccount]) -> None:
        super().__init__(wallets)
        self.chosen: dict[int, bytes] = {}  # round -> the salts-only seed it steered for

    @property
    def behaviour(self) -> Behaviour:
        return WithholdingBehaviour()

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        if phase == Phase.COMMIT:
            self.keep_bonded(ctx, round)
        if phase == Phase.ATTEST and round in self.chosen:
            steered = ctx.replay(round).result.seed.value == self.chosen[round]
            self.note(
                self.wallets[0].address,
                round,
                "steer the seed",
                "steered" if steered else "not steered (beacon mixed in)",
            )

    def after(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        if phase != Phase.REVEAL or self.runner is None:
            return
        node = self.wallets[0].address
        commitment, state, _ = ctx.gov.commitment_of(round, node)
        if state != CommitState.COMMITTED:
            return
        sealed = self.runner.rebuild(round, commitment)
        others = {r.node: r.salt for r in ctx.gov.round_record_v2(round).reveals}
        chain_id, contract = ctx.gov.chain_id, ctx.gov.address

        def salts_only(salts: dict[str, bytes]) -> bytes:
            return dg.seed(chain_id, contract, round, dg.salts_hash(salts), bytes(32))

        with_mine = salts_only({**others, node: sealed.salt})
        without = salts_only(others)
        if dg.tie_key(with_mine, node) < dg.tie_key(without, node):
            self.chosen[round] = with_mine
            ledger = ctx.ledger(self.wallets[0])
            answer = _answer(
                lambda: ledger.reveal(
                    round, sealed.payload, sealed.base_digest, sealed.roi_bps, sealed.salt
                )
            )
            self.note(node, round, "reveal (its salt helps it)", answer)
        else:
            self.chosen[round] = without
            self.note(node, round, "withhold its reveal (its salt hurts it)", "withheld")


class ExitBeforePenalty(Adversary):
    """Commits a false ROI claim in round 0, requests its exit before revealing, reveals, and
    tries to withdraw its whole bond before the penalty lands: the exit delay (2 rounds) holds
    it, then the lag rule demands its settlement first — which slashes the penalty."""

    kind = "exit-before-penalty"
    rule = "withdrawal after the exit delay and settlement; penalty slashed on settlement"
    tried = "false claim, exit request, withdraw the whole bond"

    def __init__(self, wallets: Sequence[LocalAccount]) -> None:
        super().__init__(wallets)
        self.withdrawn = False

    @property
    def behaviour(self) -> Behaviour:
        return InflatedRoi()

    def runs(self, round: int, phase: Phase) -> bool:
        # it commits and reveals once, then only tries to leave (never settling on its own)
        return round == 0 and phase in (Phase.COMMIT, Phase.REVEAL)

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        w = self.wallets[0]
        ledger = ctx.ledger(w)
        if round == 0 and phase == Phase.REVEAL:
            self.note(
                w.address, round, "request exit before revealing", _answer(ledger.request_exit)
            )
            return
        if round == 0 or self.withdrawn:
            return
        answer = self.note(w.address, round, "withdraw", _answer(ledger.withdraw))
        if answer == "SettlementPending":
            settled = settle_own(ctx, ledger)
            self.note(w.address, round, "settle (applies its penalty)", settled or "nothing due")
            answer = self.note(w.address, round, "withdraw", _answer(ledger.withdraw))
        self.withdrawn = answer == "ok"


class OversizedPayload(Adversary):
    """Commits the digest of a payload one byte over `maxPayloadBytes` and reveals it: the
    contract refuses the reveal (`PayloadTooLarge`), the commitment stays unrevealed and is
    slashed `noRevealSlashWei`. Bonded again after each slash."""

    kind = "oversized-payload"
    rule = "maxPayloadBytes checked at reveal; no-reveal slash"
    tried = "reveal a payload over maxPayloadBytes"

    def payload(self, ctx: AttackContext, round: int) -> bytes:
        size = ctx.gov.rules_for_round(round).max_payload_bytes + 1
        return (round.to_bytes(8, "big") * (size // 8 + 1))[:size]

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        w = self.wallets[0]
        ledger = ctx.ledger(w)
        if phase == Phase.COMMIT:
            self.keep_bonded(ctx, round)
            if ledger.stake_of(w.address, round) == 0:
                return
            payload = self.payload(ctx, round)
            c = ledger.commitment(round, dg.sha256(payload), _base_digest(ctx), 0, _salt(w, round))
            self.note(w.address, round, "commit", _answer(lambda: ledger.commit(round, c)))
        elif phase == Phase.REVEAL and ledger.commitment_of(round, w.address)[1] == (
            CommitState.COMMITTED
        ):
            payload = self.payload(ctx, round)
            self.note(
                w.address,
                round,
                f"reveal {len(payload)} bytes",
                _answer(
                    lambda: ledger.reveal(round, payload, _base_digest(ctx), 0, _salt(w, round))
                ),
            )


def _salt(wallet: LocalAccount, round: int) -> bytes:
    """An adversary's salt: it hides nothing worth a random one."""
    return dg.sha256(
        b"flchain/simulate/adversary-salt/" + wallet.address.encode() + bytes([round % 256])
    )


def dag_pb_bomb() -> bytes:
    """A UnixFS File root of 4 links, each claiming a 352 GB sub-DAG: the dag-pb node of v1's
    DAG bomb (1.26 TiB described in a few hundred bytes)."""
    child = bytes.fromhex("01701220") + dg.sha256(b"flchain/simulate/dag-bomb-child")
    quarter = 1_385_000_000_000 // 4
    return encode_file_node([PbLink(cid=child, tsize=quarter, filesize=quarter)] * 4)


class DagPbPayload(Adversary):
    """Reveals the root block of a dag-pb DAG describing a 1.26 TiB file. v2 derives the
    update's CID from `sha256(payload)` as a raw leaf: no DAG is ever followed, the bytes are
    the update, the merge finds them not safetensors and penalises them."""

    kind = "dag-pb"
    rule = "raw-leaf CIDs only, payload bytes on-chain; merge validation penalises"
    tried = "reveal the root of a 1.26 TiB dag-pb file"

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        w = self.wallets[0]
        ledger = ctx.ledger(w)
        payload = dag_pb_bomb() + round.to_bytes(8, "big")  # a digest never revealed before
        if phase == Phase.COMMIT:
            self.keep_bonded(ctx, round)
            if ledger.stake_of(w.address, round) == 0 or not ledger.is_eligible(w.address, round):
                return
            c = ledger.commitment(round, dg.sha256(payload), _base_digest(ctx), 0, _salt(w, round))
            self.note(w.address, round, "commit", _answer(lambda: ledger.commit(round, c)))
        elif phase == Phase.REVEAL and ledger.commitment_of(round, w.address)[1] == (
            CommitState.COMMITTED
        ):
            self.note(
                w.address,
                round,
                "reveal the dag-pb root",
                _outcome(
                    lambda: ledger.reveal(round, payload, _base_digest(ctx), 0, _salt(w, round))
                ),
            )


def _outcome(call: Callable[[], tuple[object, RevealOutcome]]) -> str:
    """A reveal's on-chain outcome by name, or the error that refused it."""
    try:
        return call()[1].name
    except ContractRevert as exc:
        return exc.error_name


class Copier(Adversary):
    """Reveals, byte for byte, an accepted update of the previous round (round 0: the genesis
    model), on the right base: the contract accepts the reveal, and the merge penalises it
    (`unbound_update`: every update names its reveal's node and round, and this one names
    another node's, or none), so the final result's penalty slashes it."""

    kind = "copier"
    rule = "an update names its own reveal (node, round); the merge penalises any other"
    tried = "reveal another node's previous update byte for byte"

    def copied(self, ctx: AttackContext, round: int) -> bytes:
        if round == 0:
            genesis = ctx.gov.deployment().genesis_cid
            return ctx.store.get(cid_text(genesis))
        previous = ctx.replay(round - 1).record  # its reveals were complete when it closed
        accepted = [
            r for r in previous.reveals if r.outcome == RevealOutcome.ACCEPTED and r.payload
        ]
        if not accepted:
            return ctx.store.get(cid_text(ctx.gov.deployment().genesis_cid))
        payload = accepted[0].payload
        assert payload is not None
        return payload

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        w = self.wallets[0]
        ledger = ctx.ledger(w)
        if phase == Phase.COMMIT:
            self.keep_bonded(ctx, round)
            if ledger.stake_of(w.address, round) == 0:
                return
            payload = self.copied(ctx, round)
            c = ledger.commitment(round, dg.sha256(payload), _base_digest(ctx), 0, _salt(w, round))
            self.note(w.address, round, "commit a copy", _answer(lambda: ledger.commit(round, c)))
        elif phase == Phase.REVEAL and ledger.commitment_of(round, w.address)[1] == (
            CommitState.COMMITTED
        ):
            payload = self.copied(ctx, round)
            self.note(
                w.address,
                round,
                "reveal the copy",
                _outcome(
                    lambda: ledger.reveal(round, payload, _base_digest(ctx), 0, _salt(w, round))
                ),
            )


class TimedFinalizer(Adversary):
    """Holds back its vote on round r−1 and casts it, with `finalize`, during round r's reveal
    window — v1's way of making every honest update of r stale. In v2 finalization of r−1
    closes when r starts and r's base is fixed then: both calls are refused."""

    kind = "timed-finalizer"
    rule = "finalize(r) only before S(r+1); the base of r fixed at S(r)"
    tried = "attest and finalize round r−1 during round r's reveal window"

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        if round == 0 or phase != Phase.REVEAL:
            return
        w = self.wallets[0]
        ledger = ctx.ledger(w)
        late = ctx.replay(round - 1).result.result
        self.note(
            w.address, round - 1, "attest late", _answer(lambda: ledger.attest(round - 1, late))
        )
        self.note(
            w.address, round - 1, "finalize late", _answer(lambda: ledger.finalize(round - 1, late))
        )


class RushingGovernor(Adversary):
    """The governor schedules a rule change for the next round (finality down to 51 %, the ROI
    band closed): refused, the notice is at least `noticeRounds` rounds."""

    kind = "rushing-governor"
    rule = "rule changes need noticeRounds of notice"
    tried = "lower q to 51 % and close the ROI band from the next round"
    wallet_count = 0

    def act(self, ctx: AttackContext, round: int, phase: Phase) -> None:
        if phase != Phase.COMMIT:
            return
        current = ctx.gov.rules_for_round(round)
        rushed = replace(
            current,
            effective_round=round + 1,
            finality_ppm=510_000,
            roi_max_bps=current.roi_min_bps,
        )
        self.note(
            ctx.gov.governor(),
            round + 1,
            "schedule rules for the next round",
            _answer(lambda: ctx.gov.schedule_rules(rushed)),
        )


#: Protocol v2's adversaries by `--adversaries` name, in the order `all` lists them.
V2_ADVERSARIES: dict[str, type[Adversary]] = {
    cls.kind: cls
    for cls in (
        Sybils,
        Flooders,
        SeedGrinder,
        ExitBeforePenalty,
        OversizedPayload,
        DagPbPayload,
        Copier,
        TimedFinalizer,
        RushingGovernor,
    )
}
