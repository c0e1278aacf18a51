"""An embedded chain that can be rebuilt after the process ends.

The in-process chain (eth-tester on py-evm) dies with the process. `JournaledEmbeddedBackend`
records everything that changes it — time moves, faucet payments and every signed raw
transaction, in order — and `save_journal` writes that list as JSON lines. `replay_journal`
feeds it into a fresh embedded chain: the same signed transactions in the same order at the same
block timestamps give the same contract address, events and state, so an auditor can re-run the
audit from a run folder with the ordinary `Ledger`. Nothing in a journal is secret: raw
transactions are public on any chain, and they cannot be altered without breaking signatures.

Block timestamps replay exactly because the simulation moves time forward (to a fixed future
T0) before any transaction, and eth-tester then stamps blocks from the travelled time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from web3.middleware import Web3Middleware

from flchain.errors import ConfigError
from flchain.ledger import EmbeddedBackend

JOURNAL_VERSION = 1


def _as_int(value: Any) -> int:
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    return int(value)


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return (value if value.startswith("0x") else "0x" + value).lower()
    return "0x" + bytes(value).hex()


class LogIndex:
    """Every log of every receipt seen, answering `eth_getLogs` without rescanning the chain.

    eth-tester answers `eth_getLogs` by loading every block and receipt since `fromBlock` and
    re-deriving each transaction's sender: cost grows with the chain, seconds per query after a
    few simulated days. Receipts already carry their logs, and every transaction the Ledger
    sends is followed by a receipt request, so indexing receipts as they pass is complete;
    `missing` names sent transactions whose receipt was never seen, fetched before answering.
    """

    def __init__(self) -> None:
        self.logs: dict[tuple[str, int], dict[str, Any]] = {}
        self.sent: list[str] = []
        self.seen: set[str] = set()

    def add_receipt(self, receipt: Any) -> None:
        if not isinstance(receipt, Mapping):
            return
        self.seen.add(_hex(receipt["transactionHash"]))
        for log in receipt.get("logs", []):
            self.logs[(_hex(log["transactionHash"]), _as_int(log["logIndex"]))] = dict(log)

    def missing(self) -> list[str]:
        return [h for h in self.sent if h not in self.seen]

    def query(self, flt: dict[str, Any], latest: int) -> list[dict[str, Any]]:
        lo = _block_param(flt.get("fromBlock", "earliest"), latest)
        hi = _block_param(flt.get("toBlock", "latest"), latest)
        addresses = flt.get("address")
        wanted = None
        if addresses is not None:
            listed = [addresses] if isinstance(addresses, str) else list(addresses)
            wanted = {str(a).lower() for a in listed}
        topics = list(flt.get("topics") or [])
        out = []
        for log in self.logs.values():
            if not lo <= _as_int(log["blockNumber"]) <= hi:
                continue
            if wanted is not None and str(log["address"]).lower() not in wanted:
                continue
            if not _topics_match(topics, [_hex(t) for t in log["topics"]]):
                continue
            out.append(log)
        return sorted(out, key=lambda g: (_as_int(g["blockNumber"]), _as_int(g["logIndex"])))


def _block_param(value: Any, latest: int) -> int:
    if value in ("latest", "pending", "safe", "finalized", None):
        return latest
    if value == "earliest":
        return 0
    return _as_int(value)


def _topics_match(wanted: list[Any], have: list[str]) -> bool:
    for i, want in enumerate(wanted):
        if want is None:
            continue
        if i >= len(have):
            return False
        options = [want] if isinstance(want, str) else list(want)
        if have[i] not in {_hex(o) for o in options}:
            return False
    return True


class _Journal(Web3Middleware):
    """Records raw transactions and receipts' logs; answers eth_getLogs from the index."""

    journal: list[dict[str, Any]]
    index: LogIndex

    def wrap_make_request(self, make_request: Any) -> Any:
        journal, index = self.journal, self.index

        def middleware(method: Any, params: Any) -> Any:
            if method == "eth_getLogs":
                for tx_hash in index.missing():
                    receipt = make_request("eth_getTransactionReceipt", [tx_hash]).get("result")
                    index.add_receipt(receipt)
                latest = _as_int(make_request("eth_blockNumber", []).get("result"))
                return {"jsonrpc": "2.0", "id": 0, "result": index.query(dict(params[0]), latest)}
            response = make_request(method, params)
            if method == "eth_sendRawTransaction":
                raw = params[0] if isinstance(params[0], str) else "0x" + bytes(params[0]).hex()
                journal.append({"op": "tx", "raw": raw})
                if "result" in response:
                    index.sent.append(_hex(response["result"]))
            elif method == "eth_getTransactionReceipt":
                index.add_receipt(response.get("result"))
            return response

        return middleware


class JournaledEmbeddedBackend(EmbeddedBackend):
    """The embedded chain, recording every state change for `save_journal`."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[dict[str, Any]] = []
        self.index = LogIndex()

        class Recorder(_Journal):
            pass

        Recorder.journal = self.journal
        Recorder.index = self.index
        self.w3.middleware_onion.add(Recorder, "flchain_journal")

    def set_time(self, timestamp: int) -> int:
        self.journal.append({"op": "time", "timestamp": timestamp})
        return super().set_time(timestamp)

    def fund(self, address: str, wei: int) -> None:
        self.journal.append({"op": "fund", "address": address, "wei": str(wei)})
        super().fund(address, wei)

    def snapshot(self) -> Any:
        raise ConfigError("a journaled chain cannot be reverted (the journal would lie)")


def save_journal(backend: JournaledEmbeddedBackend, path: Path) -> Path:
    """Write the journal as JSON lines (first line: a header)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(
            json.dumps({"kind": "flchain.embedded-chain-journal", "version": JOURNAL_VERSION})
            + "\n"
        )
        for entry in backend.journal:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def replay_journal(path: Path) -> EmbeddedBackend:
    """A fresh embedded chain with every recorded change applied, in order (itself journaled,
    so its event queries use the log index).

    @raises ConfigError when the file is missing or not a journal, or a step fails.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read chain journal {path}: {exc.strerror}") from None
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if (
        header.get("kind") != "flchain.embedded-chain-journal"
        or header.get("version") != JOURNAL_VERSION
    ):
        raise ConfigError(
            f"{path} is not an flchain embedded-chain journal (version {JOURNAL_VERSION})"
        )
    backend = JournaledEmbeddedBackend()
    for number, line in enumerate(lines[1:], start=2):
        try:
            entry = json.loads(line)
            op = entry["op"]
            if op == "time":
                backend.set_time(int(entry["timestamp"]))
            elif op == "fund":
                backend.fund(str(entry["address"]), int(entry["wei"]))
            elif op == "tx":
                backend.w3.eth.send_raw_transaction(entry["raw"])
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:  # any failure means the journal does not describe this chain
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"chain journal {path} line {number} does not replay: {first[:200]}"
            ) from None
    return backend
