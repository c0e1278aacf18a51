"""The protocol v2 wallet actions of `flchain node …`: register with a bond, add to it, exit,
withdraw, collect settled rewards, settle a leaf.

Each action calls `flchain.ledger.v2.LedgerV2` directly. Before anything is unlocked it runs
the exact call as an eth_call from the wallet's address (`_common.precheck`), so whatever the
contract would refuse is shown as its custom error by name, in one line, with nothing sent;
then the wallet's balance is checked, then the keystore unlocked and the transaction sent.

`settle` needs the leaf and Merkle proof of the latest final round: they come from that round's
manifest in the content store (`flchain.merge.settlement.settlement_proof`), checked against
the root the contract holds before anything is sent.

(The v2 node daemon, `flchain.node`, is another part's; these helpers live here and use only
the ledger's public methods.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from flchain.cli import _common as common
from flchain.cli._chain_v2 import node_doc
from flchain.config import LoadedSettings
from flchain.errors import ConfigError
from flchain.ledger import Ledger, LedgerV2
from flchain.ledger.keystore import WalletInfo
from flchain.protocol.machine import Status
from flchain.rules_file import format_utc
from flchain.storage import ContentStore

if TYPE_CHECKING:
    from flchain.devnet.profile import DevnetProfile
    from flchain.node.runner_v2 import BeaconSource


def register(ledger: LedgerV2, loaded: LoadedSettings, info: WalletInfo, bond: int) -> None:
    from flchain.ledger.events_v2 import Registered

    tx = common.checked_signer(
        ledger, loaded, info, "register", value=bond, action="`flchain node register`"
    ).register(bond)
    done = next(e for e in tx.events if isinstance(e, Registered))
    d = ledger.deployment()
    typer.echo(
        f"registered {info.address} as node #{done.index} with bond {done.bond} wei; in the "
        f"frozen set from round {done.from_round} (starts {format_utc(d.start(done.from_round))};"
        f" tx {tx.tx_hash}, block {tx.block_number})"
    )


def add_bond(ledger: LedgerV2, loaded: LoadedSettings, info: WalletInfo, amount: int) -> None:
    from flchain.ledger.events_v2 import BondAdded

    signer = common.checked_signer(
        ledger, loaded, info, "addBond", value=amount, action="`flchain node add-bond`"
    )
    tx = signer.add_bond(amount)
    done = next(e for e in tx.events if isinstance(e, BondAdded))
    typer.echo(
        f"added {done.amount} wei: bond {done.bond} wei, counted from round {done.from_round} "
        f"(tx {tx.tx_hash})"
    )


def request_exit(ledger: LedgerV2, loaded: LoadedSettings, info: WalletInfo) -> None:
    from flchain.ledger.events_v2 import ExitRequested

    tx = common.checked_signer(
        ledger, loaded, info, "requestExit", action="`flchain node exit`"
    ).request_exit()
    done = next(e for e in tx.events if isinstance(e, ExitRequested))
    typer.echo(
        f"exit requested: out of the frozen set from round {done.from_round}; withdrawable at "
        f"chain time {done.withdrawable_at} ({format_utc(done.withdrawable_at)}) once every round"
        f" it took part in is settled (tx {tx.tx_hash})"
    )


def withdraw(ledger: LedgerV2, loaded: LoadedSettings, info: WalletInfo) -> None:
    from flchain.ledger.events_v2 import Withdrawn

    tx = common.checked_signer(
        ledger, loaded, info, "withdraw", action="`flchain node withdraw`"
    ).withdraw()
    done = next(e for e in tx.events if isinstance(e, Withdrawn))
    typer.echo(f"bond of {done.amount} wei withdrawn to {info.address} (tx {tx.tx_hash})")


def collect(ledger: LedgerV2, loaded: LoadedSettings, info: WalletInfo) -> None:
    from flchain.ledger.events_v2 import Collected

    tx = common.checked_signer(
        ledger, loaded, info, "collect", action="`flchain node collect`"
    ).collect()
    done = next(e for e in tx.events if isinstance(e, Collected))
    typer.echo(f"collected {done.amount} wei to {info.address} (tx {tx.tx_hash})")


def settle(
    ledger: LedgerV2, loaded: LoadedSettings, info: WalletInfo, node: str, store: ContentStore
) -> None:
    """Apply `node`'s leaf of the latest final settlement (anyone may; it pays `node`)."""
    from flchain.cli.errors import NothingToSettle
    from flchain.ledger.events_v2 import Settled, Slashed
    from flchain.ledger.hashes import cid_to_str
    from flchain.merge.settlement import settlement_proof

    latest = ledger.latest()
    if latest.round_plus_one == 0:
        raise NothingToSettle(
            f"{ledger.address} has no final round yet: nothing to settle (the contract would "
            "refuse with AlreadySettled)"
        )
    final_round = latest.round_plus_one - 1
    view = ledger.node_view(node)
    if view.status == Status.NONE:
        raise NothingToSettle(
            f"{node} is not a registered node of {ledger.address}: it has no leaf to settle"
        )
    if view.settled_round >= latest.round_plus_one:
        raise NothingToSettle(
            f"{node} is settled through round {final_round}, the latest final round: nothing to "
            "settle until the next round is final (the contract would refuse with AlreadySettled)"
        )
    cid = cid_to_str(latest.manifest_cid)
    manifest = store.get(cid)
    leaf, proof = settlement_proof(manifest, node)
    if "0x" + bytes(latest.settlement_root).hex() != _stated_root(manifest):
        raise NothingToSettle(
            f"the manifest {cid} does not state the settlement root of round {final_round} that "
            "the contract holds: the store returned another manifest"
        )
    signer = common.checked_signer(
        ledger,
        loaded,
        info,
        "settle",
        leaf.to_abi(),
        [bytes(p) for p in proof],
        action="`flchain node settle`",
    )
    tx = signer.settle(leaf, proof)
    done = next(e for e in tx.events if isinstance(e, Settled))
    slashed = sum(e.amount for e in tx.events if isinstance(e, Slashed))
    typer.echo(
        f"settled {node} through round {done.round}: earned {done.cum_earned} wei in all "
        f"(`flchain node collect` pays it), penalties {done.cum_penalties}, slashed {slashed} "
        f"wei (tx {tx.tx_hash})"
    )


def beacon_source(
    ledger: Ledger | LedgerV2, seed: str | None, url: str | None = None
) -> BeaconSource | None:
    """The daemon's beacon: the devnet beacon of `seed`, or the drand relay at `url` (its
    `/info` checked against the deployment's beacon immutables); refused unless `ledger` is v2
    and the key is the contract's (a wrong key would post signatures nobody can verify)."""
    if seed is None and url is None:
        return None
    from flchain.cli.errors import WrongProtocolVersion
    from flchain.node.runner_v2 import DevnetBeaconSource
    from flchain.protocol.beacon import DevnetBeacon

    option = "--beacon-devnet-seed" if seed is not None else "--beacon-url"
    if seed is not None and url is not None:
        raise ConfigError("give --beacon-devnet-seed or --beacon-url, not both")
    if not isinstance(ledger, LedgerV2):
        raise WrongProtocolVersion(
            f"{option}: {ledger.address} is a protocol v1 contract, which has no beacon"
        )
    if url is not None:
        from flchain.node.drand import DrandHttpSource

        return DrandHttpSource.connect(url, ledger.deployment())
    assert seed is not None
    beacon = DevnetBeacon(seed.encode())
    if beacon.public_key != ledger.deployment().beacon_public_key:
        raise ConfigError(
            f"--beacon-devnet-seed: that seed's key is not the beacon key of {ledger.address} "
            "(`flchain chain info` shows it): pass the seed of its federation file"
        )
    return DevnetBeaconSource(beacon)


# A DevnetBeacon seed file holds 32 bytes as hex and a newline; anything much longer is not one.
_MAX_SEED_FILE_BYTES = 1024


def profile_beacon_source(
    ledger: Ledger | LedgerV2, profile: DevnetProfile | None
) -> BeaconSource | None:
    """The beacon a devnet's own node posts when no beacon option is given: the seed file that
    `flchain devnet up` wrote beside the profile, used only for that profile's v2 contract.
    Without it every devnet round's seed would fall back to the salts alone, which a
    withholder can grind (docs/security.md); a seed whose key is not the contract's is refused
    rather than posting signatures nobody can verify."""
    if (
        profile is None
        or profile.beacon_seed_file is None
        or not isinstance(ledger, LedgerV2)
        or profile.contract.lower() != ledger.address.lower()
    ):
        return None
    from flchain.node.runner_v2 import DevnetBeaconSource
    from flchain.protocol.beacon import DevnetBeacon

    path = profile.beacon_seed_file
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_SEED_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"devnet beacon seed {path}: {exc.strerror or exc} (or pass --beacon-devnet-seed)"
        ) from None
    try:
        if len(raw) > _MAX_SEED_FILE_BYTES:
            raise ValueError
        seed = bytes.fromhex(raw.decode("ascii").strip())
    except ValueError:
        raise ConfigError(f"devnet beacon seed {path} is not a hex seed") from None
    beacon = DevnetBeacon(seed)
    if beacon.public_key != ledger.deployment().beacon_public_key:
        raise ConfigError(
            f"devnet beacon seed {path}: its key is not the beacon key of {ledger.address}"
        )
    return DevnetBeaconSource(beacon)


def _stated_root(manifest: bytes) -> str:
    from flchain.merge.settlement import decode_manifest_v2

    return str(decode_manifest_v2(manifest)["settlement"]["root"]).lower()


def status_doc(ledger: LedgerV2, address: str) -> dict[str, Any]:
    """The wallet's v2 record (as `chain nodes` shows it), the round in progress and its
    commitment in it."""
    current, phase = ledger.phase()
    view = ledger.node_view(address)
    doc: dict[str, Any] = {"node": address, "status": view.status.name}
    if view.status != Status.NONE:
        doc = node_doc(ledger, view.index, current)
    _, state, outcome = ledger.commitment_of(current, address)
    now = ledger.now()
    return {
        **doc,
        "now": f"{now} ({format_utc(now)}), round {current}, phase {phase.name}",
        "commitment_this_round": state.name,
        "reveal_outcome_this_round": outcome.name if state.name == "REVEALED" else None,
    }
