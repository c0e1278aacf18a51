"""`Ledger`: one typed interface over the FLChain contract, for every backend.

Writes are signed locally by an `eth_account` LocalAccount and return a `TxResult` with the
receipt's gas. A refusal surfaces as `ContractRevert` carrying the contract's custom error by
name. Reads return the shared `flchain.protocol` types; `round_record` rebuilds a round from
events alone (no contract view is trusted for it), so an auditor can compare both.

Events are read through one `flchain.ledger.events.EventIndex` per contract and backend (shared
by `with_account` copies and any other Ledger on the same backend), filled incrementally and
decoded once; block timestamps are cached by the backend (`block_timestamp`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from enum import IntEnum
from functools import cached_property
from importlib import resources
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field
from web3.contract import Contract

from flchain.hashing import hex_to_bytes32
from flchain.ledger.backends import NETWORK_ERRORS, Backend
from flchain.ledger.errors import (
    ChainConfigError,
    ChainUnavailable,
    ContractRevert,
    LedgerError,
    TransactionFailed,
)
from flchain.ledger.events import ChainEvent, EventCodec, EventIndex, ReadScope
from flchain.ledger.hashes import canonical_penalised, cid_to_bytes
from flchain.ledger.revert import ErrorDecoder, revert_data
from flchain.protocol import (
    Address,
    Attestation,
    Bytes32,
    Commitment,
    GlobalModel,
    Phase,
    Reveal,
    RevealOutcome,
    RoundRecord,
    Rules,
    Schedule,
    rules_from_tuple,
    rules_to_tuple,
)
from flchain.storage.cid import cid_from_bytes

# ---------------------------------------------------------------- artifact


def load_artifact() -> dict[str, Any]:
    """The committed compile artifact (abi, bytecode, compiler settings)."""
    text = resources.files("flchain").joinpath("contracts/FLChain.json").read_text()
    artifact: dict[str, Any] = json.loads(text)
    return artifact


# ---------------------------------------------------------------- values


class NodeStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    EXITING = 2
    WITHDRAWN = 3


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


class NodeRecord(BaseModel):
    """A node's registration and on-chain performance record."""

    model_config = ConfigDict(frozen=True)

    address: Address
    status: NodeStatus
    index: int
    accepted_reveals: int
    penalties: int
    roi_sum_bps: int
    last_attested_round: int | None
    withdrawable_at: int
    bond: int


class TxResult(BaseModel):
    """What a successful transaction did."""

    model_config = ConfigDict(frozen=True)

    function: str
    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[ChainEvent, ...] = ()


class CommitState(BaseModel):
    """What the contract stores about one node's commitment in one round."""

    model_config = ConfigDict(frozen=True)

    commitment: Bytes32 | None  # None: not committed, or revealed (the slot then holds the outcome)
    revealed: bool
    outcome: RevealOutcome | None  # None until revealed


class AttestResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    tx: TxResult
    result_hash: Bytes32
    votes: int
    finalized: bool


TxResult.model_rebuild()

# ---------------------------------------------------------------- conversions


def _hex32(value: bytes) -> Bytes32:
    return "0x" + bytes(value).hex()


def _cid_str(value: bytes) -> str:
    return str(cid_from_bytes(bytes(value)))


def _call_params(tx: Mapping[str, Any]) -> dict[str, Any]:
    """The eth_call twin of a built transaction (no nonce or fee fields)."""
    return {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}


def _plain(value: Any) -> Any:
    """Decoded event/call values as JSON-friendly plain Python."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------- the ledger


#: cached_property values fixed at deployment, carried over by `Ledger.with_account`.
_IMMUTABLE_CACHES = ("schedule", "chain_id", "_genesis", "_event_codecs", "_event_topics")


class Ledger:
    """The FLChain contract at `address` on `backend`, signing as `account` (optional for reads)."""

    GAS_MARGIN_PCT = 20  # over the estimate: py-evm and anvil estimate exactly; refunds vary

    def __init__(
        self,
        backend: Backend,
        address: Address,
        account: LocalAccount | None = None,
        *,
        from_block: int = 0,
        check: bool = True,
    ) -> None:
        self.backend = backend
        self.w3 = backend.w3
        self.address = to_checksum_address(address)
        self.account = account
        self.from_block = from_block
        self._artifact = load_artifact()
        self.contract: Contract = self.w3.eth.contract(
            address=self.address, abi=self._artifact["abi"]
        )
        self._errors = ErrorDecoder(self._artifact["abi"])
        self._read_scope = ReadScope()
        if check:
            self._check_code()

    # ------------------------------------------------------------ construction

    @classmethod
    def deploy(cls, backend: Backend, deployer: LocalAccount, config: DeployConfig) -> Ledger:
        """Deploy a fresh contract; `deployer` becomes the governor."""
        artifact = load_artifact()
        factory = backend.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        ctor = factory.constructor(
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
        probe = cls.__new__(cls)
        probe.w3 = backend.w3
        probe.backend = backend
        probe._errors = ErrorDecoder(artifact["abi"])
        receipt = probe._send(ctor, deployer, "constructor", value=0)
        address = receipt["contractAddress"]
        return cls(backend, address, deployer, from_block=int(receipt["blockNumber"]))

    @classmethod
    def connect(
        cls,
        backend: Backend,
        address: Address,
        account: LocalAccount | None = None,
        *,
        from_block: int = 0,
    ) -> Ledger:
        """Attach to an existing deployment (checks that code is there and answers)."""
        return cls(backend, address, account, from_block=from_block)

    def with_account(self, account: LocalAccount) -> Ledger:
        """The same contract, signing as another wallet (sharing this one's immutables: ABI,
        bound contract, error decoder and, once read, schedule and chain id)."""
        other = Ledger.__new__(Ledger)
        other.backend = self.backend
        other.w3 = self.w3
        other.address = self.address
        other.account = account
        other.from_block = self.from_block
        other._artifact = self._artifact
        other.contract = self.contract
        other._errors = self._errors
        other._read_scope = ReadScope()
        for name in _IMMUTABLE_CACHES:
            if name in self.__dict__:
                other.__dict__[name] = self.__dict__[name]
        return other

    def _check_code(self) -> None:
        try:
            code = self.w3.eth.get_code(self.address)
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read contract code") from None
        if not code:
            raise ChainConfigError(
                f"no contract code at {self.address} on chain {self.backend.chain_id}"
            )
        try:
            self.contract.functions.genesisDigest().call()
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read the contract") from None
        except Exception:
            raise ChainConfigError(
                f"the contract at {self.address} is not an FLChain deployment"
            ) from None

    # ------------------------------------------------------------ sending

    def _signer(self) -> LocalAccount:
        if self.account is None:
            raise ChainConfigError(
                "this Ledger has no wallet: pass an account to send transactions"
            )
        return self.account

    def _raise_revert(self, exc: BaseException, function: str) -> None:
        data = revert_data(exc)
        decoded = self._errors.decode(data) if data else None
        if decoded is not None:
            name, args = decoded
            raise ContractRevert(name, args, function) from None

    def _send(self, call: Any, account: LocalAccount, function: str, value: int = 0) -> Any:
        """Check (surfacing reverts by name), sign locally, send, wait; returns the receipt.

        JSON-RPC chains estimate gas (plus a margin: they charge for the limit); the embedded
        chain runs the transaction once as an eth_call on the pending block (the one it will
        be mined in) and sends it with the backend's fixed limit."""
        w3 = self.w3
        sender = account.address
        fixed_gas = self.backend.FIXED_GAS
        try:
            nonce = w3.eth.get_transaction_count(sender, "pending")
            chain_id = self.__dict__.get("chain_id") or w3.eth.chain_id  # cached after the first
            params: dict[str, Any] = {
                "from": sender,
                "nonce": nonce,
                "value": value,
                "chainId": chain_id,
            }
            if fixed_gas is not None:
                params["gas"] = fixed_gas
            try:
                tx = call.build_transaction(params)
                if fixed_gas is not None:
                    w3.eth.call(_call_params(tx), "pending")  # type: ignore[arg-type]
            except NETWORK_ERRORS:
                raise
            except Exception as exc:
                self._raise_revert(exc, function)
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise TransactionFailed(f"{function} would fail: {first[:200]}") from None
            if fixed_gas is None:
                tx["gas"] = int(tx["gas"]) * (100 + self.GAS_MARGIN_PCT) // 100
            signed = account.sign_transaction(tx)
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"lost the chain connection while sending {function}") from None
        self.backend.note_receipt(receipt)
        if int(receipt["status"]) != 1:
            # Passed the check but failed when mined (state or time moved in between).
            data = self.backend.revert_data_of(receipt)
            decoded = self._errors.decode(data) if data else None
            if decoded is not None:
                raise ContractRevert(decoded[0], decoded[1], function)
            raise TransactionFailed(
                f"{function} reverted in block {receipt['blockNumber']} (tx {tx_hash.hex()})"
            )
        return receipt

    def _transact(self, function: str, *args: Any, value: int = 0) -> TxResult:
        account = self._signer()
        call = getattr(self.contract.functions, function)(*args)
        receipt = self._send(call, account, function, value=value)
        return TxResult(
            function=function,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            events=tuple(self._decode_logs(receipt["logs"])),
        )

    def _call(self, function: str, *args: Any) -> Any:
        try:
            return getattr(self.contract.functions, function)(*args).call()
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"cannot reach the chain to call {function}") from None
        except Exception as exc:
            self._raise_revert(exc, function)
            raise LedgerError(f"{function} call failed: {str(exc).splitlines()[0][:200]}") from None

    # ------------------------------------------------------------ identity

    def register(self, bond: int = 0) -> TxResult:
        """Register the signer as a node with `bond` wei."""
        return self._transact("register", value=bond)

    def request_exit(self) -> TxResult:
        return self._transact("requestExit")

    def withdraw(self) -> TxResult:
        return self._transact("withdraw")

    # ------------------------------------------------------------ commit–reveal

    def commit(self, round: int, commitment: Bytes32) -> TxResult:
        """Post `commitment` (see `flchain.ledger.commitment_hash`) for `round`."""
        return self._transact("commit", round, hex_to_bytes32(commitment))

    def reveal(
        self,
        round: int,
        update_digest: Bytes32,
        cid: str | bytes,
        base_digest: Bytes32,
        roi_bps: int,
        salt: Bytes32,
    ) -> tuple[TxResult, RevealOutcome]:
        """Reveal the committed update; returns the transaction and the on-chain outcome."""
        tx = self._transact(
            "reveal",
            round,
            hex_to_bytes32(update_digest),
            cid_to_bytes(cid),
            hex_to_bytes32(base_digest),
            roi_bps,
            hex_to_bytes32(salt),
        )
        outcome = next(
            RevealOutcome(int(e.args["outcome"])) for e in tx.events if e.name == "Revealed"
        )
        return tx, outcome

    # ------------------------------------------------------------ attestation

    def attest(
        self,
        round: int,
        merged_digest: Bytes32,
        merged_cid: str | bytes,
        manifest_cid: str | bytes,
        penalised: Iterable[Address] = (),
    ) -> AttestResult:
        """Attest the merge result of `round` (penalised nodes are put in canonical order)."""
        tx = self._transact(
            "attest",
            round,
            hex_to_bytes32(merged_digest),
            cid_to_bytes(merged_cid),
            cid_to_bytes(manifest_cid),
            list(canonical_penalised(penalised)),
        )
        att = next(e for e in tx.events if e.name == "Attested")
        return AttestResult(
            tx=tx,
            result_hash=str(att.args["resultHash"]),
            votes=int(att.args["votes"]),
            finalized=any(e.name == "RoundFinalized" for e in tx.events),
        )

    # ------------------------------------------------------------ governance

    def schedule_rules(self, effective_round: int, rules: Rules) -> TxResult:
        """Schedule `rules` from `effective_round` on (governor only, never the open round)."""
        return self._transact("scheduleRules", rules_to_tuple(rules, effective_round))

    def transfer_governance(self, new_governor: Address) -> TxResult:
        return self._transact("transferGovernance", to_checksum_address(new_governor))

    # ------------------------------------------------------------ reads

    @cached_property
    def schedule(self) -> Schedule:
        return Schedule(
            t0=int(self._call("T0")),
            round_length=int(self._call("roundLength")),
            commit_window=int(self._call("commitWindow")),
            reveal_window=int(self._call("revealWindow")),
        )

    @cached_property
    def chain_id(self) -> int:
        return self.backend.chain_id

    def now(self) -> int:
        """Timestamp of the latest block."""
        try:
            return self.backend.latest_timestamp()
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read the latest block") from None

    def phase(self) -> tuple[int, Phase]:
        """(round, phase) at the latest block."""
        return self.schedule.phase_at(self.now())

    def current_round(self) -> int:
        return self.phase()[0]

    def governor(self) -> Address:
        return str(self._call("governor"))

    def rules_for_round(self, round: int) -> Rules:
        return rules_from_tuple(self._call("rulesForRound", round))[1]

    def node_record(self, node: Address) -> NodeRecord:
        record, bond = self._call("nodeRecord", to_checksum_address(node))
        items = list(record.values()) if isinstance(record, Mapping) else list(record)
        status, index, accepted, penalties, roi_sum, last_attested, withdrawable_at = items
        return NodeRecord(
            address=to_checksum_address(node),
            status=NodeStatus(int(status)),
            index=int(index),
            accepted_reveals=int(accepted),
            penalties=int(penalties),
            roi_sum_bps=int(roi_sum),
            last_attested_round=int(last_attested) - 1 if int(last_attested) else None,
            withdrawable_at=int(withdrawable_at),
            bond=int(bond),
        )

    def is_eligible(self, node: Address, round: int) -> bool:
        return bool(self._call("isEligible", to_checksum_address(node), round))

    def votes_for(self, round: int, result_hash: Bytes32) -> int:
        return int(self._call("votesFor", round, hex_to_bytes32(result_hash)))

    def genesis(self) -> GlobalModel:
        return self._genesis

    @cached_property
    def _genesis(self) -> GlobalModel:
        # Set by the constructor and never written again.
        digest, cid = self._call("genesis")
        return GlobalModel(round=-1, digest=_hex32(digest), cid=_cid_str(cid))

    def finalized(self, round: int) -> GlobalModel | None:
        """The finalized global model of `round` from contract storage, or None."""
        is_final, digest, merged_cid, manifest_cid, finalized_at, _votes = self._call(
            "finalized", round
        )
        if not is_final:
            return None
        return GlobalModel(
            round=round,
            digest=_hex32(digest),
            cid=_cid_str(merged_cid),
            manifest_cid=_cid_str(manifest_cid),
            finalized_at=int(finalized_at),
        )

    def latest_global(self) -> GlobalModel:
        """The most recent finalized global model (highest round), or genesis."""
        rounds = [int(e.args["round"]) for e in self.events("RoundFinalized")]
        if not rounds:
            return self.genesis()
        model = self.finalized(max(rounds))
        if model is None:  # a RoundFinalized event always has its storage record
            raise LedgerError("RoundFinalized event without a finalized record: inconsistent chain")
        return model

    # ------------------------------------------------------------ events

    def _decode_logs(self, logs: Iterable[Any]) -> list[ChainEvent]:
        """This contract's logs as `ChainEvent`s (others' logs and unknown topics dropped)."""
        out: list[ChainEvent] = []
        codecs = self._event_codecs
        for log in logs:
            if to_checksum_address(log["address"]) != self.address or not log["topics"]:
                continue
            codec = codecs.get(bytes(log["topics"][0]))
            if codec is None:
                continue
            out.append(
                ChainEvent(
                    name=codec.name,
                    args=_plain(codec.decode(self.w3.codec, log)),
                    block_number=int(log["blockNumber"]),
                    log_index=int(log["logIndex"]),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                )
            )
        return out

    def _decode_logs_with_web3(self, logs: Iterable[Any]) -> list[ChainEvent]:
        """The same through web3's `process_log` (the reference `_decode_logs` is tested against;
        about 5× slower, which every first read of a long log paid)."""
        out: list[ChainEvent] = []
        by_topic = self._event_topics
        for log in logs:
            if to_checksum_address(log["address"]) != self.address or not log["topics"]:
                continue
            name = by_topic.get(bytes(log["topics"][0]))
            if name is None:
                continue
            decoded = getattr(self.contract.events, name)().process_log(log)
            out.append(
                ChainEvent(
                    name=name,
                    args=_plain(dict(decoded["args"])),
                    block_number=int(log["blockNumber"]),
                    log_index=int(log["logIndex"]),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                )
            )
        return out

    @cached_property
    def _event_codecs(self) -> dict[bytes, EventCodec]:
        return {
            topic: EventCodec(
                next(
                    i for i in self._artifact["abi"] if i.get("type") == "event" and i["name"] == n
                )
            )
            for topic, n in self._event_topics.items()
        }

    @cached_property
    def _event_topics(self) -> dict[bytes, str]:
        from eth_hash.auto import keccak

        from flchain.ledger.revert import _abi_type

        topics: dict[bytes, str] = {}
        for item in self._artifact["abi"]:
            if item.get("type") == "event":
                sig = f"{item['name']}({','.join(_abi_type(p) for p in item['inputs'])})"
                topics[keccak(sig.encode())] = str(item["name"])
        return topics

    def _topic_of(self, name: str) -> bytes:
        for topic, event in self._event_topics.items():
            if event == name:
                return topic
        raise ChainConfigError(f"the contract has no event named {name}")

    @property
    def event_index(self) -> EventIndex:
        """The event index of this contract on this backend (shared; see `flchain.ledger.events`)."""
        return self.backend.shared(
            ("events", self.address, self.from_block),
            lambda: EventIndex(self.backend, self.address, self.from_block, self._decode_logs),
        )

    def sync_events(self) -> int:
        """Index every block mined since the last read; returns the last block indexed."""
        try:
            return self.event_index.sync()
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read events") from None

    def _one_read(self) -> AbstractContextManager[None]:
        """Context: one sync for everything read inside it (nested reads do not sync again)."""
        return self._read_scope(self.sync_events)

    def events(
        self, name: str | None = None, round: int | None = None, *, to_block: int | None = None
    ) -> list[ChainEvent]:
        """Decoded contract events in chain order, optionally one kind and/or one round (the
        round is the first indexed topic of every per-round event) and up to `to_block`.

        Served from the shared event index after indexing the blocks mined since the last read
        (none inside a `round_record` or similar compound read, which syncs once)."""
        if name is not None:
            self._topic_of(name)  # an unknown event name is a caller error, as before
        if not self._read_scope.active:
            self.sync_events()
        return self.event_index.query(name, round, to_block=to_block)

    def block_timestamp(self, block_number: int) -> int:
        """Timestamp of block `block_number` (cached per backend)."""
        try:
            return self.backend.block_timestamp(block_number)
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read a block") from None

    def commitment_of(self, round: int, node: Address) -> CommitState:
        """The contract's record of `node`'s commitment in `round` (storage, not events): the
        pending commitment before the reveal; after it, `revealed` and the on-chain outcome."""
        value, revealed, outcome = self._call("commitmentOf", round, to_checksum_address(node))
        commitment = "0x" + bytes(value).hex()
        return CommitState(
            commitment=None if int(commitment, 16) == 0 else commitment,
            revealed=bool(revealed),
            outcome=RevealOutcome(int(outcome)) if revealed else None,
        )

    # ------------------------------------------------------------ rebuilding a round from logs

    def schedule_from_events(self) -> tuple[Schedule, GlobalModel]:
        """Round schedule and genesis model from the deployment's `Genesis` event."""
        found = self.events("Genesis")
        if not found:
            raise LedgerError("no Genesis event: wrong contract or from_block after the deployment")
        g = found[0].args
        schedule = Schedule(
            t0=int(g["t0"]),
            round_length=int(g["roundLength"]),
            commit_window=int(g["commitWindow"]),
            reveal_window=int(g["revealWindow"]),
        )
        genesis = GlobalModel(
            round=-1, digest=str(g["digest"]), cid=_cid_str(bytes.fromhex(g["cid"][2:]))
        )
        return schedule, genesis

    def rules_from_events(self, round: int) -> Rules:
        """Rules frozen for `round`, from `RulesScheduled` events (a later event for the same
        version replaces it; the version with the greatest effective round ≤ `round` wins)."""
        versions: dict[int, tuple[int, Rules]] = {}
        for e in self.events("RulesScheduled"):
            versions[int(e.args["version"])] = rules_from_tuple(e.args["rules"])
        applicable = [(eff, v, rules) for v, (eff, rules) in versions.items() if eff <= round]
        if not applicable:
            raise LedgerError(f"no rules in force for round {round} in the event log")
        return max(applicable, key=lambda t: (t[0], t[1]))[2]

    def finalized_from_events(self, round: int) -> GlobalModel | None:
        """The finalized model of `round` from its `RoundFinalized` and `Attested` events."""
        fin = self.events("RoundFinalized", round)
        if not fin:
            return None
        result = fin[0].args["resultHash"]
        att = next(a for a in self.events("Attested", round) if a.args["resultHash"] == result)
        return GlobalModel(
            round=round,
            digest=str(att.args["mergedDigest"]),
            cid=_cid_str(bytes.fromhex(att.args["mergedCid"][2:])),
            manifest_cid=_cid_str(bytes.fromhex(att.args["manifestCid"][2:])),
            finalized_at=self.block_timestamp(fin[0].block_number),
        )

    def base_for_round(self, round: int, schedule: Schedule | None = None) -> GlobalModel:
        """Base model of `round`: the finalized model of the latest round r' < round finalized
        before `round`'s reveal window closed; genesis if there is none. From events alone."""
        with self._one_read():
            return self._base_for_round(round, schedule)

    def _base_for_round(self, round: int, schedule: Schedule | None) -> GlobalModel:
        sched, genesis = self.schedule_from_events()
        sched = schedule or sched
        deadline = sched.reveal_end(round)
        best: GlobalModel | None = None
        for e in self.events("RoundFinalized"):
            r = int(e.args["round"])
            if r >= round or (best is not None and r <= best.round):
                continue
            if self.block_timestamp(e.block_number) >= deadline:
                continue
            best = self.finalized_from_events(r)
        return best or genesis

    def round_record(self, round: int) -> RoundRecord:
        """Everything the chain says about `round`, rebuilt from events alone (one index sync,
        so every part comes from the same block)."""
        with self._one_read():
            return self._round_record(round)

    def _round_record(self, round: int) -> RoundRecord:
        schedule, _ = self.schedule_from_events()
        commitments = tuple(
            Commitment(
                round=round,
                node=str(e.args["node"]),
                commitment=str(e.args["commitment"]),
                block_number=e.block_number,
            )
            for e in self.events("Committed", round)
        )
        reveals = tuple(
            Reveal(
                round=round,
                node=str(e.args["node"]),
                update_digest=str(e.args["updateDigest"]),
                cid=_cid_str(bytes.fromhex(e.args["cid"][2:])),
                base_digest=str(e.args["baseDigest"]),
                roi_bps=int(e.args["roiBps"]),
                salt=str(e.args["salt"]),
                outcome=RevealOutcome(int(e.args["outcome"])),
                block_number=e.block_number,
                log_index=e.log_index,
            )
            for e in self.events("Revealed", round)
        )
        attestations = tuple(
            Attestation(
                round=round,
                attester=str(e.args["attester"]),
                result_hash=str(e.args["resultHash"]),
                merged_digest=str(e.args["mergedDigest"]),
                merged_cid=_cid_str(bytes.fromhex(e.args["mergedCid"][2:])),
                manifest_cid=_cid_str(bytes.fromhex(e.args["manifestCid"][2:])),
                penalised=tuple(str(p) for p in e.args["penalised"]),
                block_number=e.block_number,
            )
            for e in self.events("Attested", round)
        )
        return RoundRecord(
            round=round,
            chain_id=self.chain_id,
            contract=self.address,
            start=schedule.start(round),
            commit_end=schedule.commit_end(round),
            reveal_end=schedule.reveal_end(round),
            end=schedule.end(round),
            rules=self.rules_from_events(round),
            commitments=commitments,
            reveals=reveals,
            attestations=attestations,
            base=self.base_for_round(round, schedule),
            finalized=self.finalized_from_events(round),
        )

    # ------------------------------------------------------------ devnet helpers

    def advance_time(self, seconds: int) -> int:
        return self.backend.advance_time(seconds)

    def set_time(self, timestamp: int) -> int:
        return self.backend.set_time(timestamp)

    def goto(self, round: int, phase: Phase, offset: int = 1) -> int:
        """Devnet: move chain time to `offset` seconds into `phase` of `round`."""
        s = self.schedule
        start = {
            Phase.COMMIT: s.start(round),
            Phase.REVEAL: s.commit_end(round),
            Phase.CLOSED: s.reveal_end(round),
        }.get(phase)
        if start is None:
            raise ChainConfigError("goto needs COMMIT, REVEAL or CLOSED")
        return self.set_time(start + offset)
