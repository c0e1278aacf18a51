"""`Ledger`: the one typed interface to the FLChain contract the rest of flchain uses.

A small facade over the parts, each with one job:

- `Deployment` (`deployment.py`): the contract on a backend and what is fixed at deployment,
  shared by every Ledger on it;
- a `Signer` composed in, and `TxSender` (`sending.py`): writes return a `TxResult` with the
  receipt's gas and typed events; a refusal surfaces as `ContractRevert` by error name;
- `views.py`: typed reads of contract storage;
- the event index (`index.py`) of typed events (`events.py`), and round history rebuilt from
  events alone (`history.py`), so an auditor can compare both.

Devnet time moves on the backend (`Backend.set_time`, `advance_time`, `goto`), not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field

from flchain.hashing import hex_to_bytes32
from flchain.ledger import history, views
from flchain.ledger.backends import Backend
from flchain.ledger.deployment import Deployment, load_artifact
from flchain.ledger.errors import LedgerError
from flchain.ledger.events import Attested, ChainEvent, Revealed, RoundFinalized
from flchain.ledger.facade import LedgerBase, send_constructor
from flchain.ledger.hashes import canonical_penalised, cid_to_bytes
from flchain.ledger.sending import Signer, TxPolicy, TxResult
from flchain.ledger.views import CommitState, NodeRecord
from flchain.protocol import (
    Address,
    Bytes32,
    GlobalModel,
    Phase,
    RevealOutcome,
    RoundRecord,
    Rules,
    Schedule,
    rules_to_tuple,
)

E = TypeVar("E", bound=ChainEvent)

#: Gas of a finalizing `attest`, the costliest path an attestation can take (it writes the
#: Final record, and a penalty per listed node), above bench/gas.py's worst figures (112 737 +
#: 10 774 per penalised node) by ~10 %. An attestation's estimate is taken on the state before
#: it is mined: when another vote for the same result lands first in the same block, the one
#: estimated as non-finalizing is the one that finalizes. So every attestation is sent with
#: at least this much gas; it pays only for what it uses. (A state override of the vote count
#: in eth_estimateGas would need the contract's storage layout and a provider that supports
#: it; the floor needs neither. tests/ledger/test_attest_gas.py checks the floor still covers
#: the contract.)
FINALIZING_ATTEST_GAS = 125_000
FINALIZING_ATTEST_GAS_PER_PENALISED = 12_000


class DeployConfig(BaseModel):
    """Everything fixed at deployment."""

    model_config = ConfigDict(frozen=True)

    t0: int = Field(ge=0)
    round_length: int = Field(86_400, gt=0)
    commit_window: int = Field(43_200, gt=0)
    reveal_window: int = Field(21_600, gt=0)
    min_bond: int = Field(0, ge=0, description="wei")
    exit_delay: int = Field(7 * 86_400, ge=0, description="seconds from exit request to withdrawal")
    genesis_digest: Bytes32
    genesis_cid: str
    rules: Rules = Rules()


class AttestResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    tx: TxResult
    result_hash: Bytes32
    votes: int
    finalized: bool


class Ledger(LedgerBase[Deployment]):
    """The FLChain `deployment`, signing as `signer` (none: read-only) under `policy` (fees,
    gas margin, waiting, replacement, confirmations: `flchain.ledger.sending.TxPolicy`)."""

    BINDING = Deployment

    # ------------------------------------------------------------ construction

    @classmethod
    def deploy(
        cls,
        backend: Backend,
        deployer: LocalAccount,
        config: DeployConfig,
        policy: TxPolicy | None = None,
    ) -> Ledger:
        """Deploy a fresh contract; `deployer` becomes the governor."""
        args = (
            config.t0,
            config.round_length,
            config.commit_window,
            config.reveal_window,
            config.min_bond,
            config.exit_delay,
            hex_to_bytes32(config.genesis_digest),
            cid_to_bytes(config.genesis_cid),
            rules_to_tuple(config.rules, 0),
        )
        address, block = send_constructor(backend, deployer, load_artifact(), args, policy)
        deployment = Deployment(backend, address, from_block=block)
        return cls(deployment, Signer(deployer), policy)

    @property
    def deployment(self) -> Deployment:
        """The v1 contract binding: schedule and genesis read once, decoders, event index."""
        return self._binding

    @property
    def schedule(self) -> Schedule:
        return self.deployment.schedule

    def with_account(self, account: LocalAccount) -> Ledger:
        """The same deployment (decoders, event index, cached immutables) and policy, signing
        as `account` (a plain `Ledger`, whatever view this one is)."""
        return Ledger(self._binding, Signer(account), self.policy)

    # ------------------------------------------------------------ sending

    def register(self, bond: int = 0) -> TxResult:
        """Register the signer as a node with `bond` wei."""
        return self._transact("register", value=bond)

    def request_exit(self) -> TxResult:
        return self._transact("requestExit")

    def withdraw(self) -> TxResult:
        return self._transact("withdraw")

    def commit(self, round: int, commitment: Bytes32) -> TxResult:
        """Post `commitment` (see `flchain.ledger.commitment_hash`) for `round`, mined before
        its commit window ends (else `DeadlineMissed`)."""
        return self._transact(
            "commit",
            round,
            hex_to_bytes32(commitment),
            deadline=self.schedule.commit_end(round),
        )

    def reveal(
        self,
        round: int,
        update_digest: Bytes32,
        cid: str | bytes,
        base_digest: Bytes32,
        roi_bps: int,
        salt: Bytes32,
    ) -> tuple[TxResult, RevealOutcome]:
        """Reveal the committed update, mined before the reveal window ends (else
        `DeadlineMissed`); returns the transaction and the on-chain outcome."""
        tx = self._transact(
            "reveal",
            round,
            hex_to_bytes32(update_digest),
            cid_to_bytes(cid),
            hex_to_bytes32(base_digest),
            roi_bps,
            hex_to_bytes32(salt),
            deadline=self.schedule.reveal_end(round),
        )
        return tx, next(e.outcome for e in tx.events if isinstance(e, Revealed))

    def attest(
        self,
        round: int,
        merged_digest: Bytes32,
        merged_cid: str | bytes,
        manifest_cid: str | bytes,
        penalised: Iterable[Address] = (),
    ) -> AttestResult:
        """Attest the merge result of `round` (penalised nodes are put in canonical order),
        with gas for the finalizing path whatever the estimate (`FINALIZING_ATTEST_GAS`)."""
        listed = list(canonical_penalised(penalised))
        tx = self._transact(
            "attest",
            round,
            hex_to_bytes32(merged_digest),
            cid_to_bytes(merged_cid),
            cid_to_bytes(manifest_cid),
            listed,
            gas_floor=FINALIZING_ATTEST_GAS + FINALIZING_ATTEST_GAS_PER_PENALISED * len(listed),
        )
        att = next(e for e in tx.events if isinstance(e, Attested))
        return AttestResult(
            tx=tx,
            result_hash=att.result_hash,
            votes=att.votes,
            finalized=any(isinstance(e, RoundFinalized) for e in tx.events),
        )

    def schedule_rules(self, effective_round: int, rules: Rules) -> TxResult:
        """Schedule `rules` from `effective_round` on (governor only, never the open round)."""
        return self._transact("scheduleRules", rules_to_tuple(rules, effective_round))

    def transfer_governance(self, new_governor: Address) -> TxResult:
        return self._transact("transferGovernance", to_checksum_address(new_governor))

    # ------------------------------------------------------------ views

    def now(self) -> int:
        """Timestamp of the latest block."""
        return views.get_latest_timestamp(self.backend)

    def block_timestamp(self, block_number: int) -> int:
        """Timestamp of block `block_number` (cached per backend)."""
        return views.get_block_timestamp(self.backend, block_number)

    def phase(self) -> tuple[int, Phase]:
        """(round, phase) at the latest block."""
        return self.schedule.phase_at(self.now())

    def current_round(self) -> int:
        return self.phase()[0]

    def governor(self) -> Address:
        return views.get_governor(self.deployment)

    def rules_for_round(self, round: int) -> Rules:
        return views.get_rules_for_round(self.deployment, round)

    def node_record(self, node: Address) -> NodeRecord:
        return views.get_node_record(self.deployment, node)

    def is_eligible(self, node: Address, round: int) -> bool:
        return views.get_is_eligible(self.deployment, node, round)

    def votes_for(self, round: int, result_hash: Bytes32) -> int:
        return views.get_votes_for(self.deployment, round, result_hash)

    def commitment_of(self, round: int, node: Address) -> CommitState:
        return views.get_commitment_of(self.deployment, round, node)

    def genesis(self) -> GlobalModel:
        return self.deployment.genesis

    def finalized(self, round: int) -> GlobalModel | None:
        """The finalized global model of `round` from contract storage, or None."""
        return views.get_finalized(self.deployment, round)

    def latest_global(self) -> GlobalModel:
        """The most recent finalized global model (highest round), or genesis."""
        rounds = [e.round for e in self.events(RoundFinalized)]
        if not rounds:
            return self.genesis()
        model = self.finalized(max(rounds))
        if model is None:  # a RoundFinalized event always has its storage record
            raise LedgerError("RoundFinalized event without a finalized record: inconsistent chain")
        return model

    # ------------------------------------------------------------ round history (events only)

    def schedule_from_events(self) -> tuple[Schedule, GlobalModel]:
        """Round schedule and genesis model from the deployment's `Genesis` event."""
        with self._one_read():
            return history.compute_schedule(self)

    def rules_from_events(self, round: int) -> Rules:
        """Rules frozen for `round`, from `RulesScheduled` events."""
        with self._one_read():
            return history.compute_rules(self, round)

    def finalized_from_events(self, round: int) -> GlobalModel | None:
        """The finalized model of `round` from its `RoundFinalized` and `Attested` events."""
        with self._one_read():
            return history.compute_finalized(self, round)

    def base_for_round(self, round: int, schedule: Schedule | None = None) -> GlobalModel:
        """Base model of `round`: the finalized model of the latest round r' < round finalized
        before `round`'s reveal window closed; genesis if there is none. From events alone."""
        with self._one_read():
            return history.compute_base(self, round, schedule)

    def round_record(self, round: int) -> RoundRecord:
        """Everything the chain says about `round`, rebuilt from events alone (one index sync,
        so every part comes from the same block)."""
        with self._one_read():
            return history.compute_round_record(
                self, round, chain_id=self.chain_id, contract=self.address
            )
