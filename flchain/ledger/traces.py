"""Call traces of one transaction: `debug_traceTransaction` with geth's `callTracer`, bounded.

    fetch_call_trace(backend, tx_hash) -> TraceRead

A call trace is the tree of call frames a transaction ran (`from`, `to`, `type`, `value`,
`input`, `output`, `error`, `calls`), as the node re-executes it. The audit needs it for the
transactions that reached the contract through another contract (a contract wallet, a multisig,
a batcher): their signed input is the other contract's, not a call to this one.

Nothing here trusts the answer: it is read up to `MAX_TRACE_BYTES` (the rest is never read)
and parsed as JSON, no more; its shape is checked by the reader (`flchain.audit.trace`), and
what it claims is checked by the machine replay against the logs and the state proofs. Only a
JSON-RPC endpoint can trace: the embedded chain (py-evm) has no tracer, and public endpoints
usually refuse the `debug_` namespace — `TraceRead.supported` says so, `problem` says why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import requests

from flchain.ledger.backends import NETWORK_ERRORS, Backend, EmbeddedBackend, RpcBackend
from flchain.ledger.errors import first_line

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_TRACE_BYTES",
    "TRACER",
    "TRACE_METHOD",
    "TraceRead",
    "fetch_call_trace",
]

TRACE_METHOD: Final = "debug_traceTransaction"
#: geth's built-in call tracer (anvil, reth and hardhat ≥ 2.21 answer it too); no logs: the
#: audit takes a transaction's logs from the event query, which the state proofs check.
TRACER: Final = {"tracer": "callTracer", "tracerConfig": {"withLog": False}}
#: The largest trace answer read. A forwarded forward-window post (64 KiB of calldata, hex
#: doubled at each frame that carries it) through a few frames stays well under it.
MAX_TRACE_BYTES: Final = 4 * 1024 * 1024
#: The deepest JSON nesting parsed: a call frame is two levels (the frame, its `calls` list)
#: and the EVM's call depth is at most 1 024. Checked before parsing, whatever the process's
#: recursion limit: py_ecc's import raises it to 100 000 (flchain puts it back:
#: `flchain.protocol.beacon.load_bls`), and under such a limit a JSON answer nested ~100 000
#: deep makes the C parser overflow the stack — a crash, not an exception.
MAX_JSON_DEPTH: Final = 2 * 1024 + 16
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_TIMEOUT_S: Final = 60.0
_NOT_SUPPORTED: Final = (-32601, -32004)  # "method not found", "method not supported"
_POST_ERRORS: Final[tuple[type[BaseException], ...]] = (
    *NETWORK_ERRORS,
    requests.exceptions.HTTPError,
)


@dataclass(frozen=True)
class TraceRead:
    """What the endpoint answered: the trace's JSON (`trace`), or why there is none
    (`problem`); `supported` is False when the chain cannot trace at all (no such method)."""

    trace: Any = None
    problem: str | None = None
    supported: bool = True


def fetch_call_trace(backend: Backend, tx_hash: str) -> TraceRead:
    """The call trace of `tx_hash` (0x-hex), read as untrusted JSON up to MAX_TRACE_BYTES."""
    if not isinstance(backend, RpcBackend):
        chain = "embedded chain (py-evm)" if isinstance(backend, EmbeddedBackend) else "chain"
        return TraceRead(problem=f"the {chain} has no {TRACE_METHOD}", supported=False)
    body = {"jsonrpc": "2.0", "id": 1, "method": TRACE_METHOD, "params": [tx_hash, TRACER]}
    failure = "no endpoint"
    for url in [backend.active_url, *(u for u in backend.urls if u != backend.active_url)]:
        try:
            text = _post(url, body)
        except _POST_ERRORS as exc:
            failure = type(exc).__name__
            continue
        if text is None:
            return TraceRead(problem=f"its trace is larger than {MAX_TRACE_BYTES} bytes")
        return _read_answer(text)
    return TraceRead(problem=f"cannot reach the chain to trace it ({failure})")


def _post(url: str, body: dict[str, Any]) -> bytes | None:
    """The answer's bytes, or None once it grows past MAX_TRACE_BYTES."""
    with requests.post(url, json=body, stream=True, timeout=_TIMEOUT_S) as response:
        response.raise_for_status()
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_TRACE_BYTES:
            return None
        buffer = bytearray()
        for chunk in response.iter_content(64 * 1024):
            buffer += chunk
            if len(buffer) > MAX_TRACE_BYTES:
                return None
        return bytes(buffer)


def _json_depth(text: bytes) -> int:
    """The deepest nesting of brackets in `text` outside JSON strings (linear, no recursion)."""
    depth = deepest = 0
    for byte in _STRING.sub(b'""', text).translate(None, _BRACKETS):
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _read_answer(text: bytes) -> TraceRead:
    if _json_depth(text) > MAX_JSON_DEPTH:
        return TraceRead(problem=f"the trace answer is nested deeper than {MAX_JSON_DEPTH}")
    try:
        answer = json.loads(text)
    except (ValueError, RecursionError):
        return TraceRead(problem="the trace answer is not JSON")
    if not isinstance(answer, dict):
        return TraceRead(problem="the trace answer is not a JSON-RPC response")
    error = answer.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message", "") if isinstance(error, dict) else error
        why = first_line(str(message), f"code {code}")
        return TraceRead(
            problem=f"{TRACE_METHOD} failed: {why}", supported=code not in _NOT_SUPPORTED
        )
    if "result" not in answer:
        return TraceRead(problem="the trace answer has no result")
    return TraceRead(trace=answer["result"])
