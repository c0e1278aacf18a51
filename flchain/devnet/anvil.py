"""Start and stop anvil (npm ``@foundry-rs/anvil-linux-amd64``) on a free 127.0.0.1 port.

    with AnvilProcess() as node:
        backend = RpcBackend(node.url, kind="anvil")

The process is ready when ``eth_chainId`` answers; `stop()` terminates it (then kills it after a
grace period) and is safe to call twice. It is guarded (`flchain.devnet.process`): a SIGINT or
SIGTERM to this process stops it, and it dies with this process even on SIGKILL — unless it was
made ``detachable`` and then `detach()`ed. `LocalChainProcess` is shared with `hardhat.py`.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import time
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import ClassVar, Self

import httpx

from flchain.devnet.process import Server, free_port, release, spawn, stop_process_group
from flchain.errors import UnavailableError
from flchain.ledger.backends import RpcBackend

__all__ = [
    "AnvilControl",
    "AnvilProcess",
    "DevChainError",
    "LocalChainProcess",
    "find_node_modules",
    "free_port",
]

DEFAULT_CHAIN_ID = 31337
STOP_GRACE_S = 5.0
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


@dataclass(eq=False)
class LocalChainProcess(Server):
    """A JSON-RPC chain child process on 127.0.0.1 with readiness wait and a clean stop.

    @param port the port to serve on (0: a free one)
    @param log_path write the process's output there instead of a pipe, so it can outlive us
        (`detach`): a pipe whose reader has gone would end it with SIGPIPE
    @param detachable set before start: a parent-death signal, once the process runs, cannot
        be lifted
    """

    name: ClassVar[str] = "chain"
    startup_timeout: ClassVar[float] = 30.0

    port: int = 0
    chain_id: int = DEFAULT_CHAIN_ID
    _: KW_ONLY
    log_path: Path | None = None
    detachable: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def cwd(self) -> Path | None:
        return None

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> Self:
        if self.proc is not None:
            return self
        log = self.log_path.open("ab") if self.log_path is not None else None
        try:
            self.proc = spawn(
                self.command(),
                name=self.name,
                grace=STOP_GRACE_S,
                cwd=self.cwd(),
                env=self.env(),
                stdout=log if log is not None else subprocess.DEVNULL,
                stderr=log if log is not None else subprocess.PIPE,
                outlive=self.detachable,
            )
        finally:
            if log is not None:
                log.close()
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
                err = self._output()
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

    def _output(self) -> str:
        """What the exited process wrote (its log file or its stderr pipe)."""
        if self.log_path is not None:
            try:
                return self.log_path.read_text(errors="replace")
            except OSError:
                return ""
        assert self.proc is not None
        return (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace")

    def detach(self) -> int:
        """Leave the running process to outlive this one (needs `log_path` and `detachable`);
        returns its pid.

        It already runs in its own session, so a closing terminal does not end it; from here on
        only its pid can stop it (`flchain devnet down`).
        """
        if self.proc is None:
            raise DevChainError(f"{self.name} is not running")
        if self.log_path is None:
            raise DevChainError(f"{self.name} writes to a pipe; start it with a log_path to detach")
        if not self.detachable:
            raise DevChainError(f"{self.name} dies with this process; make it detachable to detach")
        pid = self.proc.pid
        release(self.proc)
        self.proc = None
        atexit.unregister(self.stop)
        return pid

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process_group(proc, grace=STOP_GRACE_S)
        if proc.stderr is not None:
            proc.stderr.close()
        atexit.unregister(self.stop)


def find_anvil(start: Path | None = None) -> Path:
    """Path of the anvil binary shipped in node_modules."""
    binary = find_node_modules(start) / _ANVIL_RELATIVE
    if not binary.is_file():
        raise DevChainError("anvil not found in node_modules; run `npm install --ignore-scripts`")
    return binary


@dataclass(eq=False)
class AnvilProcess(LocalChainProcess):
    """anvil with its default funded accounts and a fixed chain id.

    Without `block_time` it mines only on transactions (chain time stands still while idle);
    with it, it also mines a block every `block_time` seconds (anvil's mixed mining), so the
    latest block's timestamp follows the wall clock — what a long-running devnet needs.
    With `load_state` (a file in anvil's `--dump-state` JSON) it starts holding that chain: the
    way in for a state too large for one `anvil_loadState` request (a 1 000-node run's).
    """

    name: ClassVar[str] = "anvil"
    startup_timeout: ClassVar[float] = 15.0

    block_time: int | None = field(default=None, kw_only=True)
    load_state: Path | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.block_time is not None and self.block_time < 1:
            raise DevChainError("anvil block time must be at least 1 second")

    def command(self) -> list[str]:
        interval = (
            ["--block-time", str(self.block_time), "--mixed-mining"] if self.block_time else []
        )
        return [
            str(find_anvil()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
            *interval,
            *(["--load-state", str(self.load_state)] if self.load_state else []),
        ]


class AnvilControl:
    """The clock and mining of an anvil this process owns, through `backend` (an `RpcBackend`
    of kind "anvil"): what a driver needs to play rounds at its own pace.

    anvil stamps a new block `max(latest + 1, wall clock + offset)`, so a driver slower than
    its round windows loses the round to the wall clock. `freeze_time` makes every block take
    the latest block's timestamp until the driver moves time (`Backend.set_time`); with
    `set_automine(False)` transactions wait in the pool until `mine()` puts every pending one
    in one block.
    """

    def __init__(self, backend: RpcBackend) -> None:
        if backend.kind != "anvil":
            raise DevChainError(f"anvil controls need an anvil backend, not {backend.kind!r}")
        self.backend = backend

    def freeze_time(self) -> None:
        """From now on a block's timestamp moves only when the driver sets it."""
        self.backend._rpc("anvil_setBlockTimestampInterval", [0])

    def set_automine(self, on: bool) -> None:
        """Mine each transaction as it arrives (on), or only on `mine()` (off)."""
        self.backend._rpc("evm_setAutomine", [on])

    def pending(self) -> int:
        """Transactions waiting in the pool (queued ones, with a nonce gap, not counted)."""
        status = self.backend._rpc("txpool_status", [])
        return int(status["pending"], 16)

    def mine(self) -> None:
        """Mine one block holding the pending transactions (as many as its gas limit takes)."""
        self.backend._rpc("evm_mine", [])
