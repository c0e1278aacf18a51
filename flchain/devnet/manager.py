"""`flchain devnet up|down|status`: a federation on a local chain that outlives the command.

`devnet_up` starts a chain (anvil, or hardhat node) and, with ``store="ipfs"``, an offline js-ipfs
daemon, each detached in its own session with its output in a log file; deploys the contract
with the devnet rules and the genesis model (`flchain.devnet.federation`); creates N funded
wallets as encrypted keystores; and writes the `DevnetProfile` that every other command picks
up. Protocol v2 (the default) deploys FLChainV2 with `devnet_rules_v2`, a `DevnetBeacon` key
standing in for drand, and a funded reward pool, and registers every node wallet with the
minimum bond, so round 0's frozen set holds them all; ``protocol=1`` deploys v1's FLChain and
leaves registration to `flchain node register`. Everything lives in ``<data_dir>/devnet/``::

    profile.json      the DevnetProfile (paths relative to this folder)
    password          the wallets' password, mode 0600 (only when $FLCHAIN_PASSWORD was unset)
    beacon-seed       v2: the DevnetBeacon seed, hex, mode 0600 (signs the beacon rounds)
    keystores/        governor.json (deployer, governor) and node-1.json … node-N.json
    store/            the local blockstore (store = local)
    ipfs/             the js-ipfs repository (store = ipfs); its log is ipfs.daemon.log
    anvil.log         the chain's output (hardhat.log for hardhat)

`devnet_down` stops the processes the profile names (SIGTERM to the process group, SIGKILL after
a grace period), skipping any that already ended or whose pid now belongs to another program,
and removes the folder: the chain state died with the chain, so nothing in it is worth keeping.
An `up` that fails half-way, or is stopped by SIGINT/SIGTERM, stops what it started and removes
the folder. Until the profile is written the processes are guarded (`flchain.devnet.process`):
they are started without a parent-death signal, so that they can outlive `up`, but an `up`
killed with SIGKILL still has them killed by its watchdog; it leaves ``pending.json`` naming them,
which `devnet_down` also reads (and finds them gone). Only a finished `up` releases them.

The wallets are devnet-only keys, encrypted with a fast PBKDF2 KDF so every command unlocks them
in milliseconds; their keys are never printed or logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx
from eth_account import Account
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flchain.devnet.anvil import DEFAULT_CHAIN_ID, AnvilProcess, LocalChainProcess
from flchain.devnet.errors import DevnetAlreadyUp, DevnetError, DevnetNotUp, DevnetRefused
from flchain.devnet.federation import (
    DEVNET_MIN_BOND_WEI,
    FUNDING_WEI,
    MIN_ROUND_LENGTH_V2,
    deploy,
    deploy_v2,
    devnet_rules,
    fund_pool_v2,
)
from flchain.devnet.process import exclusive_lock
from flchain.devnet.profile import (
    DevnetProfile,
    ProfileProcess,
    ProfileWallet,
    StoreBackend,
    default_profile_path,
    load_profile,
    save_profile,
)
from flchain.errors import ConfigError, FlchainError
from flchain.ledger import Ledger, LedgerV2, RpcBackend, connect_ledger
from flchain.ledger.backends import NETWORK_ERRORS
from flchain.ledger.keystore import KdfParams, Keystore, password_from_env
from flchain.protocol.beacon import DevnetBeacon
from flchain.storage import ContentStore, IpfsClient, LocalStore

if TYPE_CHECKING:
    from flchain.devnet.ipfsd import IpfsDaemon

__all__ = [
    "DevnetStatus",
    "DownResult",
    "ProcessHealth",
    "UpOptions",
    "UpResult",
    "WalletStatus",
    "devnet_down",
    "devnet_folder",
    "devnet_status",
    "devnet_up",
    "is_running",
    "stop_process",
]

PASSWORD_FILE = "password"
BEACON_SEED_FILE = "beacon-seed"
#: Rounds of emission a v2 devnet's reward pool is funded with at `up`.
POOL_ROUNDS = 100
PENDING_FILE = "pending.json"
GOVERNOR = "governor"
#: Devnet wallets only: a fast KDF so each command unlocks its wallet at once.
WALLET_KDF = KdfParams.fast(iterations=4096)
STOP_GRACE_S = 10.0

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --- options and results ------------------------------------------------------------------


#: The chains `devnet up` is asked for (embedded is refused with a hint: it cannot outlive it).
UpChain = Literal["anvil", "hardhat", "embedded"]


class UpOptions(BaseModel):
    """What `flchain devnet up` was asked for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain: UpChain = "anvil"
    store: StoreBackend = "local"
    nodes: int = Field(4, ge=1, le=64, description="node wallets to create and fund")
    data_dir: Path
    block_time: int = Field(1, ge=1, le=3_600, description="seconds between idle blocks")
    round_length: int = Field(86_400, ge=4, description="seconds per round")
    password_env: str = "FLCHAIN_PASSWORD"
    protocol: Literal[1, 2] = 2


@dataclass(frozen=True)
class UpResult:
    profile: DevnetProfile
    profile_path: Path
    #: The generated password's file, or None when it came from the environment.
    password_file: Path | None
    seconds: float


@dataclass(frozen=True)
class DownResult:
    #: Each process and what happened to it: "stopped", "killed" or "already gone".
    outcomes: tuple[tuple[ProfileProcess, str], ...]
    removed: Path


class ProcessHealth(BaseModel):
    name: str
    pid: int
    port: int | None
    running: bool


class WalletStatus(BaseModel):
    name: str
    address: str
    balance_wei: int | None
    node_status: str | None
    bond_wei: int | None = None  # protocol v2: the node's bond


class DevnetStatus(BaseModel):
    """What `flchain devnet status` shows; `healthy` is False when anything is down."""

    profile: Path
    chain: str
    rpc_url: str | None
    rpc_ok: bool
    block_number: int | None = None
    block_timestamp: int | None = None
    contract: str
    deployment_block: int
    protocol: int | None = None
    round: int | None = None
    phase: str | None = None
    store: str
    store_location: str
    ipfs_version: str | None = None
    processes: list[ProcessHealth]
    wallets: list[WalletStatus]
    problems: list[str]

    @property
    def healthy(self) -> bool:
        return not self.problems


def devnet_folder(data_dir: Path) -> Path:
    """``<data_dir>/devnet``: where the profile and everything `up` made live."""
    return default_profile_path(data_dir).parent


# --- processes ----------------------------------------------------------------------------


def process_cmdline(pid: int) -> tuple[str, ...] | None:
    """argv of a live process as the kernel shows it (None if there is no such process)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def _process_state(pid: int) -> str | None:
    """One-letter state from /proc (``Z`` for a zombie), None if the pid is unused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if not Path("/proc/self").exists():  # no procfs: fall back to signal 0
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                return "S"
            return "S"
        return None
    # The command name in parentheses may hold spaces or ')' — the state follows the last ')'.
    return stat.rsplit(")", 1)[1].split()[0]


def is_running(process: ProfileProcess) -> bool:
    """Whether `process` still runs: the pid is alive, not a zombie, and (when recorded) still
    runs the same command line — a pid reused by another program does not count."""
    state = _process_state(process.pid)
    if state is None or state in ("Z", "X"):
        return False
    if process.command:
        return process_cmdline(process.pid) == process.command
    return True


def _signal(process: ProfileProcess, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # `up` starts every process in its own session, so its group id is its pid and the
        # group also holds whatever it spawned.
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, sig)
        else:
            os.kill(process.pid, sig)


def _wait_gone(process: ProfileProcess, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(process):
            return True
        time.sleep(0.05)
    return not is_running(process)


def stop_process(process: ProfileProcess, grace: float = STOP_GRACE_S) -> str:
    """Stop `process`: SIGTERM, then SIGKILL after `grace` seconds.

    @return "already gone", "stopped" (ended on SIGTERM) or "killed".
    @raises DevnetError if it survives SIGKILL (not ours to kill, e.g. another user's).
    """
    if not is_running(process):
        return "already gone"
    _signal(process, signal.SIGTERM)
    if _wait_gone(process, grace):
        outcome = "stopped"
    else:
        _signal(process, signal.SIGKILL)
        if not _wait_gone(process, 5.0):
            raise DevnetError(f"{process.name} (pid {process.pid}) survived SIGKILL")
        outcome = "killed"
    # Members of its group that outlived the leader (a child that ignored SIGTERM).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return outcome


def _record(name: str, pid: int | None, port: int | None) -> ProfileProcess:
    if pid is None:
        raise DevnetError(f"{name} did not start")
    # The command line as it is now, after start-up: node programs rename themselves
    # (process.title), and `down` compares against this to never signal a reused pid.
    return ProfileProcess(name=name, pid=pid, port=port, command=process_cmdline(pid) or ())


def _write_pending(folder: Path, processes: list[ProfileProcess]) -> None:
    data = [p.model_dump(mode="json") for p in processes]
    tmp = folder / f".{PENDING_FILE}.tmp"
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, folder / PENDING_FILE)


def _read_processes(path: Path, key: str | None) -> list[ProfileProcess]:
    """Processes named by a profile (`key` = "processes") or a pending file, read leniently so
    that `down` still stops them when the rest of the file is damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data[key] if key is not None else data
        return [ProfileProcess.model_validate(item) for item in items]
    except (OSError, ValueError, KeyError, TypeError, ValidationError):
        raise DevnetError(
            f"cannot read the processes to stop from {path}: stop them by hand, then delete "
            f"{path.parent}"
        ) from None


def _devnet_lock(data_dir: Path) -> contextlib.AbstractContextManager[Path]:
    return exclusive_lock(
        data_dir / "locks" / "devnet.lock",
        lambda path: DevnetAlreadyUp(
            f"another `flchain devnet` command is running on {data_dir} (lock {path})"
        ),
    )


# --- up -----------------------------------------------------------------------------------


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _devnet_password(
    folder: Path, variable: str, environ: Mapping[str, str] | None
) -> tuple[str, Path | None]:
    given = password_from_env(variable, environ)
    if given is not None:
        return given, None
    path = folder / PASSWORD_FILE
    password = secrets.token_urlsafe(18)
    _write_secret(path, password + "\n")
    return password, path


def _start_chain(options: UpOptions, folder: Path) -> LocalChainProcess:
    log = folder / f"{options.chain}.log"
    if options.chain == "anvil":
        return AnvilProcess(log_path=log, detachable=True, block_time=options.block_time).start()
    from flchain.devnet.hardhat import HardhatProcess

    chain = HardhatProcess(log_path=log, detachable=True).start()
    # hardhat node has no block-time flag; interval mining keeps its auto-mining of transactions.
    try:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "evm_setIntervalMining",
            "params": [options.block_time * 1_000],
        }
        answer = httpx.post(chain.url, json=body, timeout=10.0).json()
    except (httpx.HTTPError, ValueError):
        answer = {"error": "no answer"}
    if "error" in answer:
        chain.stop()
        raise DevnetError(f"hardhat node at {chain.url} refused interval mining")
    return chain


def _start_ipfs(folder: Path) -> IpfsDaemon:
    from flchain.devnet.ipfsd import IpfsDaemon

    daemon = IpfsDaemon(repo=folder / "ipfs", detachable=True)
    daemon.start()
    return daemon


def _create_wallets(
    keystore: Keystore, backend: RpcBackend, nodes: int, password: str, ledger: LedgerV2 | None
) -> list[ProfileWallet]:
    """N funded node wallets; on v2 (`ledger`) each registered with the minimum bond."""
    wallets = []
    for i in range(1, nodes + 1):
        name = f"node-{i}"
        address = keystore.create(name, password)
        if ledger is None:
            backend.fund(address, FUNDING_WEI)
        else:
            backend.fund(address, FUNDING_WEI + DEVNET_MIN_BOND_WEI)
            ledger.with_account(keystore.unlock(name, password)).register(DEVNET_MIN_BOND_WEI)
        wallets.append(ProfileWallet(name=name, address=address))
    return wallets


def devnet_up(
    options: UpOptions,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Progress = _quiet,
) -> UpResult:
    """Start a devnet in ``<data_dir>/devnet`` and write its profile.

    @raises DevnetRefused for ``chain="embedded"`` (it cannot outlive the command), or a v2
        round too short for its windows.
    @raises DevnetAlreadyUp when a profile, or an interrupted `up`'s leftovers, is there.
    @raises FlchainError from any step; what was started is then stopped and the folder removed.
    """
    if options.chain == "embedded":
        raise DevnetRefused(
            "the embedded chain lives inside one process and cannot outlive `devnet up`: "
            "run `flchain simulate` for an in-process federation, or use --chain anvil|hardhat"
        )
    if options.protocol == 2 and options.round_length < MIN_ROUND_LENGTH_V2:
        raise DevnetRefused(
            f"--round-length {options.round_length} is too short for protocol v2: its commit, "
            f"reveal, beacon and attest windows need at least {MIN_ROUND_LENGTH_V2} s"
        )
    began = time.monotonic()
    data_dir = options.data_dir.expanduser().absolute()
    profile_path = default_profile_path(data_dir)
    folder = profile_path.parent
    with _devnet_lock(data_dir):
        if profile_path.exists():
            raise DevnetAlreadyUp(
                f"a devnet is already up (profile {profile_path}): run `flchain devnet down"
                f" --data-dir {data_dir}` first"
            )
        if folder.exists() and any(folder.iterdir()):
            raise DevnetAlreadyUp(
                f"{folder} holds the leftovers of an interrupted `flchain devnet up`: run "
                f"`flchain devnet down --data-dir {data_dir}` to clear them"
            )
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        servers: list[LocalChainProcess | IpfsDaemon] = []
        try:
            profile, password_file = _bring_up(options, folder, servers, environ, progress)
            save_profile(profile, profile_path)
            (folder / PENDING_FILE).unlink(missing_ok=True)
        except BaseException:
            for server in reversed(servers):  # none left running if a signal stopped them all
                with contextlib.suppress(FlchainError):
                    server.stop()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        for server in servers:  # from here on only `devnet down` stops them
            server.detach()
    return UpResult(profile, profile_path, password_file, time.monotonic() - began)


def _bring_up(
    options: UpOptions,
    folder: Path,
    servers: list[LocalChainProcess | IpfsDaemon],
    environ: Mapping[str, str] | None,
    progress: Progress,
) -> tuple[DevnetProfile, Path | None]:
    """Start the servers (appended to `servers` as they start), deploy, fund the wallets."""
    password, password_file = _devnet_password(folder, options.password_env, environ)
    started: list[ProfileProcess] = []

    progress(f"starting {options.chain}")
    chain = _start_chain(options, folder)
    servers.append(chain)
    started.append(_record(options.chain, chain.pid, chain.port))
    _write_pending(folder, started)

    store: ContentStore
    ipfs_url: str | None = None
    if options.store == "ipfs":
        progress("starting the js-ipfs daemon")
        daemon = _start_ipfs(folder)
        servers.append(daemon)
        ipfs_url = daemon.url
        started.append(_record("ipfs", daemon.pid, daemon.api_port))
        _write_pending(folder, started)
        store = IpfsClient(ipfs_url)
    else:
        store = LocalStore(folder / "store")

    backend = RpcBackend(chain.url, kind=options.chain, expected_chain_id=DEFAULT_CHAIN_ID)
    keystore = Keystore(folder / "keystores", kdf=WALLET_KDF)
    key = secrets.token_bytes(32)
    governor_address = keystore.import_key(GOVERNOR, key, password)
    governor = Account.from_key(key)
    del key

    rl = options.round_length
    ledger: Ledger | LedgerV2
    wallets = [ProfileWallet(name=GOVERNOR, address=governor_address)]
    beacon_file: Path | None = None
    if options.protocol == 1:
        progress("deploying the contract (protocol v1)")
        ledger, genesis = deploy(
            backend,
            governor,
            store,
            # Round 0's commit window opens with the deployment; chain time follows the wall
            # clock.
            t0=backend.latest_timestamp(),
            rules=devnet_rules(options.nodes),
            round_length=rl,
            commit_window=rl // 2,
            reveal_window=rl // 4,
            exit_delay=rl,
        )
        progress(f"creating and funding {options.nodes} wallets")
        wallets += _create_wallets(keystore, backend, options.nodes, password, None)
    else:
        progress("deploying FLChainV2")
        seed = secrets.token_bytes(32)
        beacon_file = folder / BEACON_SEED_FILE
        _write_secret(beacon_file, seed.hex() + "\n")
        beacon = DevnetBeacon(seed)
        del seed
        # Round 0 starts once every wallet is registered, so its frozen set holds them all
        # (a registration counts from the next round that starts); chain time then jumps to it.
        t0 = backend.latest_timestamp() + 2 * options.nodes + 10
        ledger, genesis = deploy_v2(backend, governor, store, beacon, t0=t0, round_length=rl)
        progress(f"funding the reward pool ({POOL_ROUNDS} rounds of emission)")
        fund_pool_v2(ledger, POOL_ROUNDS)
        progress(f"creating, funding and bonding {options.nodes} wallets")
        wallets += _create_wallets(keystore, backend, options.nodes, password, ledger)
        if backend.latest_timestamp() < t0:
            backend.set_time(t0)
    profile = DevnetProfile(
        chain=options.chain,
        rpc_url=chain.url,
        chain_id=backend.chain_id,
        contract=ledger.address,
        deployment_block=ledger.from_block,
        store=options.store,
        ipfs_url=ipfs_url,
        store_dir=Path("store") if options.store == "local" else None,
        keystore_dir=Path("keystores"),
        wallets=tuple(wallets),
        genesis_cid=genesis.cid,
        genesis_digest=genesis.digest,
        processes=tuple(started),
        protocol=options.protocol,
        beacon_seed_file=None if beacon_file is None else Path(BEACON_SEED_FILE),
    )
    return profile, password_file


# --- down ---------------------------------------------------------------------------------


def devnet_down(data_dir: Path, *, grace: float = STOP_GRACE_S) -> DownResult:
    """Stop what the devnet in `data_dir` started and remove its folder.

    Processes already gone (a stale profile) are skipped; a pid now used by another program is
    never signalled.
    @raises DevnetNotUp when there is no devnet folder.
    """
    data_dir = data_dir.expanduser().absolute()
    profile_path = default_profile_path(data_dir)
    folder = profile_path.parent
    with _devnet_lock(data_dir):
        if not folder.exists():
            raise DevnetNotUp(f"no devnet in {data_dir} (no {folder}): nothing to stop")
        processes: list[ProfileProcess] = []
        if profile_path.exists():
            processes += _read_processes(profile_path, "processes")
        if (folder / PENDING_FILE).exists():
            processes += [
                p for p in _read_processes(folder / PENDING_FILE, None) if p not in processes
            ]
        outcomes = tuple((p, stop_process(p, grace)) for p in processes)
        shutil.rmtree(folder)
    return DownResult(outcomes, folder)


# --- status -------------------------------------------------------------------------------


def _ipfs_version(url: str) -> str | None:
    try:
        reply = httpx.post(f"{url}/api/v0/version", timeout=3.0)
        return str(reply.json()["Version"]) if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def devnet_status(data_dir: Path) -> DevnetStatus:
    """Read the profile in `data_dir` and ask each part whether it is alive.

    @raises DevnetNotUp when there is no profile; ConfigError when it is malformed.
    """
    path = default_profile_path(data_dir.expanduser().absolute())
    if not path.exists():
        raise DevnetNotUp(
            f"no devnet is up in {data_dir} (no {path}): start one with `flchain devnet up`"
        )
    profile = load_profile(path)
    problems: list[str] = []
    processes = []
    for p in profile.processes:
        running = is_running(p)
        processes.append(ProcessHealth(name=p.name, pid=p.pid, port=p.port, running=running))
        if not running:
            problems.append(f"{p.name} (pid {p.pid}) is not running")
    status = DevnetStatus(
        profile=path,
        chain=profile.chain,
        rpc_url=profile.rpc_url,
        rpc_ok=False,
        contract=profile.contract,
        deployment_block=profile.deployment_block,
        store=profile.store,
        store_location=str(profile.ipfs_url or profile.store_dir),
        processes=processes,
        wallets=[],
        problems=problems,
    )
    _chain_status(profile, status)
    if profile.store == "ipfs" and profile.ipfs_url is not None:
        status.ipfs_version = _ipfs_version(profile.ipfs_url)
        if status.ipfs_version is None:
            problems.append(f"the IPFS API at {profile.ipfs_url} does not answer")
    return status


def _chain_status(profile: DevnetProfile, status: DevnetStatus) -> None:
    """Fill in the chain's view; an unreachable chain leaves the fields empty and says so."""
    wallets = [
        WalletStatus(name=w.name, address=w.address, balance_wei=None, node_status=None)
        for w in profile.wallets
    ]
    status.wallets = wallets
    if profile.rpc_url is None:
        return
    try:
        backend = RpcBackend(
            profile.rpc_url, kind=profile.chain, expected_chain_id=profile.chain_id, timeout=3.0
        )
        ledger = connect_ledger(backend, profile.contract, from_block=profile.deployment_block)
        block = backend.w3.eth.get_block("latest")
        status.block_number = int(block["number"])
        status.block_timestamp = int(block["timestamp"])
        status.round, phase = ledger.phase()
        status.phase = phase.name
        status.protocol = 2 if isinstance(ledger, LedgerV2) else 1
        for w in wallets:
            w.balance_wei = int(backend.w3.eth.get_balance(to_checksum_address(w.address)))
            if isinstance(ledger, LedgerV2):
                view = ledger.node_view(w.address)
                w.node_status = view.status.name
                w.bond_wei = view.bond
            else:
                w.node_status = ledger.node_record(w.address).status.name
        status.rpc_ok = True
    except ConfigError as exc:  # wrong chain id, no contract: the RPC answers but is not ours
        status.rpc_ok = True
        status.problems.append(str(exc))
    except FlchainError as exc:
        status.problems.append(f"the chain at {profile.rpc_url} does not answer ({exc})")
    except NETWORK_ERRORS:
        status.problems.append(f"the chain at {profile.rpc_url} does not answer")
