"""What every local server the devnet starts shares: a free loopback port, a start that ties the
server's life to this process, and a clean stop.

A server started with `spawn` runs in its own session (node launchers spawn children, so a stop
signals the whole process group) and stays *guarded* until it is stopped or `release`d:

- **SIGINT / SIGTERM** to this process stop every guarded server (SIGTERM to its group, SIGKILL
  after its grace period), one line per server on stderr, then the signal goes on as it would
  have: SIGINT raises `KeyboardInterrupt`, SIGTERM raises `Terminated` (a `KeyboardInterrupt`),
  so ``with`` blocks and ``finally`` clauses still run. The first `spawn` from the main thread
  installs the handlers, and only for a signal that still has Python's default handling (the
  node daemon's own handlers, say, are left alone).
- **SIGKILL** to this process (nothing runs in it any more) is covered twice. The server gets a
  parent-death signal, SIGKILL (Linux ``prctl(PR_SET_PDEATHSIG)``, set in the child before
  exec). The kernel sends it when the *thread* that forked exits, so it is set only for servers
  spawned from the main thread. And a watchdog — one small process per guarding process, in its
  own session, reading a pipe that only this process holds — kills every guarded group and
  removes the paths given to `remove_on_death` as soon as the pipe closes or its parent changes.
  It also reaches what a server spawned itself, which the parent-death signal does not.

A server meant to outlive this process (`flchain devnet up`) is spawned with ``outlive=True``: no
parent-death signal (it cannot be lifted after exec); guarded while it starts, then `release`d.

`Server` is the context-manager shape they share (started on entering, stopped on any exit).
`exclusive_lock` keeps a second process out of what one process at a time may run (a devnet
command on a data dir, the node daemon of a wallet).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self

from filelock import FileLock, Timeout

from flchain.errors import FlchainError

__all__ = [
    "Server",
    "Terminated",
    "exclusive_lock",
    "free_port",
    "interrupt_behind",
    "interrupting_signal",
    "keep_on_death",
    "release",
    "remove_on_death",
    "set_reporter",
    "spawn",
    "stop_process_group",
    "stopped_by_signal",
]

_PR_SET_PDEATHSIG = 1
_KILL_WAIT_S = 5.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_WATCHDOG = Path(__file__).with_name("_watchdog.py")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived and the guarded servers are stopped: raised by the handler `spawn` installs.

    A `KeyboardInterrupt`, so no ``except Exception`` swallows it and whatever handles Ctrl-C
    (pytest, click) handles it too.
    """

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(self.signal.name)


def interrupting_signal(exc: KeyboardInterrupt) -> signal.Signals:
    """The signal behind `exc`: SIGTERM for `Terminated`, SIGINT for a plain Ctrl-C."""
    return exc.signal if isinstance(exc, Terminated) else signal.SIGINT


def stopped_by_signal() -> signal.Signals | None:
    """The signal that stopped this process's guarded servers, if one did. The handler raises
    the interrupt wherever the main thread happens to be, and code there may swallow it (a
    KeyboardInterrupt inside a finalizer or a library's catch-all); whatever the run then
    fails with, it failed because of this signal."""
    return _guard.stopped_by


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The interrupt `exc` was raised while handling, if any. A signal stops the servers
    before the interrupt unwinds the run; a clean-up on the way out that still talks to one
    (a node thread's last call, a pool's shutdown) then fails, and that failure is a
    consequence of the signal, not the reason the run ended."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__context__
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _report_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(eq=False)
class _Guarded:
    name: str
    proc: subprocess.Popen[bytes]
    grace: float


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces or ')': fields follow the last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _reaped(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


class _Guard:
    """This process's guarded servers, its watchdog and its signal handlers."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.previous: dict[int, Any] = {}
        self.report: Callable[[str], None] = _report_to_stderr
        self.libc: Any = None
        if sys.platform == "linux":
            with contextlib.suppress(OSError):
                self.libc = ctypes.CDLL(None, use_errno=True)
        self.clear()

    def clear(self) -> None:
        self.servers: dict[int, _Guarded] = {}
        self.watchdog: subprocess.Popen[bytes] | None = None
        self.watchdog_failed = False
        self.spawning = 0
        self.pending_signal: int | None = None
        self.stopping = False
        self.stopped_by: signal.Signals | None = None
        self.lock = threading.RLock()

    def after_fork_in_child(self) -> None:
        """A forked child guards nothing of its parent's, and must not hold the watchdog's pipe:
        its closing is how the watchdog learns that the parent died. The fd is pointed at
        /dev/null rather than closed (no lock taken, and the file object's eventual close
        cannot hit a reused fd). `owner` stays the parent: a signal to the child does what it
        did before (see `on_signal`)."""
        if self.watchdog is not None and self.watchdog.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self.watchdog.stdin.fileno())
                os.close(null)
        self.clear()

    # --- watchdog -------------------------------------------------------------------------

    def tell_watchdog(self, line: str, *, start: bool = False) -> None:
        with self.lock:
            self._tell_watchdog(line, start)

    def _tell_watchdog(self, line: str, start: bool) -> None:
        if start and self.watchdog is None and not self.watchdog_failed:
            self.start_watchdog()
        if self.watchdog is None or self.watchdog.stdin is None:
            return
        try:
            self.watchdog.stdin.write(line.encode() + b"\n")
            self.watchdog.stdin.flush()
        except (OSError, ValueError):  # it died: the parent-death signal still covers SIGKILL
            self.watchdog = None
            self.watchdog_failed = True

    def start_watchdog(self) -> None:
        if not sys.executable or not _WATCHDOG.is_file() or not Path("/proc/self").exists():
            self.watchdog_failed = True
            return
        try:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", str(_WATCHDOG), str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a signal to our process group must not reach it
            )
        except OSError:
            self.watchdog_failed = True

    # --- signals --------------------------------------------------------------------------

    def install_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        for signum in _SIGNALS:
            current = signal.getsignal(signum)
            if current is self.on_signal or current is not defaults[signum]:
                continue
            self.previous[signum] = current
            signal.signal(signum, self.on_signal)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self.owner:  # a fork that inherited the handler: behave as before
            signal.signal(signum, self.previous.get(signum, signal.SIG_DFL))
            os.kill(os.getpid(), signum)
            return
        if self.stopping:
            return  # a second signal while the first one stops the servers
        if self.spawning:
            self.pending_signal = signum  # acted on once the new server is registered
            return
        self.stopped_by = signal.Signals(signum)
        self.stop_all(self.stopped_by.name)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    def stop_all(self, why: str) -> None:
        self.stopping = True
        try:
            servers = list(reversed(self.servers.values()))
            exited = [server.proc.poll() is not None for server in servers]
            for server, gone in zip(servers, exited, strict=True):
                if not gone:  # all at once: the stop takes the longest grace, not the sum
                    _signal_group(server.proc.pid, signal.SIGTERM)
            for server, gone in zip(servers, exited, strict=True):
                outcome = self.finish(server, gone)
                with contextlib.suppress(OSError, ValueError):  # stderr closed: stop them anyway
                    self.report(f"{why}: {outcome}")
        finally:
            self.stopping = False

    def finish(self, server: _Guarded, exited: bool) -> str:
        """Wait for a server SIGTERM was sent to, SIGKILL it after its grace; forget it."""
        proc, pid = server.proc, server.proc.pid
        if exited:
            outcome = f"{server.name} (pid {pid}) had already exited with code {proc.returncode}"
        elif _reaped(proc, server.grace):
            outcome = f"stopped {server.name} (pid {pid})"
        else:
            _signal_group(pid, signal.SIGKILL)
            _reaped(proc, _KILL_WAIT_S)
            outcome = f"killed {server.name} (pid {pid}): still running {server.grace:.0f} s after SIGTERM"
        _signal_group(pid, signal.SIGKILL)  # members of its group that outlived the leader
        self.forget(proc)
        return outcome

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        if self.servers.pop(proc.pid, None) is not None:
            self.tell_watchdog(f"- {proc.pid}")

    @contextlib.contextmanager
    def deferring_signals(self) -> Iterator[None]:
        """Hold back our signal handler while a server starts and is registered: a signal in
        between would stop the others and miss it."""
        self.spawning += 1
        try:
            yield
        finally:
            self.spawning -= 1
        signum, self.pending_signal = self.pending_signal, None
        if signum is not None:  # again, for the main thread's handler (we may be another thread)
            os.kill(os.getpid(), signum)


_guard = _Guard()
os.register_at_fork(after_in_child=_guard.after_fork_in_child)


def set_reporter(report: Callable[[str], None]) -> None:
    """Where the one line per server stopped on a signal goes (default: stderr). A test runner
    that captures stderr passes a function that writes past its capture."""
    _guard.report = report


def _tie_to_parent(parent: int, libc: Any) -> None:
    """In the child, before exec: SIGKILL when the forking thread ends (the parent dies)."""
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != parent:  # the parent died before prctl: no signal will come
        os.kill(os.getpid(), signal.SIGKILL)


def spawn(
    argv: list[str],
    *,
    name: str,
    grace: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | None = subprocess.DEVNULL,
    outlive: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a session of its own, guarded as the module docstring tells.

    @param name what the stop line on stderr calls it ("anvil", "js-ipfs").
    @param grace seconds between SIGTERM and SIGKILL when a signal stops it.
    @param outlive no parent-death signal: it may be `release`d to outlive this process.
    """
    _guard.install_handlers()
    pdeathsig = (
        not outlive
        and _guard.libc is not None
        and threading.current_thread() is threading.main_thread()
    )
    preexec: Callable[[], None] | None = None
    if pdeathsig:
        parent, libc = os.getpid(), _guard.libc

        def preexec() -> None:
            _tie_to_parent(parent, libc)

    with _guard.deferring_signals():
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=preexec,
        )
        _guard.servers[proc.pid] = _Guarded(name, proc, grace)
        started = _start_time(proc.pid)
        if started is not None:
            _guard.tell_watchdog(f"+ {proc.pid} {started} {name}", start=True)
    return proc


def release(proc: subprocess.Popen[bytes]) -> None:
    """Stop guarding `proc`: it is left running when this process ends, however it ends."""
    _guard.forget(proc)


def remove_on_death(path: Path) -> None:
    """Have the watchdog remove `path` should this process die without removing it (SIGKILL)."""
    _guard.tell_watchdog(f"p+ {os.fsencode(path.absolute()).hex()}", start=True)


def keep_on_death(path: Path) -> None:
    """Withdraw `remove_on_death(path)`: the path is gone already, or must stay."""
    _guard.tell_watchdog(f"p- {os.fsencode(path.absolute()).hex()}")


def stop_process_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group `proc` leads, SIGKILL it after `grace` seconds, reap it.

    The servers run in their own session (node launchers spawn children), so the whole group
    is signalled, not just the leader.
    """
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        if not _reaped(proc, grace):
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace)
        _signal_group(proc.pid, signal.SIGKILL)  # members of its group that outlived the leader
    _guard.forget(proc)


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: Callable[[Path], FlchainError]) -> Iterator[Path]:
    """Hold the lock file `path` (its folder created) while the block runs; if another process
    holds it, raise `busy(path)` at once rather than wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise busy(path) from None
    try:
        yield path
    finally:
        lock.release()


class Server(ABC):
    """A server this process starts: `with server:` starts it and stops it on any exit."""

    @abstractmethod
    def start(self) -> object:
        """Start the server and wait until it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server (safe to call twice)."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
