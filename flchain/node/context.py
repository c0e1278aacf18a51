"""Building a node's chain, store, wallet and data from `Settings` (flags > env > file > profile)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from eth_account.signers.local import LocalAccount

from flchain.config import Settings, check_local_store
from flchain.errors import ConfigError
from flchain.ledger import Ledger, LedgerV2, RpcBackend, connect_ledger
from flchain.ledger.keystore import unlock_from_settings
from flchain.market import OHLCV
from flchain.node.errors import NodeDataError
from flchain.storage import ContentStore, IpfsClient, LocalStore

if TYPE_CHECKING:  # the runner is imported only by the commands that run one
    from flchain.node.runner_v2 import MarketBars

#: The most recent bars of the node's data used for one round's training.
TRAIN_BARS = 1_500


def _open_backend(settings: Settings) -> RpcBackend:
    """The configured chain (refuses the embedded chain: it has no other process).

    An RPC URL with the default chain backend ("embedded") means a plain JSON-RPC endpoint."""
    if settings.chain == "embedded" and settings.rpc_url is None:
        raise ConfigError(
            "the embedded chain lives inside one process, so a node cannot join it: run "
            "`flchain simulate` for an in-process federation, or `flchain devnet up --chain anvil`"
        )
    return RpcBackend(
        settings.require("rpc_url"),
        kind="rpc" if settings.chain == "embedded" else settings.chain,
        expected_chain_id=settings.chain_id,
        timeout=settings.rpc_timeout_s,
        fallback_urls=settings.rpc_fallback_urls,
    )


def open_ledger(settings: Settings, account: LocalAccount | None = None) -> Ledger:
    """The protocol-v1 contract on the configured chain."""
    return Ledger.connect(
        _open_backend(settings),
        settings.require("contract"),
        account,
        from_block=settings.deployment_block,
        policy=settings.tx_policy(),
    )


def open_any_ledger(settings: Settings, account: LocalAccount | None = None) -> Ledger | LedgerV2:
    """The configured contract through the facade of its protocol version (`connect_ledger`:
    `LedgerV2` for FLChainV2, v1's `Ledger` otherwise); pass it to `daemon.runner_for`."""
    return connect_ledger(
        _open_backend(settings),
        settings.require("contract"),
        account,
        from_block=settings.deployment_block,
        policy=settings.tx_policy(),
    )


def open_store(settings: Settings) -> ContentStore:
    """The configured content store; a local path that is not a store is refused (`StoreNotFound`)
    rather than silently created empty, where the node would wait forever for the genesis."""
    if settings.store == "ipfs":
        return IpfsClient(settings.require("ipfs_url"), retries=settings.retry_attempts)
    check_local_store(settings.store_dir)
    return LocalStore(settings.store_dir)


def bars_source(data_source: str | None, max_bars: int = TRAIN_BARS) -> Callable[[str], OHLCV]:
    """The node's training bars by identity: `partition[:SEED]` (default) is the node's shipped
    non-IID partition; anything else is a CSV file (CCXT / exchange kline layout)."""
    source = data_source or "partition"
    cache: dict[str, OHLCV] = {}

    def load(identity: str) -> OHLCV:
        if identity in cache:
            return cache[identity]
        if source == "partition" or source.startswith("partition:"):
            from flchain.market.partition import node_partition

            try:
                seed = int(source.split(":", 1)[1]) if ":" in source else 0
            except ValueError:
                raise NodeDataError(
                    f"data source {source!r}: the partition seed must be an integer"
                ) from None
            bars, _ = node_partition(identity, seed=seed)
        else:
            from flchain.market.loaders import load_csv

            bars = load_csv(source).bars
        cache[identity] = bars.slice(max(0, len(bars) - max_bars), len(bars))
        return cache[identity]

    return load


def market_source(path: str | None) -> MarketBars | None:
    """The node's bars of the rules' market for forward windows: the CSV at `path` (CCXT /
    exchange kline layout), read again at every call so bars appended since are seen; the
    operator vouches that it quotes the market the rules name (whatever exchange and symbol
    are asked). None without a path: the node then votes no window."""
    if path is None:
        return None

    def bars(exchange: str, symbol: str) -> OHLCV | None:
        from flchain.market.loaders import load_csv

        return load_csv(path).bars

    return bars


@dataclass(frozen=True)
class NodeContext:
    """A node's unlocked wallet and its contract; the store and data open on first use (register,
    exit and withdraw need neither)."""

    settings: Settings
    account: LocalAccount
    ledger: Ledger

    @cached_property
    def store(self) -> ContentStore:
        return open_store(self.settings)

    @cached_property
    def bars_for(self) -> Callable[[str], OHLCV]:
        return bars_source(self.settings.data_source)


def node_context(settings: Settings) -> NodeContext:
    account = unlock_from_settings(settings)
    return NodeContext(settings, account, open_ledger(settings, account))
