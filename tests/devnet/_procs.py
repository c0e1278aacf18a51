"""What a process started, read from /proc: its descendants and the sessions they lead.

Every server flchain starts runs in a session of its own, so once its parent has died (and it
has been re-parented) it is still found by its session id. A process is told apart from a later
one that reuses its pid by its start time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")

#: Bound on waiting for servers to come up (a js-ipfs start takes seconds on a loaded machine).
UP_S = 180.0
#: Bound on waiting for every process of a killed run to be gone.
GONE_S = 30.0
POLL_S = 0.05


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    sid: int
    state: str
    start: int
    argv: tuple[str, ...]

    @property
    def key(self) -> tuple[int, int]:
        return self.pid, self.start

    @property
    def dead(self) -> bool:
        return self.state in ("Z", "X")

    def env(self, name: str) -> str | None:
        try:
            raw = Path(f"/proc/{self.pid}/environ").read_bytes()
        except OSError:
            return None
        prefix = name.encode() + b"="
        for item in raw.split(b"\0"):
            if item.startswith(prefix):
                return item[len(prefix) :].decode()
        return None


def read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw_argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    argv = tuple(part.decode(errors="replace") for part in raw_argv.split(b"\0") if part)
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        sid=int(fields[3]),
        state=fields[0],
        start=int(fields[19]),
        argv=argv,
    )


def snapshot() -> list[Proc]:
    found = (read_proc(int(name)) for name in os.listdir("/proc") if name.isdigit())
    return [p for p in found if p is not None]


@dataclass
class Family:
    """Everything a root process started: known members (by pid and start time) and the
    sessions they lead (a member's later children are found by those)."""

    root: int
    members: dict[tuple[int, int], Proc]

    @property
    def sessions(self) -> set[int]:
        return {p.sid for p in self.members.values() if p.sid == p.pid}

    def refresh(self) -> Family:
        """Add the descendants of `root` and the members of known sessions alive now."""
        procs = snapshot()
        children: dict[int, list[Proc]] = {}
        for p in procs:
            children.setdefault(p.ppid, []).append(p)
        todo = [self.root]
        while todo:
            for child in children.get(todo.pop(), []):
                if child.key not in self.members:
                    self.members[child.key] = child
                todo.append(child.pid)
        sessions = self.sessions
        for p in procs:
            if p.sid in sessions:
                self.members.setdefault(p.key, p)
        return self

    def alive(self) -> list[Proc]:
        """Known members (or members of their sessions) that still run (zombies do not)."""
        keys, sessions = set(self.members), self.sessions
        return [p for p in snapshot() if (p.key in keys or p.sid in sessions) and not p.dead]

    def kill_leftovers(self) -> None:
        """Clean-up after a failed test: SIGKILL what is left, by pid (start time checked)."""
        for p in self.alive():
            now = read_proc(p.pid)
            if now is not None and now.start == p.start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)

    def find(self, test: Callable[[Proc], bool]) -> Proc | None:
        """A member alive now that passes `test`."""
        return next((p for p in self.refresh().alive() if test(p)), None)


def poll(what: str, get: Callable[[], T | None], timeout: float, *, why: Callable[[], str]) -> T:
    """Call `get` until it returns something; fail after `timeout` s, saying what and why."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f} s: {why()}")
        time.sleep(POLL_S)


def is_anvil(p: Proc) -> bool:
    return bool(p.argv) and p.argv[0].endswith("/anvil")


def is_ipfs(p: Proc) -> bool:
    """js-ipfs: ``node …/ipfs/src/cli.js init|daemon``, renamed "ipfs" once loaded; its
    repository comes in through the environment."""
    named = p.argv[:1] == ("ipfs",) or any(part.endswith("ipfs/src/cli.js") for part in p.argv)
    return named and p.env("IPFS_PATH") is not None


def is_watchdog(p: Proc) -> bool:
    return any(part.endswith("flchain/devnet/_watchdog.py") for part in p.argv)


def _rpc_answers(port: int) -> bool:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        return "result" in httpx.post(f"http://127.0.0.1:{port}", json=body, timeout=2.0).json()
    except (httpx.HTTPError, ValueError):
        return False


def chain_answers(p: Proc) -> bool:
    """A chain process whose --port answers eth_chainId."""
    return "--port" in p.argv and _rpc_answers(int(p.argv[p.argv.index("--port") + 1]))


def ipfs_repo(p: Proc) -> Path:
    repo = p.env("IPFS_PATH")
    assert repo is not None
    return Path(repo)


def ipfs_answers(p: Proc) -> bool:
    """A js-ipfs daemon whose API (from its repository's config) answers."""
    try:
        config = json.loads((ipfs_repo(p) / "config").read_text())
        port = int(config["Addresses"]["API"].rsplit("/", 1)[1])
        return httpx.post(f"http://127.0.0.1:{port}/api/v0/version", timeout=2.0).is_success
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return False


def names(procs: Iterable[Proc]) -> str:
    return "; ".join(f"{p.pid} {' '.join(p.argv)[:120]}" for p in procs) or "none"
