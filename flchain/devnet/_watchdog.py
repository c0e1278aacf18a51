"""The watchdog `flchain.devnet.process` starts: it kills the guarded servers of a dead parent.

Run as ``python -I -S _watchdog.py <parent pid>`` (standard library only, so it starts in a few
milliseconds and needs no import path) with a pipe as stdin that only the parent writes to.
Lines on the pipe:

    + <pid> <start time> <name>    guard the process group <pid>
    - <pid>                        release it (stopped, or left to outlive the parent)
    p+ <hex path>                  remove this path once the guarded groups are dead
    p- <hex path>                  do not

When the pipe closes (every copy of its write end is gone: the parent exited or was killed) or
the parent changes (re-parented: it died), it SIGKILLs every guarded group whose leader is not a
different program by now — the start time read from /proc tells a reused pid — says so on the
stderr it inherited, and removes the paths.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import time

POLL_S = 0.5
DEATH_WAIT_S = 5.0


def start_time(pid: int) -> bytes | None:
    """The start time of a live process `pid` (None if gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in (b"Z", b"X") else fields[19]


def watch(parent: int) -> tuple[dict[int, tuple[bytes, str]], set[bytes]]:
    """Read the pipe until the parent is gone; what is guarded then."""
    groups: dict[int, tuple[bytes, str]] = {}
    paths: set[bytes] = set()
    pending = b""
    while os.getppid() == parent:
        if not select.select([0], [], [], POLL_S)[0]:
            continue
        data = os.read(0, 65536)
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            op, _, arg = line.partition(b" ")
            if op == b"+":
                pid, start, name = arg.split(b" ", 2)
                groups[int(pid)] = (start, name.decode(errors="replace"))
            elif op == b"-":
                groups.pop(int(arg), None)
            elif op == b"p+":
                paths.add(bytes.fromhex(arg.decode()))
            elif op == b"p-":
                paths.discard(bytes.fromhex(arg.decode()))
    return groups, paths


def main() -> None:
    parent = int(sys.argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups, paths = watch(parent)
    for pid, (start, name) in groups.items():
        if start_time(pid) not in (start, None):
            continue  # the pid now runs another program
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            continue
        sys.stderr.write(
            f"flchain: killed {name} (pid {pid}): pid {parent} that started it is gone\n"
        )
    deadline = time.monotonic() + DEATH_WAIT_S
    while time.monotonic() < deadline and any(start_time(pid) for pid in groups):
        time.sleep(0.05)
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


if __name__ == "__main__":
    main()
