"""A lying JSON-RPC endpoint — a fault injected on purpose: a proxy on 127.0.0.1 in front of a
real chain (anvil) that forwards every request unchanged and answers `eth_getLogs` with each
log passed through `edit` (None: the log is dropped, or a rewritten copy) and, given `calls`,
each `eth_call` answer passed through it (the liar that fakes the views to match what it hid).
Everything else (blocks, transactions, eth_getProof) is the chain's own answer, so what it hides
is still in the state the proofs are checked against."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Edit = Callable[[dict[str, Any]], dict[str, Any] | None]
#: (the eth_call's transaction object, the chain's result hex) -> the result to answer
CallEdit = Callable[[dict[str, Any], str], str]


class LyingRpc:
    """`with LyingRpc(upstream, edit) as url:` a proxy at `url` that edits the chain's logs."""

    def __init__(self, upstream: str, edit: Edit, calls: CallEdit | None = None) -> None:
        self.upstream, self.edit, self.calls, self.edited = upstream, edit, calls, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = httpx.post(
                    proxy.upstream, content=body, headers={"Content-Type": "application/json"}
                ).json()
                request = json.loads(body)
                if isinstance(answer, list):
                    answer = [proxy.rewrite(q, a) for q, a in zip(request, answer, strict=True)]
                else:
                    answer = proxy.rewrite(request, answer)
                out = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def rewrite(self, request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") == "eth_call" and self.calls and "result" in answer:
            result = self.calls(request["params"][0], answer["result"])
            self.edited += result != answer["result"]
            return {**answer, "result": result}
        if request.get("method") != "eth_getLogs" or not isinstance(answer.get("result"), list):
            return answer
        out = []
        for log in answer["result"]:
            edited = self.edit(dict(log))
            self.edited += edited != log
            if edited is not None:
                out.append(edited)
        return {**answer, "result": out}

    def __enter__(self) -> str:
        self.thread.start()
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
