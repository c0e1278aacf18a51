"""What the chain, wallet and node commands share: the chain and the wallet from the settings,
in the order that keeps a mistake cheap — arguments, then the wallet's address (no password),
then the chain and the wallet's balance, and only then the slow keystore unlock."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from eth_account.signers.local import LocalAccount

from flchain.cli.config import OptionGroup
from flchain.config import LoadedSettings, Settings
from flchain.errors import ConfigError
from flchain.ledger import Backend, Ledger, LedgerV2, RpcBackend
from flchain.ledger.keystore import Keystore, WalletInfo, unlock_from_settings
from flchain.node.funds import Cost, fund_hint, require_funds

#: The transaction policy's options: (setting, flag, type, help, note). Each parameter is named
#: after its setting (`settings_from_options` finds the flag by that name).
_TX_POLICY: tuple[tuple[str, str, Any, str, str], ...] = (
    ("rpc_fallback_urls", "--rpc-fallback", list[str],
     "Another JSON-RPC URL of the same chain, used when the one in use fails", "repeatable"),
    ("max_fee_gwei", "--max-fee-gwei", str, "Cap on the max fee per gas, gwei", ""),
    ("max_tx_cost_eth", "--max-tx-cost-eth", str,
     "Cap on gas limit × max fee of one transaction, ETH", ""),
    ("priority_fee_gwei", "--priority-fee-gwei", str, "Priority fee per gas, gwei",
     "default: the node's"),
    ("base_fee_multiplier_pct", "--base-fee-multiplier-pct", int,
     "Max fee = next base fee × this / 100 + priority fee", ""),
    ("gas_margin_pct", "--gas-margin-pct", int, "Gas limit above the estimate, %", ""),
    ("fee_bump_pct", "--fee-bump-pct", str, "Fee raise of each replacement, %", "≥ 12.5"),
    ("tx_replace_after_s", "--tx-replace-after-s", float,
     "Replace a transaction still pending after this many seconds", ""),
    ("tx_receipt_timeout_s", "--tx-receipt-timeout-s", float,
     "Stop waiting for a receipt after this many seconds", ""),
    ("confirmations", "--confirmations", int,
     "Blocks that must hold a transaction before it counts", ""),
)  # fmt: skip

#: Every knob of the transaction policy (`flchain node run`).
TX_POLICY_OPTIONS: OptionGroup = {
    setting: (
        Annotated[
            kind | None,
            typer.Option(
                flag, help=f"{text} ({note + '; ' if note else ''}setting {setting}).",
                show_default=False,
            ),
        ],
        None,
    )
    for setting, flag, kind, text, note in _TX_POLICY
}  # fmt: skip

#: What every other command that sends takes; the rest of the policy is settings only
#: (flchain.toml, FLCHAIN_*).
SEND_OPTIONS: OptionGroup = {
    name: TX_POLICY_OPTIONS[name]
    for name in ("rpc_fallback_urls", "max_fee_gwei", "priority_fee_gwei")
}


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


def any_ledger(loaded: LoadedSettings) -> Ledger | LedgerV2:
    """The contract the settings name, v1 or v2 by what it answers (`connect_ledger`), sending
    under the settings' transaction policy."""
    from flchain.ledger import connect_ledger

    loaded.require("rpc_url", "contract")
    s = loaded.settings
    return connect_ledger(
        backend(s), s.contract or "", from_block=s.deployment_block, policy=s.tx_policy()
    )


def governor_wallet(loaded: LoadedSettings, ledger: Ledger | LedgerV2) -> WalletInfo:
    """The wallet (not unlocked), refused unless it governs `ledger`."""
    from flchain.cli.errors import NotGovernor

    info = wallet_info(loaded)
    governor = ledger.governor()
    if governor.lower() != info.address.lower():
        raise NotGovernor(
            f"wallet {info.name} ({info.address}) is not the governor of {ledger.address}: "
            f"the governor is {governor}; pass --wallet with the governor's wallet"
        )
    return info


def checked_signer(
    ledger: LedgerV2,
    loaded: LoadedSettings,
    wallet: WalletInfo,
    function: str,
    *args: Any,
    value: int = 0,
    action: str,
) -> LedgerV2:
    """`ledger` signing as the unlocked `wallet`, once `function(*args)` passed the contract's
    own checks as an eth_call from the wallet (`precheck`) and the wallet can pay for it."""
    precheck(ledger, function, *args, sender=wallet.address, value=value)
    call = getattr(ledger.contract.functions, function)(*args)
    check_funds(ledger.backend, wallet, call, value=value, action=action, settings=loaded.settings)
    return ledger.with_account(unlock(loaded))


def precheck(ledger: LedgerV2, function: str, *args: Any, sender: str, value: int = 0) -> None:
    """Run `function(*args)` as an eth_call from `sender` (no key needed) and refuse, with the
    contract's custom error by name, what the contract would refuse: nothing is unlocked or
    sent. A refusal the ABI cannot decode is left to the send path, which names it."""
    from flchain.cli.errors import RefusedBeforeSending
    from flchain.ledger.backends import NETWORK_ERRORS
    from flchain.ledger.errors import ChainUnavailable
    from flchain.ledger.revert import revert_data

    call = getattr(ledger.contract.functions, function)(*args)
    try:
        call.call({"from": sender, "value": value})
    except NETWORK_ERRORS:
        raise ChainUnavailable(f"cannot reach the chain to check {function}") from None
    except Exception as exc:  # a revert, as web3 raises it
        refusal = ledger.binding.errors.refusal(revert_data(exc), function)
        if refusal is not None:
            raise RefusedBeforeSending(refusal) from None
