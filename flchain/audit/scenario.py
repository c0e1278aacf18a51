"""Drive protocol rounds directly — Ledger + model + storage, no daemon — for the audit's
tests, `bench/audit.py` and demos.

A `Federation` deploys a fresh contract, registers funded node wallets, and plays rounds:
each node crafts a *valid* update (the base model perturbed by a node- and round-specific
seed, under the directive it was assigned), claims its true benchmark ROI, stores it, commits,
reveals; then chosen attesters run `publish_and_attest`. Faults are opt-in per round and say so:
a false ROI claim, a payload never stored, an attester with a `tamper` hook.

Training here is a seeded perturbation rather than torch training: the audit checks what the
protocol records, not how good the models are, and a perturbation is ~1000× faster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak

from flchain.backtest import roi_bps
from flchain.hashing import sha256_hex
from flchain.ledger import Backend, DeployConfig, Ledger, Phase, commitment_hash
from flchain.market.benchmark import Benchmark, benchmark_for_round
from flchain.merge.core import MergeResult
from flchain.model import (
    ModelConfig,
    config_to_metadata,
    directive_mask,
    init_weights,
    perturb_weights,
    reference_positions,
)
from flchain.protocol import Address, Directive, GlobalModel, RevealOutcome, Rules
from flchain.replay import Tamper, benchmark_for_rules, directives_for_record, publish_and_attest
from flchain.storage import ContentStore
from flchain.storage.cid import cid_for_bytes
from flchain.storage.weights import decode_weights, encode_weights

__all__ = ["Federation", "RoundPlan", "Submitted", "node_key"]

#: Devnet round timing (seconds): long enough for a dozen transactions per window.
ROUND_LENGTH = 1_000
COMMIT_WINDOW = 400
REVEAL_WINDOW = 300

#: Relative size of a node's perturbation of the base model (ppm of each tensor's RMS).
PERTURB_PPM = 200_000


def node_key(seed: int, index: int) -> LocalAccount:
    """A deterministic devnet wallet (never use outside a devnet)."""
    return Account.from_key(keccak(f"flchain-audit-scenario/{seed}/{index}".encode()))


def _salt(seed: int, round: int, node: Address) -> str:
    return "0x" + keccak(f"salt/{seed}/{round}/{node.lower()}".encode()).hex()


def _seed_int(seed: int, round: int, node: Address) -> int:
    return int.from_bytes(keccak(f"update/{seed}/{round}/{node.lower()}".encode())[:7], "big")


@dataclass(frozen=True)
class Submitted:
    """One node's update as it went on-chain."""

    node: Address
    payload: bytes
    digest: str
    cid: str
    roi_bps: int
    true_roi_bps: int
    stored: bool
    outcome: RevealOutcome | None = None


@dataclass
class RoundPlan:
    """Faults to inject in one round (all empty = an honest round).

    @param claim_offsets node -> bps added to its true ROI claim (a false claim)
    @param withheld nodes whose payload is never put in the store
    @param attesters who attests (default: every node), in order
    @param tampers attester -> tamper hook (a merger publishing a wrong result)
    @param skip nodes that sit the round out
    """

    claim_offsets: Mapping[Address, int] = field(default_factory=dict)
    withheld: Sequence[Address] = ()
    attesters: Sequence[Address] | None = None
    tampers: Mapping[Address, Tamper] = field(default_factory=dict)
    skip: Sequence[Address] = ()


@dataclass
class Federation:
    """A deployment with funded node wallets, played round by round."""

    backend: Backend
    store: ContentStore
    gov: Ledger
    nodes: list[LocalAccount]
    seed: int
    results: dict[int, dict[Address, MergeResult]] = field(default_factory=dict)
    submitted: dict[int, list[Submitted]] = field(default_factory=dict)

    # -------------------------------------------------------------- setup

    @classmethod
    def deploy(
        cls,
        backend: Backend,
        store: ContentStore,
        n_nodes: int,
        *,
        rules: Rules | None = None,
        seed: int = 0,
        benchmark: Benchmark | None = None,
    ) -> Federation:
        """Deploy with a genesis model in `store`, register `n_nodes` funded wallets.

        @param benchmark names the rules' benchmark (default: shipped window 0)
        """
        bench = benchmark or benchmark_for_round(0)
        base_rules = rules or Rules(roi_min_bps=-10_000, probation_rounds=0)
        base_rules = base_rules.model_copy(update={"benchmark_id": bench.id})
        genesis_cfg = ModelConfig(init_seed=seed)
        genesis = encode_weights(init_weights(genesis_cfg), config_to_metadata(genesis_cfg))
        genesis_cid = store.put(genesis)
        deployer = node_key(seed, 10_000)
        backend.fund(deployer.address, 10**21)
        t0 = backend.latest_timestamp() + 100
        config = DeployConfig(
            t0=t0,
            round_length=ROUND_LENGTH,
            commit_window=COMMIT_WINDOW,
            reveal_window=REVEAL_WINDOW,
            genesis_digest=sha256_hex(genesis),
            genesis_cid=genesis_cid,
            rules=base_rules,
        )
        gov = Ledger.deploy(backend, deployer, config)
        nodes = [node_key(seed, i) for i in range(n_nodes)]
        for acct in nodes:
            backend.fund(acct.address, 10**20)
            gov.with_account(acct).register()
        return cls(backend=backend, store=store, gov=gov, nodes=nodes, seed=seed)

    def reader(self) -> Ledger:
        """A fresh read-only view with the event log read once (fast on the embedded chain)."""
        from flchain.audit.source import SnapshotLedger

        return SnapshotLedger(self.backend, self.gov.address, from_block=self.gov.from_block)

    def ledger_for(self, node: Address) -> Ledger:
        return self.gov.with_account(self.account(node))

    def account(self, node: Address) -> LocalAccount:
        return next(a for a in self.nodes if a.address.lower() == node.lower())

    @property
    def addresses(self) -> list[Address]:
        return [str(a.address) for a in self.nodes]

    # -------------------------------------------------------------- one update

    def craft_update(
        self,
        round: int,
        node: Address,
        base: GlobalModel,
        directive: Directive | None,
        rules: Rules,
    ) -> tuple[bytes, int]:
        """A valid update of `base` for `node` (its directive applied) and its true ROI (bps)."""
        base_tensors, _ = decode_weights(self.store.get(base.cid))
        seed = _seed_int(self.seed, round, node)
        choices: dict[str, object] = {}
        if directive is not None:
            choices = {  # a directive keeps the base's feature set and lookbacks
                "train_mask": directive_mask(directive),
                "learning_rate_ppm": directive.learning_rate_ppm,
                "epochs": directive.epochs,
                "init_seed": directive.init_seed,
                "directive": directive,
            }
        else:
            choices = {"init_seed": seed}
        config = ModelConfig(perturb_ppm=PERTURB_PPM, base_digest=base.digest, **choices)
        tensors = perturb_weights(base_tensors, seed, PERTURB_PPM)
        payload = encode_weights(tensors, config_to_metadata(config))
        bench = benchmark_for_rules(rules, round)
        true_roi = roi_bps(
            bench.exec_prices, reference_positions(tensors, config, bench.bars), rules.fee_ppm
        )
        return payload, true_roi

    # -------------------------------------------------------------- a round

    def play_round(self, round: int, plan: RoundPlan | None = None) -> dict[Address, MergeResult]:
        """Commit, reveal and attest `round` with the faults in `plan`; returns each attester's
        attested result. Chain time ends inside the round's closed phase."""
        plan = plan or RoundPlan()
        self.gov.goto(round, Phase.COMMIT)
        view = self.reader()
        rules = view.rules_from_events(round)
        base = view.latest_global()
        # The record is incomplete now, but its base and directives are what the merge will use.
        directives = {
            d.node.lower(): d for d in directives_for_record(self.store, view.round_record(round))
        }
        offsets = {k.lower(): v for k, v in plan.claim_offsets.items()}
        withheld = {a.lower() for a in plan.withheld}
        skip = {a.lower() for a in plan.skip}
        subs: list[Submitted] = []
        for acct in self.nodes:
            node: Address = str(acct.address)
            if node.lower() in skip:
                continue
            payload, true_roi = self.craft_update(
                round, node, base, directives.get(node.lower()), rules
            )
            claim = true_roi + offsets.get(node.lower(), 0)
            cid = cid_for_bytes(payload)
            stored = node.lower() not in withheld
            if stored:
                self.store.put(payload)
            sub = Submitted(node, payload, sha256_hex(payload), cid, claim, true_roi, stored)
            salt = _salt(self.seed, round, node)
            ledger = self.ledger_for(node)
            ledger.commit(
                round,
                commitment_hash(
                    ledger.chain_id,
                    ledger.address,
                    round,
                    node,
                    sub.digest,
                    cid,
                    base.digest,
                    claim,
                    salt,
                ),
            )
            subs.append(sub)
        self.gov.goto(round, Phase.REVEAL)
        revealed: list[Submitted] = []
        for sub in subs:
            _, outcome = self.ledger_for(sub.node).reveal(
                round,
                sub.digest,
                sub.cid,
                base.digest,
                sub.roi_bps,
                _salt(self.seed, round, sub.node),
            )
            revealed.append(
                Submitted(
                    sub.node,
                    sub.payload,
                    sub.digest,
                    sub.cid,
                    sub.roi_bps,
                    sub.true_roi_bps,
                    sub.stored,
                    outcome,
                )
            )
        self.submitted[round] = revealed
        self.gov.goto(round, Phase.CLOSED)
        attesters = list(plan.attesters) if plan.attesters is not None else self.addresses
        tampers = {k.lower(): v for k, v in plan.tampers.items()}
        out: dict[Address, MergeResult] = {}
        for node in attesters:
            out[node] = publish_and_attest(
                self.reader(),
                self.account(node),
                self.store,
                round,
                tamper=tampers.get(node.lower()),
            )
        self.results[round] = out
        return out
