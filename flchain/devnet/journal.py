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

Event reads are not this module's business: the ledger's event index (`flchain.ledger.index`)
serves them on every embedded chain, journaled or not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web3.middleware import Web3Middleware

from flchain.errors import ConfigError
from flchain.ledger import EmbeddedBackend

JOURNAL_VERSION = 1


class _Journal(Web3Middleware):
    """Records every raw transaction sent through web3, in order."""

    journal: list[dict[str, Any]]

    def wrap_make_request(self, make_request: Any) -> Any:
        journal = self.journal

        def middleware(method: Any, params: Any) -> Any:
            response = make_request(method, params)
            if method == "eth_sendRawTransaction":
                raw = params[0] if isinstance(params[0], str) else "0x" + bytes(params[0]).hex()
                journal.append({"op": "tx", "raw": raw})
            return response

        return middleware


class JournaledEmbeddedBackend(EmbeddedBackend):
    """The embedded chain, recording every state change for `save_journal`."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[dict[str, Any]] = []

        class Recorder(_Journal):
            pass

        Recorder.journal = self.journal
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
    """A fresh embedded chain with every recorded change applied, in order (itself journaled).
    Its event reads go through the ledger's event index like any embedded chain's: the replayed
    blocks are scanned once, on the first read.

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
