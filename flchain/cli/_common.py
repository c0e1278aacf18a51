"""What the chain, wallet and node commands share: the chain and the wallet from the settings,
in the order that keeps a mistake cheap — arguments, then the wallet's address (no password),
then the chain and the wallet's balance, and only then the slow keystore unlock."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from eth_account.signers.local import LocalAccount

from flchain.config import LoadedSettings, Settings
from flchain.errors import ConfigError
from flchain.ledger import Backend, Ledger, RpcBackend
from flchain.ledger.keystore import Keystore, WalletInfo, unlock_from_settings
from flchain.node.funds import Cost, fund_hint, require_funds

# Options of the commands that send transactions; each parameter is named after its setting
# (`flchain.cli.config.settings_from_options` finds the flag by that name). The other knobs of
# the transaction policy are settings only (flchain.toml, FLCHAIN_*); `node run` has them all.
RpcFallbackOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rpc-fallback",
        help="Another JSON-RPC URL of the same chain, used when the one in use fails "
        "(repeatable; setting rpc_fallback_urls).",
        show_default=False,
    ),
]
MaxFeeOption = Annotated[
    str | None,
    typer.Option(
        "--max-fee-gwei", help="Cap on the max fee per gas, gwei (setting max_fee_gwei).",
        show_default=False,
    ),
]  # fmt: skip
MaxTxCostOption = Annotated[
    str | None,
    typer.Option(
        "--max-tx-cost-eth",
        help="Cap on gas limit × max fee of one transaction, ETH (setting max_tx_cost_eth).",
        show_default=False,
    ),
]
PriorityFeeOption = Annotated[
    str | None,
    typer.Option(
        "--priority-fee-gwei",
        help="Priority fee per gas, gwei (setting priority_fee_gwei; default: the node's).",
        show_default=False,
    ),
]
ConfirmationsOption = Annotated[
    int | None,
    typer.Option(
        "--confirmations",
        help="Blocks that must hold a transaction before it counts (setting confirmations).",
        show_default=False,
    ),
]

GasMarginOption = Annotated[
    int | None,
    typer.Option(
        "--gas-margin-pct", help="Gas limit above the estimate, % (setting gas_margin_pct).",
        show_default=False,
    ),
]  # fmt: skip
BaseFeeMultiplierOption = Annotated[
    int | None,
    typer.Option(
        "--base-fee-multiplier-pct",
        help="Max fee = next base fee × this / 100 + priority fee (setting "
        "base_fee_multiplier_pct).",
        show_default=False,
    ),
]
FeeBumpOption = Annotated[
    str | None,
    typer.Option(
        "--fee-bump-pct",
        help="Fee raise of each replacement, % (≥ 12.5; setting fee_bump_pct).",
        show_default=False,
    ),
]
ReplaceAfterOption = Annotated[
    float | None,
    typer.Option(
        "--tx-replace-after-s",
        help="Replace a transaction still pending after this many seconds (setting "
        "tx_replace_after_s).",
        show_default=False,
    ),
]
ReceiptTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--tx-receipt-timeout-s",
        help="Stop waiting for a receipt after this many seconds (setting tx_receipt_timeout_s).",
        show_default=False,
    ),
]


def backend(settings: Settings) -> RpcBackend:
    """The JSON-RPC chain the settings name (the embedded chain lives inside one process),
    failing over to `rpc_fallback_urls`."""
    if not settings.rpc_url:
        raise ConfigError("no RPC endpoint: set rpc_url")  # callers `require` it first
    kind = settings.chain if settings.chain != "embedded" else "rpc"
    return RpcBackend(
        settings.rpc_url,
        kind=kind,
        expected_chain_id=settings.chain_id,
        timeout=settings.rpc_timeout_s,
        fallback_urls=settings.rpc_fallback_urls,
    )


def ledger(loaded: LoadedSettings, account: LocalAccount | None = None) -> Ledger:
    """The contract the settings name, checked (code there, an FLChain deployment), sending
    under the settings' transaction policy."""
    loaded.require("rpc_url", "contract")
    s = loaded.settings
    return Ledger.connect(
        backend(s), s.contract or "", account, from_block=s.deployment_block, policy=s.tx_policy()
    )


def wallet_info(loaded: LoadedSettings) -> WalletInfo:
    """The configured wallet's name and address, read without its password."""
    loaded.require("wallet")
    return Keystore(loaded.settings.keystore_dir).find(loaded.settings.wallet or "")


def unlock(loaded: LoadedSettings) -> LocalAccount:
    return unlock_from_settings(loaded.settings)


def check_funds(
    chain: Backend,
    wallet: WalletInfo,
    call: Any,
    *,
    value: int = 0,
    action: str,
    settings: Settings,
) -> Cost | None:
    """Refuse before sending when `wallet` cannot pay for `call` under the settings'
    transaction policy (see `flchain.node.funds`)."""
    return require_funds(
        chain,
        wallet.address,
        value=value,
        call=call,
        action=action,
        fund_hint=fund_hint(chain, wallet.name),
        policy=settings.tx_policy(),
    )
