"""A run that started servers, killed, leaves none of them running — with real kills.

Each run is a subprocess: `flchain simulate` on anvil with js-ipfs, `flchain devnet up` while it
starts, a pytest session holding anvil / hardhat node / js-ipfs fixtures, and a bare Python
process holding anvil (each SIGKILL guard alone: the watchdog, the parent-death signal). Its
processes are found through /proc (its descendants, then the sessions they lead) and, zombies
aside, must all be gone within `GONE_S` of the kill. SIGINT and SIGTERM must also leave one line
per server stopped on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _devnet_cli import FLCHAIN, cli_env
from _procs import (
    GONE_S,
    UP_S,
    Family,
    Proc,
    chain_answers,
    ipfs_answers,
    ipfs_repo,
    is_anvil,
    is_ipfs,
    is_watchdog,
    names,
    poll,
)

from flchain.devnet.hardhat import find_hardhat
from flchain.devnet.ipfsd import find_jsipfs_cli
from flchain.errors import UnavailableError

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

SUITE_CONFTEST = Path(__file__).parents[1] / "conftest.py"
STOP_LINE = re.compile(r"^(SIGINT|SIGTERM): (stopped|killed) (.+?) \(pid (\d+)\)", re.MULTILINE)


def installed(find: Callable[[], object]) -> bool:
    try:
        find()
    except UnavailableError:
        return False
    return True


needs_ipfs = pytest.mark.skipif(not installed(find_jsipfs_cli), reason="js-ipfs not installed")


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    family: Family
    folder: Path

    @property
    def stderr(self) -> str:
        return (self.folder / "stderr.txt").read_text(errors="replace")

    def why(self) -> str:
        stdout = (self.folder / "stdout.txt").read_text(errors="replace")
        return (
            f"exit code {self.proc.poll()}, processes: {names(self.family.members.values())}, "
            f"stdout: {stdout[-2000:]}, stderr: {self.stderr[-2000:]}"
        )

    def wait_for(self, what: str, test: Callable[[Proc], bool]) -> Proc:
        def found() -> Proc | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"the run ended before {what}: {self.why()}")
            return self.family.find(test)

        return poll(what, found, UP_S, why=self.why)

    def kill_with(self, sig: signal.Signals) -> int:
        """Send `sig` once the run's processes are all known; its exit code."""
        assert self.proc.poll() is None, f"the run ended before it could be killed: {self.why()}"
        self.family.refresh()
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=GONE_S)

    def assert_all_gone(self) -> None:
        poll(
            "no process of the killed run left",
            lambda: not self.family.alive(),
            GONE_S,
            why=lambda: names(self.family.alive()),
        )

    def stopped(self) -> set[tuple[str, str, int]]:
        """(signal, server name, pid) of each line saying a server was stopped, no repeats."""
        lines = [(m[1], m[3], int(m[4])) for m in STOP_LINE.finditer(self.stderr)]
        assert len(lines) == len(set(lines)), self.stderr
        return set(lines)


@contextlib.contextmanager
def launched(
    argv: list[str], tmp_path: Path, *, env: dict[str, str] | None = None
) -> Iterator[Run]:
    """Start `argv`; whatever the test's outcome, nothing of it outlives the test.

    SIGINT gets its default disposition back: a test run started in the background by a shell
    ignores it, and its children would inherit that.
    """
    with (tmp_path / "stdout.txt").open("wb") as out, (tmp_path / "stderr.txt").open("wb") as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    run = Run(proc, Family(proc.pid, {}), tmp_path)
    try:
        yield run
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        run.family.kill_leftovers()


def _anvil_answering(run: Run) -> Proc:
    return run.wait_for("anvil answering", lambda p: is_anvil(p) and chain_answers(p))


# --- flchain simulate -----------------------------------------------------------------------


@needs_ipfs
@pytest.mark.ipfs
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_killed_simulation_leaves_no_process(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "run"
    argv = [FLCHAIN, "simulate", "--nodes", "3", "--days", "1", "--chain", "anvil"]
    argv += ["--store", "ipfs", "--out", str(out), "--quiet"]
    with launched(argv, tmp_path, env=cli_env(None)) as run:
        anvil = _anvil_answering(run)
        ipfs = run.wait_for("js-ipfs answering", lambda p: is_ipfs(p) and ipfs_answers(p))
        assert run.family.find(is_watchdog) is not None, run.why()
        repo = ipfs_repo(ipfs)

        code = run.kill_with(sig)
        run.assert_all_gone()
        # Its temporary repository too: on SIGKILL the watchdog removes it.
        poll(
            "the temporary js-ipfs repository removed",
            lambda: not repo.exists(),
            GONE_S,
            why=run.why,
        )

    assert "Traceback" not in run.stderr
    assert not out.exists()
    if sig == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM, run.why()
        assert run.stopped() == {
            ("SIGTERM", "anvil", anvil.pid),
            ("SIGTERM", "js-ipfs", ipfs.pid),
        }, run.stderr
        assert "simulation interrupted by SIGTERM: no run folder written" in run.stderr
    else:
        assert code == -signal.SIGKILL


# --- flchain devnet up ------------------------------------------------------------------------


@needs_ipfs
@pytest.mark.ipfs
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_devnet_up_killed_while_it_starts_leaves_no_process(
    tmp_path: Path, sig: signal.Signals
) -> None:
    data = tmp_path / "flchain"
    argv = [FLCHAIN, "devnet", "up", "--store", "ipfs", "--data-dir", str(data)]
    with launched(argv, tmp_path, env=cli_env()) as run:
        anvil = _anvil_answering(run)
        # Killed while it sets up js-ipfs: its `init`, or the daemon before its API answers.
        ipfs = run.wait_for("js-ipfs started", is_ipfs)
        code = run.kill_with(sig)
        run.assert_all_gone()

    assert "Traceback" not in run.stderr
    if sig == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM, run.why()
        stopped = {(s, pid): name for s, name, pid in run.stopped()}
        assert stopped.keys() == {("SIGTERM", anvil.pid), ("SIGTERM", ipfs.pid)}, run.stderr
        assert stopped["SIGTERM", anvil.pid] == "anvil"
        assert stopped["SIGTERM", ipfs.pid] in ("js-ipfs init", "js-ipfs"), run.stderr
        assert "devnet up interrupted by SIGTERM: nothing left running" in run.stderr
        assert not (data / "devnet").exists()
    else:
        assert code == -signal.SIGKILL
        # The watchdog killed what the unfinished `up` had started; `down` clears the leftovers.
        down = subprocess.run(
            [FLCHAIN, "devnet", "down", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=UP_S,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        # pending.json names what had started (js-ipfs only once its API answers): all dead.
        outcomes = [line for line in down.stdout.splitlines() if " pid " in line]
        assert f"anvil    pid {anvil.pid}: already gone" in outcomes, down.stdout
        assert all(line.endswith(": already gone") for line in outcomes), down.stdout
        assert not (data / "devnet").exists()


# --- a pytest session holding the fixtures --------------------------------------------------

INNER_CONFTEST = f"""
import importlib.util

# The suite's own conftest: its hook sends the stop lines past pytest's capture of stderr.
_spec = importlib.util.spec_from_file_location("flchain_suite_conftest", {str(SUITE_CONFTEST)!r})
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
pytest_configure = _suite.pytest_configure
"""

#: Fixtures written as the suite's are (tests/ledger, tests/storage, tests/ledger/test_access).
INNER_TEST = """
import json
import os
import time
from pathlib import Path

import pytest

from flchain.devnet.anvil import AnvilProcess
from flchain.devnet.hardhat import HardhatProcess
from flchain.devnet.ipfsd import IpfsDaemon


@pytest.fixture(scope="session")
def anvil():
    with AnvilProcess() as node:
        yield node


@pytest.fixture(scope="session")
def hardhat():
    with HardhatProcess() as node:
        yield node


@pytest.fixture(scope="session")
def ipfs():
    daemon = IpfsDaemon()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


def test_holds_the_servers(request):
    held = {name: request.getfixturevalue(name).pid for name in os.environ["HOLD"].split(",")}
    Path(os.environ["READY"]).write_text(json.dumps(held))
    time.sleep(600)
"""

#: The server name each fixture's stop line uses.
SERVER_NAMES = {"anvil": "anvil", "hardhat": "hardhat node", "ipfs": "js-ipfs"}


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_killed_pytest_session_leaves_no_server(tmp_path: Path, sig: signal.Signals) -> None:
    hold = ["anvil"]
    hold += ["hardhat"] if installed(find_hardhat) else []
    hold += ["ipfs"] if installed(find_jsipfs_cli) else []
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "conftest.py").write_text(INNER_CONFTEST)
    (inner / "test_hold.py").write_text(INNER_TEST)
    ready = tmp_path / "ready.json"
    env = {**os.environ, "HOLD": ",".join(hold), "READY": str(ready)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    argv += ["--rootdir", str(inner), str(inner / "test_hold.py")]
    with launched(argv, tmp_path, env=env) as run:

        def held() -> dict[str, int] | None:
            if run.proc.poll() is not None:
                raise AssertionError(f"the inner session ended: {run.why()}")
            return json.loads(ready.read_text()) if ready.exists() else None

        pids = poll("the inner session holding its servers", held, UP_S, why=run.why)
        family = run.family.refresh()
        assert {p.pid for p in family.members.values()} >= set(pids.values()), run.why()
        code = run.kill_with(sig)
        run.assert_all_gone()

    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else pytest.ExitCode.INTERRUPTED)
    if sig != signal.SIGKILL:
        expected = {(sig.name, SERVER_NAMES[name], pid) for name, pid in pids.items()}
        assert run.stopped() == expected, run.stderr


# --- each SIGKILL guard alone ---------------------------------------------------------------

HOLDER = """
import os
import sys
import threading
import time

from flchain.devnet.anvil import AnvilProcess

if sys.argv[1] == "thread":
    worker = threading.Thread(target=lambda: AnvilProcess().start())
    worker.start()
    worker.join()
else:
    AnvilProcess().start()
if sys.argv[1] == "fork":
    child = os.fork()
    if child == 0:
        time.sleep(600)
        os._exit(0)
    print("fork", child, "ended by signal", os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
    sys.stdout.flush()
time.sleep(600)
"""


def test_the_watchdog_alone_kills_a_server_spawned_from_a_thread_that_ended(
    tmp_path: Path,
) -> None:
    """No parent-death signal here: it would have fired when the spawning thread ended."""
    argv = [sys.executable, "-c", HOLDER, "thread"]
    with launched(argv, tmp_path) as run:
        anvil = _anvil_answering(run)  # alive and answering after its thread ended
        assert run.family.find(is_watchdog) is not None, run.why()
        assert run.kill_with(signal.SIGKILL) == -signal.SIGKILL
        run.assert_all_gone()
    assert f"flchain: killed anvil (pid {anvil.pid})" in run.stderr


def test_the_parent_death_signal_alone_kills_a_server(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", HOLDER, "main"]
    with launched(argv, tmp_path) as run:
        _anvil_answering(run)
        watchdog = run.family.find(is_watchdog)
        assert watchdog is not None, run.why()
        os.kill(watchdog.pid, signal.SIGKILL)
        poll(
            "the watchdog dead",
            lambda: run.family.find(is_watchdog) is None,
            GONE_S,
            why=run.why,
        )
        assert run.kill_with(signal.SIGKILL) == -signal.SIGKILL
        run.assert_all_gone()
    assert "flchain: killed" not in run.stderr


def test_a_forked_child_keeps_the_default_sigterm_and_leaves_the_servers_alone(
    tmp_path: Path,
) -> None:
    """A fork (multiprocessing's, say) inherits the handler; a SIGTERM to it must end it as
    before, not stop the servers of the process it was forked from."""
    argv = [sys.executable, "-c", HOLDER, "fork"]
    with launched(argv, tmp_path) as run:
        anvil = _anvil_answering(run)
        fork = run.wait_for(
            "the fork", lambda p: p.ppid == run.proc.pid and p.argv[-1:] == ("fork",)
        )
        os.kill(fork.pid, signal.SIGTERM)
        stdout = tmp_path / "stdout.txt"
        ended = f"fork {fork.pid} ended by signal {-signal.SIGTERM}"
        poll("the fork ended", lambda: ended in stdout.read_text(), GONE_S, why=run.why)
        assert chain_answers(anvil) and not run.stopped(), run.why()

        run.kill_with(signal.SIGTERM)
        run.assert_all_gone()
    assert run.stopped() == {("SIGTERM", "anvil", anvil.pid)}, run.stderr
