"""Which signal ended a run whose clean-up failed after the signal (`interrupt_behind`).

A SIGTERM stops anvil before the interrupt unwinds the simulation; a node thread or a pool
shutting down on the way out then fails to reach it. `flchain simulate` must still exit
128 + the signal and say it was interrupted, not report that failure (it did, about one run in
eight of tests/simulate/test_pool.py's SIGINT case)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from flchain.devnet.process import Terminated, interrupt_behind, interrupting_signal
from flchain.ledger.errors import ChainUnavailable


def _raised_while_handling(interrupt: KeyboardInterrupt) -> BaseException:
    try:
        try:
            raise interrupt
        finally:
            try:
                raise ConnectionRefusedError(111, "Connection refused")
            except ConnectionRefusedError as exc:
                raise ChainUnavailable("cannot reach the RPC endpoint") from exc
    except BaseException as exc:  # the point: what escapes the run
        return exc


@pytest.mark.parametrize(
    ("interrupt", "expected"),
    [(KeyboardInterrupt(), signal.SIGINT), (Terminated(signal.SIGTERM), signal.SIGTERM)],
)
def test_a_clean_up_failure_after_a_signal_is_the_signal(
    interrupt: KeyboardInterrupt, expected: signal.Signals
) -> None:
    escaped = _raised_while_handling(interrupt)
    assert isinstance(escaped, ChainUnavailable)  # what Python lets escape
    found = interrupt_behind(escaped)
    assert found is interrupt
    assert interrupting_signal(found) == expected


def test_a_failure_with_no_signal_behind_it_is_the_failure() -> None:
    try:
        try:
            raise ValueError("a bad value")
        except ValueError as exc:
            raise ChainUnavailable("cannot reach the RPC endpoint") from exc
    except ChainUnavailable as exc:
        assert interrupt_behind(exc) is None


def test_a_signal_that_stopped_the_servers_is_remembered_even_if_its_interrupt_is_lost() -> None:
    """In a fresh interpreter with a guarded server (a `sleep`), SIGINT stops it; the
    interrupt is then swallowed by the code it landed in (as a finalizer or a library's
    catch-all would), and the run fails later for another reason. `stopped_by_signal` still
    names the signal, so `flchain simulate` exits 130 rather than reporting that failure."""
    code = """
import os, signal, sys, time
from flchain.devnet.process import spawn, stopped_by_signal
assert stopped_by_signal() is None
sleeper = spawn(["sleep", "60"], name="sleep", grace=5.0)
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
except KeyboardInterrupt:
    pass  # lost, as the flaky run lost it
assert sleeper.poll() is not None, "the signal stopped the guarded server"
print(stopped_by_signal().name)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SIGINT"
    assert "SIGINT: stopped sleep (pid" in result.stderr
