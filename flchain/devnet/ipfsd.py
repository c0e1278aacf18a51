"""Start and stop a strictly offline js-ipfs daemon (npm ``ipfs@0.66.1``) on 127.0.0.1.

``--offline`` alone does not keep js-ipfs off the network (DESIGN §7), so the repository is
initialised with the ``test`` profile and then its config is rewritten before the daemon
starts: no bootstrap peers, MDNS and webRTCStar off, no delegates, routing ``none``, no swarm
listeners, pubsub off, and the HTTP API and gateway bound to 127.0.0.1 on free ports. The
daemon is ready when ``POST /api/v0/version`` answers.

Use it as a context manager so the daemon stops on any exit, including a failing test::

    with IpfsDaemon() as daemon:
        client = IpfsClient(daemon.url)

The daemon is guarded (`flchain.devnet.process`): a SIGINT or SIGTERM to this process stops it,
and it dies with this process even on SIGKILL, its temporary repository removed — unless it was
made ``detachable`` and then `detach()`ed (`flchain devnet up`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from flchain.devnet.process import (
    Server,
    free_port,
    keep_on_death,
    release,
    remove_on_death,
    spawn,
    stop_process_group,
)
from flchain.errors import UnavailableError

__all__ = ["IpfsDaemon", "IpfsDaemonError", "find_jsipfs_cli", "free_port", "offline_config"]

_CLI_RELATIVE = Path("node_modules") / "ipfs" / "src" / "cli.js"
STOP_GRACE_S = 10.0


class IpfsDaemonError(UnavailableError):
    """The js-ipfs daemon is not installed, failed to start, or did not become ready."""


def find_jsipfs_cli(start: Path | None = None) -> Path:
    """Locate ``node_modules/ipfs/src/cli.js`` in `start`, the repo of this package, or a parent.

    @raises IpfsDaemonError when npm ``ipfs`` is not installed (``npm install --ignore-scripts``).
    """
    candidates = [start] if start is not None else [Path.cwd(), Path(__file__).resolve()]
    for base in candidates:
        for directory in (base, *base.parents):
            cli = directory / _CLI_RELATIVE
            if cli.is_file():
                return cli
    raise IpfsDaemonError(
        "js-ipfs not found (node_modules/ipfs/src/cli.js); run `npm install --ignore-scripts`"
    )


def offline_config(config: dict[str, Any], api_port: int, gateway_port: int) -> dict[str, Any]:
    """Return `config` rewritten so the node contacts nothing and listens on 127.0.0.1 only."""
    out = json.loads(json.dumps(config))
    addresses = out.setdefault("Addresses", {})
    addresses.update(
        Swarm=[],
        Announce=[],
        NoAnnounce=[],
        Delegates=[],
        API=f"/ip4/127.0.0.1/tcp/{api_port}",
        Gateway=f"/ip4/127.0.0.1/tcp/{gateway_port}",
    )
    # The gRPC-over-websocket server would take a fixed port (5003); nothing here needs it.
    addresses.pop("RPC", None)
    out["Bootstrap"] = []
    out["Discovery"] = {
        "MDNS": {"Enabled": False, "Interval": 10},
        "webRTCStar": {"Enabled": False},
    }
    out["Routing"] = {"Type": "none"}
    out.setdefault("Pubsub", {})["Enabled"] = False
    return out


class IpfsDaemon(Server):
    """One offline js-ipfs daemon with its own repository.

    @param repo repository directory; a temporary one (deleted on stop) when omitted.
    @param cli path to js-ipfs ``cli.js``; found under ``node_modules`` when omitted.
    @param node the ``node`` executable.
    @param api_port serve the API on this 127.0.0.1 port (0: a free one, fresh on each try).
    @param detachable start it without a parent-death signal, so that `detach()` may leave it
        running after this process ends.
    """

    def __init__(
        self,
        repo: Path | None = None,
        *,
        cli: Path | None = None,
        node: str | None = None,
        startup_timeout: float = 90.0,
        api_port: int = 0,
        detachable: bool = False,
    ) -> None:
        self._own_repo = repo is None
        self.detachable = detachable
        self._fixed_api_port = api_port
        self.repo = (
            Path(repo) if repo is not None else Path(tempfile.mkdtemp(prefix="flchain-ipfs-"))
        )
        self.cli = cli or find_jsipfs_cli()
        node_exe = node or shutil.which("node")
        if node_exe is None:
            raise IpfsDaemonError("the `node` executable (Node.js 20) is not on PATH")
        self.node = node_exe
        self.startup_timeout = startup_timeout
        self.api_port = 0
        self.gateway_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.repo.parent / f"{self.repo.name}.daemon.log"

    @property
    def url(self) -> str:
        """Base URL of the HTTP RPC API, e.g. ``http://127.0.0.1:43121``."""
        if not self.api_port:
            raise IpfsDaemonError("the IPFS daemon is not running")
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IPFS_", "DEBUG"))}
        env["IPFS_PATH"] = str(self.repo)
        return env

    def _init_repo(self) -> None:
        if (self.repo / "config").is_file():
            return
        self.repo.mkdir(parents=True, exist_ok=True)
        init = spawn(
            [self.node, str(self.cli), "init", "--profile", "test"],
            name="js-ipfs init",
            grace=STOP_GRACE_S,
            env=self._env(),
            stderr=subprocess.PIPE,
        )
        try:
            _, err = init.communicate(timeout=self.startup_timeout)
        except subprocess.TimeoutExpired:
            raise IpfsDaemonError(
                f"`jsipfs init` did not finish within {self.startup_timeout:.0f} s"
            ) from None
        finally:
            stop_process_group(init, grace=STOP_GRACE_S)
        if init.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise IpfsDaemonError(f"`jsipfs init` failed: {tail[0]}")

    def _write_config(self) -> None:
        path = self.repo / "config"
        config = json.loads(path.read_text())
        self.api_port, self.gateway_port = self._fixed_api_port or free_port(), free_port()
        path.write_text(
            json.dumps(offline_config(config, self.api_port, self.gateway_port), indent=2)
        )

    def _spawn(self) -> None:
        log = self._log_path.open("ab")
        try:
            self._proc = spawn(
                [self.node, str(self.cli), "daemon", "--offline"],
                name="js-ipfs",
                grace=STOP_GRACE_S,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                outlive=self.detachable,
            )
        finally:
            log.close()

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                reply = httpx.post(f"{self.url}/api/v0/version", timeout=2.0)
                if reply.status_code == 200 and "Version" in reply.json():
                    return True
            time.sleep(0.2)
        return False

    def _log_tail(self) -> str:
        try:
            lines = self._log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no output"

    def start(self, attempts: int = 3) -> str:
        """Initialise the repo if needed, start the daemon and wait until its API answers.

        @return the API base URL.
        @raises IpfsDaemonError if it does not answer within `startup_timeout` after `attempts`
            tries (each with fresh ports, in case another process took one meanwhile).
        """
        if self._proc is not None and self._proc.poll() is None:
            return self.url
        if self._own_repo:  # a temporary repository does not outlive us, even on SIGKILL
            remove_on_death(self.repo)
            remove_on_death(self._log_path)
        self._init_repo()
        for _ in range(attempts):
            self._write_config()
            self._spawn()
            atexit.register(self.stop)
            if self._wait_ready():
                return self.url
            self._terminate()
        raise IpfsDaemonError(f"js-ipfs daemon did not become ready: {self._log_tail()}")

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_process_group(proc, grace=STOP_GRACE_S)

    def detach(self) -> int:
        """Leave the running daemon to outlive this process (needs `detachable`); its pid."""
        if self._proc is None:
            raise IpfsDaemonError("the IPFS daemon is not running")
        if not self.detachable:
            raise IpfsDaemonError("the IPFS daemon dies with this process; make it detachable")
        proc, self._proc = self._proc, None
        release(proc)
        atexit.unregister(self.stop)
        if self._own_repo:
            keep_on_death(self.repo)
            keep_on_death(self._log_path)
        return proc.pid

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL after 10 s) and delete a temporary repo."""
        self._terminate()
        self.api_port = 0
        atexit.unregister(self.stop)
        if self._own_repo:
            shutil.rmtree(self.repo, ignore_errors=True)
            with contextlib.suppress(OSError):
                self._log_path.unlink()
            keep_on_death(self.repo)
            keep_on_death(self._log_path)
