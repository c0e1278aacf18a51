"""What the chain, wallet and node commands share: the chain and the wallet from the settings,
in the order that keeps a mistake cheap — arguments, then the wallet's address (no password),
then the chain and the wallet's balance, and only then the slow keystore unlock."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

from flchain.config import LoadedSettings, Settings
from flchain.errors import ConfigError
from flchain.ledger import Backend, Ledger, RpcBackend
from flchain.ledger.keystore import Keystore, WalletInfo, unlock_from_settings
from flchain.node.funds import Cost, fund_hint, require_funds


def backend(settings: Settings) -> RpcBackend:
    """The JSON-RPC chain the settings name (the embedded chain lives inside one process)."""
    if not settings.rpc_url:
        raise ConfigError("no RPC endpoint: set rpc_url")  # callers `require` it first
    kind = settings.chain if settings.chain != "embedded" else "rpc"
    return RpcBackend(
        settings.rpc_url,
        kind=kind,
        expected_chain_id=settings.chain_id,
        timeout=settings.rpc_timeout_s,
    )


def ledger(loaded: LoadedSettings, account: LocalAccount | None = None) -> Ledger:
    """The contract the settings name, checked (code there, an FLChain deployment)."""
    loaded.require("rpc_url", "contract")
    s = loaded.settings
    return Ledger.connect(backend(s), s.contract or "", account, from_block=s.deployment_block)


def wallet_info(loaded: LoadedSettings) -> WalletInfo:
    """The configured wallet's name and address, read without its password."""
    loaded.require("wallet")
    return Keystore(loaded.settings.keystore_dir).find(loaded.settings.wallet or "")


def unlock(loaded: LoadedSettings) -> LocalAccount:
    return unlock_from_settings(loaded.settings)


def check_funds(
    chain: Backend, wallet: WalletInfo, call: Any, *, value: int = 0, action: str
) -> Cost | None:
    """Refuse before sending when `wallet` cannot pay for `call` (see `flchain.node.funds`)."""
    return require_funds(
        chain,
        wallet.address,
        value=value,
        call=call,
        action=action,
        fund_hint=fund_hint(chain, wallet.name),
    )
