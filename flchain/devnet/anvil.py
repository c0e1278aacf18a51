"""Start and stop anvil (npm ``@foundry-rs/anvil-linux-amd64``) on a free 127.0.0.1 port.

    with AnvilProcess() as node:
        backend = RpcBackend(node.url, kind="anvil")

The process is ready when ``eth_chainId`` answers; `stop()` terminates it (then kills it after a
grace period) and is safe to call twice. `LocalChainProcess` is shared with `hardhat.py`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from flchain.errors import UnavailableError

__all__ = ["AnvilProcess", "DevChainError", "LocalChainProcess", "find_node_modules", "free_port"]

DEFAULT_CHAIN_ID = 31337
_ANVIL_RELATIVE = Path("@foundry-rs") / "anvil-linux-amd64" / "bin" / "anvil"


class DevChainError(UnavailableError):
    """A local chain binary is missing, failed to start, or did not become ready."""


def find_node_modules(start: Path | None = None) -> Path:
    """The ``node_modules`` folder of this checkout (searched from `start`, then the package)."""
    candidates = [start] if start is not None else [Path.cwd(), Path(__file__).resolve()]
    for base in candidates:
        for directory in (base, *base.parents):
            if (directory / "node_modules").is_dir():
                return directory / "node_modules"
    raise DevChainError("node_modules not found; run `npm install --ignore-scripts`")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalChainProcess:
    """A JSON-RPC chain child process on 127.0.0.1 with readiness wait and a clean stop."""

    name = "chain"
    startup_timeout = 30.0

    def __init__(self, port: int | None = None, chain_id: int = DEFAULT_CHAIN_ID) -> None:
        self.port = port or free_port()
        self.chain_id = chain_id
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def cwd(self) -> Path | None:
        return None

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> LocalChainProcess:
        if self.proc is not None:
            return self
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.cwd(),
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() reaches node's children too
        )
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(
                    errors="replace"
                )
                last = (err.strip().splitlines() or ["no output"])[-1]
                raise DevChainError(
                    f"{self.name} exited with code {self.proc.returncode}: {last[:200]}"
                )
            try:
                answer = httpx.post(self.url, json=body, timeout=1.0).json()
                if int(answer["result"], 16) == self.chain_id:
                    return
                raise DevChainError(
                    f"{self.name} answered chain id {answer['result']}, expected {self.chain_id}"
                )
            except (httpx.HTTPError, ValueError, KeyError):
                time.sleep(0.1)
        raise DevChainError(
            f"{self.name} did not answer on {self.url} within {self.startup_timeout:.0f} s"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()
        atexit.unregister(self.stop)

    def __enter__(self) -> LocalChainProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def find_anvil(start: Path | None = None) -> Path:
    """Path of the anvil binary shipped in node_modules."""
    binary = find_node_modules(start) / _ANVIL_RELATIVE
    if not binary.is_file():
        raise DevChainError("anvil not found in node_modules; run `npm install --ignore-scripts`")
    return binary


class AnvilProcess(LocalChainProcess):
    """anvil with its default funded accounts, fixed chain id, no wall-clock auto-mining."""

    name = "anvil"
    startup_timeout = 15.0

    def command(self) -> list[str]:
        return [
            str(find_anvil()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
        ]
