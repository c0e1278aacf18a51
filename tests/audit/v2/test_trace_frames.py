"""Reading a call trace as the calls it made into the contract (`flchain.audit.trace`, pure:
trace JSON written here in geth's callTracer shape, as anvil answers it), the bounded reader
(`flchain.ledger.traces`) against a hostile endpoint, and what the audit says of a call it
could not read on the embedded chain, which has no tracer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _wallet_federation import play_with_wallet

from flchain.audit.core_v2 import audit_v2
from flchain.audit.judge_v2 import ChainCall, untraced_failure
from flchain.audit.report import Verdict
from flchain.audit.trace import MAX_FRAMES, TraceProblem, get_entry_frames
from flchain.ledger.backends import EmbeddedBackend, RpcBackend
from flchain.ledger.events_v2 import Registered
from flchain.ledger.traces import MAX_JSON_DEPTH, fetch_call_trace
from flchain.storage import LocalStore

EOA = "0x" + "e0" * 20
WALLET = "0x" + "aa" * 20
BATCH = "0x" + "bb" * 20
CONTRACT = "0x" + "cc" * 20
BOX = "0x" + "dd" * 20
TARGETS = (CONTRACT, BOX)


def frame(
    sender: str, to: str, data: str = "0x", kind: str = "CALL", *calls: dict[str, Any], **more: Any
) -> dict[str, Any]:
    out = {"from": sender, "to": to, "input": data, "type": kind, "value": "0x0", **more}
    if calls:
        out["calls"] = list(calls)
    return out


def entries(trace: dict[str, Any]) -> list[tuple[str, str, bytes | None, bool]]:
    found = get_entry_frames(trace, EOA, trace["to"], bytes.fromhex(trace["input"][2:]), TARGETS)
    return [(f.sender.lower(), f.input.hex(), f.revert, f.undone) for f in found]


def test_entry_frames_come_in_execution_order_with_their_caller_and_revert() -> None:
    """A batch: the wallet's call (its own call into the box is the machine's to model), a
    reverted call whose revert the batch caught, a call that returned under a wallet frame
    that reverted after it (undone), a staticcall and a delegatecall (not entries)."""
    trace = frame(
        EOA, BATCH, "0x01", "CALL",
        frame(WALLET, CONTRACT, "0x02", "CALL", frame(CONTRACT, BOX, "0x03")),
        frame(WALLET, CONTRACT, "0x04", error="execution reverted", output="0xdeadbeef"),
        frame(BATCH, WALLET, "0x05", "CALL", frame(WALLET, CONTRACT, "0x06"),
              error="execution reverted"),
        frame(WALLET, CONTRACT, "0x07", "STATICCALL"),
        frame(WALLET, CONTRACT, "0x08", "DELEGATECALL"),
    )  # fmt: skip
    assert entries(trace) == [
        (WALLET, "02", None, False),
        (WALLET, "04", bytes.fromhex("deadbeef"), False),
        (WALLET, "06", None, True),
    ]


def test_a_re_entrant_call_is_a_trace_problem() -> None:
    """The contract pays a wallet whose receive() calls the contract again: the machine
    processes one call at a time, so the audit says it cannot read it rather than guess."""
    trace = frame(
        EOA, WALLET, "0x", "CALL",
        frame(WALLET, CONTRACT, "0x01", "CALL", frame(CONTRACT, WALLET, "0x", "CALL",
                                                       frame(WALLET, CONTRACT, "0x02"))),
    )  # fmt: skip
    with pytest.raises(TraceProblem, match="re-enters the contract"):
        entries(trace)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda t: t.update(input="0x99"), "not the signed transaction"),
        (lambda t: t.update(to=BOX), "not the signed transaction"),
        (lambda t: t["calls"][0].update(value="ten"), "no valid 'value'"),
        (lambda t: t["calls"][0].update(input="0x123"), "no valid 'input'"),
        (lambda t: t["calls"][0].update(type="JUMP"), "unknown type"),
        (lambda t: t["calls"][0].update(error=7), "malformed 'error'"),
        (lambda t: t["calls"].append("frame"), "is not an object"),
        (lambda t: t.update(calls=[frame(WALLET, BATCH)] * (MAX_FRAMES + 1)), "more than"),
    ],
    ids=["input", "to", "value", "odd-hex", "type", "error", "not-object", "too-many"],
)
def test_a_malformed_trace_is_a_trace_problem_not_a_crash(edit: Any, named: str) -> None:
    trace = frame(EOA, WALLET, "0x01", "CALL", frame(WALLET, CONTRACT, "0x02"))
    edit(trace)
    with pytest.raises(TraceProblem, match=named):
        get_entry_frames(trace, EOA, WALLET, b"\x01", TARGETS)


def test_a_deep_trace_is_walked_without_recursion() -> None:
    """A chain of 1 000 nested frames (the EVM allows 1 024) is read, not a RecursionError."""
    trace = inner = frame(EOA, WALLET, "0x", "CALL")
    for _ in range(1000):
        child = frame(WALLET, WALLET)
        inner["calls"] = [child]
        inner = child
    inner["calls"] = [frame(WALLET, CONTRACT, "0x0a")]
    assert entries(trace) == [(WALLET, "0a", None, False)]


def test_without_a_tracer_the_call_is_named_with_the_method_that_would_read_it() -> None:
    """The embedded chain has no tracer: the replay's message names the transaction, where it
    was sent and the RPC method that would make it verifiable."""
    read = fetch_call_trace(EmbeddedBackend(), "0x" + "11" * 32)
    assert read.trace is None and not read.supported
    assert read.problem == "the embedded chain (py-evm) has no debug_traceTransaction"
    call = ChainCall(
        tx_hash="0x" + "11" * 32, block_number=7, timestamp=0, sender=EOA, to=WALLET, value=0,
        function=None, args=(), events=(), untraced=read.problem,
    )  # fmt: skip
    message = untraced_failure(call)
    assert message.startswith(f"tx 0x{'11' * 32} (block 7, sent to {WALLET})")
    assert "debug_traceTransaction with geth's callTracer would make it verifiable" in message


@pytest.fixture
def hostile_rpc() -> Iterator[tuple[str, list[bytes]]]:
    """A JSON-RPC endpoint on 127.0.0.1 (a fault injected on purpose) that answers
    eth_chainId and, to anything else, the raw bytes the test puts in the list."""
    answers: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if body.get("method") == "eth_chainId":
                out = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"}).encode()
            else:
                out = answers[0]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_hostile_trace_answer_is_refused_before_it_is_parsed(
    hostile_rpc: tuple[str, list[bytes]],
) -> None:
    """Nested 100 000 deep, a JSON answer would overflow the C parser's stack once py_ecc has
    raised the recursion limit (a crash of the auditor): its depth is measured first, brackets
    inside strings not counted; so are answers that are not JSON-RPC at all."""
    url, answers = hostile_rpc
    backend = RpcBackend(url)
    tx = "0x" + "22" * 32
    for answer, named in (
        (b'{"result":' + b"[" * 100_000 + b"]" * 100_000 + b"}", f"nested deeper than {MAX_JSON_DEPTH}"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON-RPC response"),
        (b'{"jsonrpc": "2.0", "id": 1}', "has no result"),
    ):  # fmt: skip
        answers[:] = [answer]
        read = fetch_call_trace(backend, tx)
        assert read.trace is None and read.problem is not None and named in read.problem
        assert read.supported
    answers[:] = [json.dumps({"result": {"error": "[[[[" * 10_000, "type": "CALL"}}).encode()]
    assert fetch_call_trace(backend, tx).trace["type"] == "CALL"  # brackets in a string


def test_on_the_embedded_chain_a_wallet_node_stops_the_replay_naming_the_transaction(
    tmp_path: Path,
) -> None:
    """No tracer (py-evm): as before, the round of the wallet's first call (its registration,
    placed in round 0) and every later one are unverifiable; the message names the transaction
    and the method that would make it verifiable."""
    backend = EmbeddedBackend()
    fed = play_with_wallet(backend, LocalStore(tmp_path))
    report = audit_v2(fed.gov, LocalStore(tmp_path))
    assert [r.verdict for r in report.rounds] == [Verdict.UNVERIFIABLE] * 2
    (register,) = [e for e in fed.gov.events(Registered) if e.node == fed.node.wallet.address]
    message = report.rounds[0].checks[0].message
    assert message.startswith(f"tx {register.tx_hash} (block {register.block_number}, sent to")
    assert "the embedded chain (py-evm) has no debug_traceTransaction" in message
    assert "an RPC that answers debug_traceTransaction with geth's callTracer" in message
