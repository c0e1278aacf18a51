"""The FLChainV2 contract and the reference machine side by side, one call at a time.

`Differential` deploys the committed artifact (`flchain/contracts/FLChainV2.json`) with web3 on
a real chain — the embedded eth-tester/py-evm chain or anvil — and initialises
`flchain.protocol.machine` with the same deployment, sender, chain id, address and timestamp.
`act(function, sender, *args)` then runs the call on both at the same block timestamp:

- the contract first as an `eth_call` on the pending block (its revert data, decoded against the
  ABI, is the refusal), then, if it succeeds, as a transaction signed locally and mined at that
  timestamp;
- the machine with `Tx(sender, timestamp, value)`;

and requires the same outcome: the same custom error name and arguments (or both reverting
without data: ether sent to a function that is not payable), or the same events, names and
fields in order. `check_views` compares every view the machine has. Any difference raises
`Disagreement` naming the call and what differed.

Time only moves forward: each call is mined in a block of its own, at `at` (a timestamp ≥ the
latest block's + 1) or at the next second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract

from flchain.ledger.revert import ErrorDecoder, revert_data
from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.merkle import SettlementTree

ARTIFACT = Path(__file__).resolve().parents[2] / "flchain" / "contracts" / "FLChainV2.json"
TX_GAS = 3_000_000  # above every FLChainV2 call; a fixed limit keeps estimation out of the way
ETHER = 10**18


class Disagreement(AssertionError):
    """The contract and the reference machine disagree."""


def artifact() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ARTIFACT.read_text())
    return loaded


# ---------------------------------------------------------------- chains


class Chain(Protocol):
    """What the harness needs of a chain: web3, time control, snapshots, funding."""

    w3: Web3

    def latest_timestamp(self) -> int: ...
    def set_next_timestamp(self, ts: int) -> None: ...
    def snapshot(self) -> Any: ...
    def revert(self, snapshot: Any) -> None: ...
    def fund(self, address: str, wei: int) -> None:
        """Add `wei` to `address`'s balance, in a block of its own."""
        ...


class EmbeddedChain:
    """eth-tester on py-evm, in-process. `set_next_timestamp(t)` stamps the pending block, so
    the next block (and an `eth_call` on the pending block) is at t."""

    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import EthereumTesterProvider

        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self._faucet = self.tester.get_accounts()[0]

    def latest_timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def set_next_timestamp(self, ts: int) -> None:
        latest = self.latest_timestamp()
        if ts <= latest:
            raise ValueError(f"time only moves forward: {ts} ≤ latest block {latest}")
        # The headers are stamped directly: py-evm opens the pending block at max(wall clock,
        # parent + 1), so once the wall clock passes the chain (a slow run, a snapshot reverted
        # to) neither the next block nor eth-tester's `time_travel` could land on `ts`.
        chain = self.tester.backend.chain
        if ts > latest + 1:  # a block at ts − 1 keeps the move even if no transaction follows
            chain.header = chain.header.copy(timestamp=ts - 1)
            self.tester.mine_blocks(1)
        chain.header = chain.header.copy(timestamp=ts)

    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def revert(self, snapshot: Any) -> None:
        self.tester.revert_to_snapshot(snapshot)

    def fund(self, address: str, wei: int) -> None:
        self.tester.send_transaction(
            {"from": self._faucet, "to": to_checksum_address(address), "value": wei, "gas": 21_000}
        )


class AnvilChain:
    """anvil over JSON-RPC (started by the caller). Like `EmbeddedChain`, a jump mines an
    empty block at t − 1; `evm_setNextBlockTimestamp` then pins the next block (and an
    `eth_call` on the pending block) to t, whatever the wall clock did meanwhile."""

    def __init__(self, url: str) -> None:
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response.get("result")

    def latest_timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def set_next_timestamp(self, ts: int) -> None:
        latest = self.latest_timestamp()
        if ts <= latest:
            raise ValueError(f"time only moves forward: {ts} ≤ latest block {latest}")
        if ts > latest + 1:
            self._rpc("evm_mine", [ts - 1])
        self._rpc("evm_setNextBlockTimestamp", [ts])

    def snapshot(self) -> Any:
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot: Any) -> None:
        self._rpc("evm_revert", [snapshot])

    def fund(self, address: str, wei: int) -> None:
        # adds, as the embedded chain's transfer does: `warp` funds the third party to mine a
        # block, and setting its balance to that 1 ETH left a later fundPool(2 ETH) unpayable
        address = to_checksum_address(address)
        balance = self.w3.eth.get_balance(address)
        self._rpc("anvil_setBalance", [address, hex(balance + wei)])
        self._rpc("evm_mine", [])  # a block, as the embedded chain's funding transfer makes


# ---------------------------------------------------------------- values


def to_abi(value: Any) -> Any:
    """A machine value as the ABI encoder takes it (structs as tuples, enums as ints)."""
    if isinstance(value, m._AbiStruct):
        return value.to_abi()
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, list | tuple):
        return [to_abi(v) for v in value]
    return value


def normal(value: Any) -> Any:
    """A value from either side in one comparable shape: tuples, ints, bytes, checksums."""
    if isinstance(value, m._AbiStruct):
        return normal(value.to_abi())
    if isinstance(value, bool):
        return value
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, bytes):  # HexBytes included
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, Mapping):
        return tuple(normal(v) for v in value.values())
    if isinstance(value, list | tuple):
        return tuple(normal(v) for v in value)
    return value


@dataclass(frozen=True)
class Outcome:
    """What a call did: the events (name, args) or the refusal (name, args)."""

    events: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    error: tuple[str, tuple[Any, ...]] | None = None
    gas_used: int | None = None
    #: for a refusal without revert data: what the node raised, so that a disagreement shows
    #: whether the contract reverted empty or the data was lost on the way
    raised: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Wallet:
    """A locally signed EOA."""

    account: LocalAccount
    nonce: int = 0

    @property
    def address(self) -> str:
        return str(self.account.address)


# ---------------------------------------------------------------- the harness


@dataclass
class Differential:
    """One FLChainV2 deployment and its reference machine, driven together."""

    chain: Chain
    contract: Contract
    state: m.State
    wallets: dict[str, Wallet]
    decoder: ErrorDecoder
    chain_id: int
    gas: dict[str, list[int]] = field(default_factory=dict)
    steps: int = 0
    #: nodes and rounds the calls since the last view check named (sender, arguments, events)
    touched_nodes: set[str] = field(default_factory=set)
    touched_rounds: set[int] = field(default_factory=set)
    #: how often each (function, event or error name) happened: what a sequence covered
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    #: contract wallets (V2Wallet) by address, and the EOA that operates each
    contract_wallets: dict[str, tuple[Contract, str]] = field(default_factory=dict)
    #: the forward box FLChainV2's constructor created (§15)
    box: Contract | None = None

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        deployment: m.Deployment,
        rules: m.RulesV2,
        wallets: Iterable[LocalAccount],
        deployer: LocalAccount,
        at: int | None = None,
    ) -> tuple[Differential, Outcome]:
        """Deploy and initialise the machine; returns the harness and the constructor's
        outcome (compared already)."""
        art = artifact()
        w3 = chain.w3
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        known: dict[str, Wallet] = {str(a.address): Wallet(a) for a in [deployer, *wallets]}
        for wallet in known.values():
            wallet.nonce = w3.eth.get_transaction_count(wallet.account.address)
        chain_id = int(w3.eth.chain_id)
        ts = at if at is not None else chain.latest_timestamp() + 1
        chain.set_next_timestamp(ts)
        tx = factory.constructor(deployment.to_abi(), rules.to_abi()).build_transaction(
            _tx_fields(known[deployer.address], chain_id, 0, 8_000_000)
        )
        receipt = _send(w3, known[deployer.address], tx)
        if receipt["status"] != 1:
            raise Disagreement("the constructor reverted on the chain")
        address = to_checksum_address(receipt["contractAddress"])
        contract = w3.eth.contract(address=address, abi=art["abi"])
        mined_at = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
        state, events = m.initialize_state(
            deployment, rules, m.Tx(deployer.address, mined_at), chain_id, address
        )
        box_abi = art["satellites"]["FLChainV2Forward"]["abi"]
        box = w3.eth.contract(address=contract.functions.forwardBox().call(), abi=box_abi)
        both = [*art["abi"], *(e for e in box_abi if e["type"] != "constructor")]
        harness = cls(chain, contract, state, known, ErrorDecoder(both), chain_id, box=box)
        outcome = Outcome(harness._decode_logs(receipt), gas_used=int(receipt["gasUsed"]))
        expected = Outcome(tuple((e.name, normal(tuple(v for _, v in e.args))) for e in events))
        if outcome.events != expected.events:
            raise Disagreement(f"constructor events: {outcome.events} ≠ {expected.events}")
        return harness, outcome

    # ------------------------------------------------------------ calls

    def act(
        self, function: str, sender: str, *args: Any, value: int = 0, at: int | None = None
    ) -> Outcome:
        """Run `function(*args)` from `sender` on the contract and on the machine at `at`
        (default: the next second), and require the same outcome."""
        sender = to_checksum_address(sender)
        ts = at if at is not None else self.chain.latest_timestamp() + 1
        self.chain.set_next_timestamp(ts)
        target = self.box if function in m.BOX_FUNCTIONS and self.box is not None else self.contract
        call = getattr(target.functions, function)(*[to_abi(a) for a in args])
        if sender in self.contract_wallets:
            wallet_contract, operator = self.contract_wallets[sender]
            call = wallet_contract.functions.exec(target.address, call._encode_transaction_data())
            wallet = self.wallets[operator]
        else:
            wallet = self.wallets[sender]
        fields = _tx_fields(wallet, self.chain_id, value, TX_GAS)
        contract_side = self._run(call, wallet, fields)
        machine_side = self._machine(function, m.Tx(sender, ts, value), args)
        self.steps += 1
        if contract_side.error != machine_side.error or contract_side.events != machine_side.events:
            raised = f"\n  the node raised: {contract_side.raised}" if contract_side.raised else ""
            raise Disagreement(
                f"{function}{_show(args)} from {sender} at {ts} (value {value}):\n"
                f"  contract: {contract_side.error or contract_side.events}\n"
                f"  machine:  {machine_side.error or machine_side.events}{raised}"
            )
        if contract_side.gas_used is not None:
            self.gas.setdefault(function, []).append(contract_side.gas_used)
        self._touch(sender, args, contract_side)
        what = contract_side.error[0] if contract_side.error else "ok"
        self.seen[(function, what)] = self.seen.get((function, what), 0) + 1
        return contract_side

    def _touch(self, sender: str, args: Sequence[Any], outcome: Outcome) -> None:
        """Remember the nodes and rounds a call named, for `check_touched`."""
        values: list[Any] = [sender, *args]
        for _, fields in outcome.events:
            values.extend(fields)
        for v in values:
            if isinstance(v, m.Leaf):
                self.touched_nodes.add(v.node)
            elif isinstance(v, str) and v.startswith("0x") and len(v) == 42:
                self.touched_nodes.add(to_checksum_address(v))
        if args and isinstance(args[0], int) and not isinstance(args[0], bool):
            self.touched_rounds.add(args[0])

    def check_touched(self) -> None:
        """`check_views` for what the calls since the last check named."""
        known = [n for n in self.touched_nodes if n in self.state.nodes or n in self.wallets]
        self.check_views(known, self.touched_rounds, full=False)
        self.touched_nodes.clear()
        self.touched_rounds.clear()

    def _run(self, call: Any, wallet: Wallet, fields: Any) -> Outcome:
        try:
            call.call({k: fields[k] for k in ("from", "value", "gas")}, block_identifier="pending")
        except Exception as exc:  # the refusal is the point: decode whatever the node raised
            error = self._refusal(exc)
            raised = f"{type(exc).__name__}: {exc}" if error[0] == m.NOT_PAYABLE else None
            return Outcome(error=error, raised=raised)
        receipt = _send(self.chain.w3, wallet, call.build_transaction(fields))
        if receipt["status"] != 1:
            raise Disagreement("the call succeeded on the pending block but the transaction failed")
        return Outcome(self._decode_logs(receipt), gas_used=int(receipt["gasUsed"]))

    def _refusal(self, exc: BaseException) -> tuple[str, tuple[Any, ...]]:
        data = revert_data(exc)
        if not data:
            # a revert without data, or web3 refusing wei for a non-payable function before
            # sending it (what the EVM would revert); anything else is the node's, not the
            # contract's, refusal (say insufficient funds), and no outcome to compare
            text = str(exc).lower()
            if "revert" not in text and "payable=false" not in text:
                raise Disagreement(f"the node refused the call itself: {exc}") from exc
            return (m.NOT_PAYABLE, ())
        decoded = self.decoder.decode(data)
        if decoded is None:
            raise Disagreement(f"unknown revert data 0x{data.hex()}") from exc
        name, _ = decoded
        abi = [*self.contract.abi, *(self.box.abi if self.box is not None else [])]
        raw = _raw_error_args(abi, name, data)
        return (name, normal(raw))

    def _machine(self, function: str, tx: m.Tx, args: Sequence[Any]) -> Outcome:
        before = self.state.balance
        try:
            events = m.PROCESS[function](self.state, tx, *args)
        except m.ProtocolError as err:
            return Outcome(error=(err.name, normal(err.arguments)))
        assert self.state.balance >= 0 and before >= 0
        return Outcome(tuple((e.name, normal(tuple(v for _, v in e.args))) for e in events))

    def _decode_logs(self, receipt: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        out = []
        contracts = [self.contract, *([self.box] if self.box is not None else [])]
        by_topic = {
            bytes(Web3.keccak(text=_event_signature(e))): (e, c)
            for c in contracts
            for e in c.abi
            if e["type"] == "event"
        }
        for log in receipt["logs"]:
            entry, emitter = by_topic[bytes(log["topics"][0])]
            if to_checksum_address(log["address"]) != emitter.address:
                raise Disagreement(f"{entry['name']} emitted by {log['address']}")
            decoded = getattr(emitter.events, entry["name"])().process_log(log)
            names = [p["name"] for p in entry["inputs"]]
            out.append((entry["name"], normal(tuple(decoded["args"][n] for n in names))))
        return tuple(out)

    # ------------------------------------------------------------ contract wallets

    def add_contract_wallet(self, operator: str) -> str:
        """Deploy a V2Wallet operated by `operator` (a known EOA); returns its address."""
        compiled = _compile_wallet()
        w3 = self.chain.w3
        factory = w3.eth.contract(
            abi=compiled["abi"], bytecode=compiled["evm"]["bytecode"]["object"]
        )
        owner = self.wallets[to_checksum_address(operator)]
        tx = factory.constructor().build_transaction(_tx_fields(owner, self.chain_id, 0, 1_000_000))
        address = to_checksum_address(_send(w3, owner, tx)["contractAddress"])
        self.contract_wallets[address] = (
            w3.eth.contract(address=address, abi=compiled["abi"]),
            owner.address,
        )
        return address

    def set_refusing(self, wallet: str, refusing: bool) -> None:
        """Make a contract wallet refuse (or accept) ether, on the chain and in the machine."""
        contract, operator = self.contract_wallets[wallet]
        owner = self.wallets[operator]
        tx = contract.functions.setRefusing(refusing).build_transaction(
            _tx_fields(owner, self.chain_id, 0, 100_000)
        )
        _send(self.chain.w3, owner, tx)
        (self.state.rejecting.add if refusing else self.state.rejecting.discard)(wallet)

    # ------------------------------------------------------------ views

    def check_views(
        self,
        nodes: Iterable[str] = (),
        rounds: Iterable[int] = (),
        results: Iterable[tuple[int, bytes]] = (),
        full: bool = True,
        windows: Iterable[tuple[int, bytes]] = (),
    ) -> None:
        """The machine's views against the contract's, for these nodes, rounds and (round, result
        hash) tallies, plus the accounts, the latest model and the contract's balance; `full`
        adds every other global view and the rules of this round and the next."""
        f = self.contract.functions
        st = self.state
        current, phase = f.currentPhase().call(block_identifier="latest")
        now = self._time_in(current, phase)
        pairs: list[tuple[str, Any, Any]] = [
            ("accounts", f.accounts().call(), m.get_accounts(st)),
            ("latest", f.latest().call(), m.get_latest(st)),
            ("balance", self.chain.w3.eth.get_balance(self.contract.address), st.balance),
        ]
        if full:
            pairs += [
                ("governor", f.governor().call(), m.get_governor(st)),
                ("pendingGovernor", f.pendingGovernor().call(), m.get_pending_governor(st)),
                ("pauseWindow", f.pauseWindow().call(), m.get_pause_window(st)),
                ("nodeCount", f.nodeCount().call(), m.get_node_count(st)),
                ("rulesVersionCount", f.rulesVersionCount().call(), m.get_rules_version_count(st)),
            ]
            for r in (current, current + 1):
                pairs.append(
                    (f"rulesForRound({r})", f.rulesForRound(r).call(), m.get_rules_for_round(st, r))
                )
        rounds = sorted(set(rounds) | ({current} if full else set()))
        nodes = sorted({to_checksum_address(n) for n in nodes})
        for node in nodes:
            pairs.append(
                (f"nodeView({node})", f.nodeView(node).call(), m.get_node_view(st, node, now))
            )
            if not full:
                continue  # nodeView has the stake of this round and the next
            for r in (current, current + 1):
                pairs.append(
                    (
                        f"stakeOf({node}, {r})",
                        f.stakeOf(node, r).call(),
                        m.get_stake_of(st, node, r),
                    )
                )
            pairs.append(
                (
                    f"isEligible({node}, {current})",
                    f.isEligible(node, current).call(),
                    m.get_is_eligible(st, node, current),
                )
            )
        for r in rounds:
            if r > current + 1:
                continue  # totalStake is exact for the current round and the next only
            pairs.append((f"roundView({r})", f.roundView(r).call(), m.get_round_view(st, r)))
            for node in nodes:
                pairs.append(
                    (
                        f"commitmentOf({r}, {node})",
                        f.commitmentOf(r, node).call(),
                        m.get_commitment_of(st, r, node),
                    )
                )
                if full:
                    pairs.append(
                        (
                            f"hasPostedBeacon({r}, {node})",
                            f.hasPostedBeacon(r, node).call(),
                            m.get_has_posted_beacon(st, r, node),
                        )
                    )
        for r, result_hash in results:
            pairs.append(
                (
                    f"tallyOf({r})",
                    f.tallyOf(r, result_hash).call(),
                    m.get_tally_of(st, r, result_hash),
                )
            )
        if self.box is not None:
            b = self.box.functions
            pairs.append(("forwardBox", f.forwardBox().call(), m.get_forward_box(st)))
            for r, window_hash in windows:
                pairs += [
                    (
                        f"forwardWindowOf({r})",
                        b.forwardWindowOf(r).call(),
                        m.get_forward_window_of(st, r),
                    ),
                    (
                        f"forwardTallyOf({r})",
                        b.forwardTallyOf(r, window_hash).call(),
                        m.get_forward_tally_of(st, r, window_hash),
                    ),
                    (
                        f"isForwardPosted({r})",
                        b.isForwardPosted(r, window_hash).call(),
                        m.get_is_forward_posted(st, r, window_hash),
                    ),
                ]
        for name, on_chain, in_machine in pairs:
            if normal(on_chain) != normal(in_machine):
                raise Disagreement(
                    f"view {name} after {self.steps} steps:\n  contract: {normal(on_chain)}\n"
                    f"  machine:  {normal(in_machine)}"
                )

    def _time_in(self, round: int, phase: int) -> int:
        """A timestamp in `round` (the views that depend on time only use the round)."""
        d = self.state.deployment
        return d.t0 - 1 if phase == m.Phase.NOT_STARTED else d.start(round)


# ---------------------------------------------------------------- plumbing


def _tx_fields(wallet: Wallet, chain_id: int, value: int, gas: int) -> Any:
    return {
        "from": wallet.address,
        "nonce": wallet.nonce,
        "value": value,
        "gas": gas,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "chainId": chain_id,
    }


def _send(w3: Web3, wallet: Wallet, tx: Any) -> Any:
    signed = wallet.account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    wallet.nonce += 1
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)


def _event_signature(entry: Mapping[str, Any]) -> str:
    from flchain.ledger.revert import abi_type

    return f"{entry['name']}({','.join(abi_type(p) for p in entry['inputs'])})"


def _raw_error_args(abi: Sequence[Mapping[str, Any]], name: str, data: bytes) -> tuple[Any, ...]:
    """The error's arguments decoded as they are (the ledger's decoder makes bytes32 readable)."""
    from eth_abi import decode

    from flchain.ledger.revert import abi_type

    for item in abi:
        if item.get("type") == "error" and item["name"] == name:
            return tuple(decode([abi_type(p) for p in item["inputs"]], data[4:]))
    raise Disagreement(f"no error {name} in the ABI")


def _show(args: Sequence[Any]) -> str:
    return "(" + ", ".join(_short(a) for a in args) + ")"


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        text = "0x" + value.hex()
        return text if len(text) <= 20 else text[:18] + "…"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_short(v) for v in value[:3]) + (", …]" if len(value) > 3 else "]")
    return repr(value)


@cache
def _compile_wallet() -> dict[str, Any]:
    import sys

    vectors = Path(__file__).resolve().parents[1] / "protocol" / "vectors"
    if str(vectors) not in sys.path:
        sys.path.insert(0, str(vectors))
    from evm_probe import compile_solidity

    return compile_solidity(Path(__file__).with_name("V2Wallet.sol"), "V2Wallet")


def wallet_key(seed: int, i: int) -> bytes:
    """The private key of wallet `i` of `seed`: a run's addresses follow from its seed, so a
    failing example replays (revert data, calldata gas and leaf order depend on the bytes of
    the addresses)."""
    return keccak(
        b"flchain v2 differential wallet" + seed.to_bytes(32, "big") + i.to_bytes(32, "big")
    )


def new_wallets(
    chain: Chain, n: int, wei: int = 1_000 * ETHER, seed: int | None = None
) -> list[LocalAccount]:
    """`n` funded local accounts: derived from `seed` (`wallet_key`), or fresh ones."""
    out = []
    for i in range(n):
        account = Account.create() if seed is None else Account.from_key(wallet_key(seed, i))
        chain.fund(account.address, wei)
        out.append(account)
    return out


# ---------------------------------------------------------------- a federation's inputs


@dataclass(frozen=True)
class Update:
    """A node's update for a round, with what commit and reveal need."""

    node: str
    round: int
    payload: bytes
    base: bytes
    roi_bps: int
    salt: bytes

    @property
    def digest(self) -> bytes:
        return dg.sha256(self.payload)

    def commitment(self, chain_id: int, contract: str) -> bytes:
        return dg.commitment_hash_v2(
            chain_id,
            contract,
            self.round,
            self.node,
            self.digest,
            self.base,
            self.roi_bps,
            self.salt,
        )

    def reveal_args(self) -> tuple[int, bytes, bytes, int, bytes]:
        return (self.round, self.payload, self.base, self.roi_bps, self.salt)


@dataclass
class Federation:
    """The inputs an honest federation would produce for a deployment: updates, the settlement
    table an honest merge builds (cumulative leaves from the last final table, the round's
    budget shared equally by accepted, unpenalised updates), results and proofs. No merge runs:
    tests choose what a result penalises and pays."""

    d: Differential
    tables: dict[int, dict[str, m.Leaf]] = field(default_factory=dict)  # final round → leaves

    @property
    def state(self) -> m.State:
        return self.d.state

    def update(
        self,
        node: str,
        round: int,
        roi_bps: int = 100,
        payload: bytes | None = None,
        base: bytes | None = None,
        label: str = "",
    ) -> Update:
        body = (
            payload if payload is not None else dg.keccak(f"{node} {round} {label}".encode()) * 48
        )
        return Update(
            to_checksum_address(node),
            round,
            body,
            base if base is not None else self.state.latest.merged_digest,
            roi_bps,
            dg.keccak(f"salt {node} {round} {label}".encode()),
        )

    def commitment(self, u: Update) -> bytes:
        return u.commitment(self.d.chain_id, self.state.contract)

    def accepted(self, round: int) -> list[str]:
        slots = self.state.rounds.get(round, m.RoundState()).slots
        return sorted(
            n
            for n, s in slots.items()
            if s.state == m.CommitState.REVEALED and s.outcome == m.RevealOutcome.ACCEPTED
        )

    def previous_table(self) -> dict[str, m.Leaf]:
        latest = self.state.latest.round_plus_one
        return dict(self.tables.get(latest - 1, {})) if latest else {}

    def table_for(
        self,
        round: int,
        penalised: Iterable[str] = (),
        earned: Mapping[str, int] | None = None,
        score_bps: int = 0,
    ) -> dict[str, m.Leaf]:
        """The cumulative table of `round`: a leaf for every registered node."""
        penalised = {to_checksum_address(p) for p in penalised}
        merged = [n for n in self.accepted(round) if n not in penalised]
        if earned is None:
            reserved = self.state.rounds.get(round, m.RoundState()).reserved
            earned = {n: reserved // len(merged) for n in merged} if merged else {}
        previous = self.previous_table()
        table = {}
        for n in self.state.node_at:
            prev = previous.get(n, m.Leaf(n, self.state.nodes[n].index))
            table[n] = m.Leaf(
                n,
                prev.index,
                prev.cum_earned + earned.get(n, 0),
                prev.cum_penalties + (1 if n in penalised else 0),
                prev.merged_rounds + (1 if n in merged else 0),
                round + 1 if n in penalised else prev.last_penalty_round,
                score_bps if n in merged else prev.score_bps,
            )
        return table

    def tree(self, table: Mapping[str, m.Leaf]) -> SettlementTree:
        contract = self.state.contract
        return SettlementTree(
            {leaf.index: leaf.hash(self.d.chain_id, contract) for leaf in table.values()}
        )

    def result_of(
        self,
        round: int,
        table: Mapping[str, m.Leaf],
        label: str = "honest",
        round_earned: int | None = None,
    ) -> m.Result:
        """A result with this table; it pays what the table adds to the last final one unless
        `round_earned` says otherwise."""
        merged = dg.sha256(f"merged {round} {label}".encode())
        paid = sum(leaf.cum_earned for leaf in table.values()) - sum(
            leaf.cum_earned for leaf in self.previous_table().values()
        )
        return m.Result(
            merged,
            dg.raw_leaf_cid(merged),
            bytes([0x01, 0x70, 0x12, 0x20]) + dg.sha256(f"manifest {round} {label}".encode()),
            self.tree(table).root,
            paid if round_earned is None else round_earned,
        )

    def proof(self, node: str) -> tuple[m.Leaf, tuple[bytes, ...]]:
        """`node`'s leaf of the latest final table and its proof."""
        table = self.tables[self.state.latest.round_plus_one - 1]
        leaf = table[to_checksum_address(node)]
        return leaf, self.tree(table).proof(leaf.index)
