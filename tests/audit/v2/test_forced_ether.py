"""Ether forced into the contract (a SELFDESTRUCT names it as beneficiary; no code of the
contract runs, so nothing can refuse it) must not break the audit: the balance backs the
accounts as long as it is at least their sum (docs/protocol.md §8). Before this rule the state
check demanded equality, so one wei sent this way by anyone made every later audit fail.
Embedded and anvil (the `backend` fixture). The accounts the balance must back are read from
proven storage words, so a lying RPC cannot pass a deposit it hides off as ether forced in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from _federation import Played, play
from _lying_rpc import LyingRpc
from _twin import wallet
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak

from flchain.audit.core_v2 import audit_v2, closed_rounds_v2, gather_v2
from flchain.audit.judge_v2 import check_state, replay_calls
from flchain.audit.report import AuditReport, CheckStatus, Verdict
from flchain.ledger import Backend, LedgerV2, RpcBackend
from flchain.storage import LocalStore

FORCED_WEI = 12_345

# py-evm warns on every SELFDESTRUCT it runs; running one is this test's point
pytestmark = pytest.mark.filterwarnings("ignore:SELFDESTRUCT opcode:DeprecationWarning")


def force_ether(backend: Backend, target: str, wei: int) -> None:
    """Create a contract whose init code is `PUSH20 target; SELFDESTRUCT` with `wei` as its
    value: the balance moves to `target` without calling it."""
    sender = wallet(backend)
    w3 = backend.w3
    tx = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "value": wei,
        "data": "0x73" + target[2:].lower() + "ff",
        "gas": 100_000,
        "maxFeePerGas": 2 * int(w3.eth.gas_price) + 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    signed = Account.sign_transaction(tx, sender.key)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1


def _state(report: AuditReport) -> tuple[CheckStatus, str]:
    (check,) = [c for c in report.checks if c.rule == "state"]
    return check.status, check.message


@pytest.fixture(scope="module")
def played(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> tuple[Played, LocalStore]:
    store = LocalStore(tmp_path_factory.mktemp("store"))
    return play(backend, store), store


def test_ether_forced_in_by_a_selfdestruct_leaves_the_audit_verified_and_is_named(
    backend: Backend, played: tuple[Played, LocalStore]
) -> None:
    fed, store = played
    before = audit_v2(fed.gov, store)
    assert _state(before)[0] == CheckStatus.PASS, before.checks
    balance = int(backend.w3.eth.get_balance(fed.gov.address))

    force_ether(backend, fed.gov.address, FORCED_WEI)

    assert int(backend.w3.eth.get_balance(fed.gov.address)) == balance + FORCED_WEI
    after = audit_v2(fed.gov, store)
    status, message = _state(after)
    assert status == CheckStatus.PASS, message
    assert f"{FORCED_WEI} wei" in message and "forced" in message, message
    assert [r.verdict for r in after.rounds] == [Verdict.VERIFIED, Verdict.VERIFIED]
    assert after.exit_code == 0


def test_a_balance_below_the_machines_still_fails_the_state_check(
    played: tuple[Played, LocalStore],
) -> None:
    """The other side of the same rule: a state proof showing one wei less than the machine's
    accounts need (a fault injected on purpose into the gathered material: the real contract
    cannot leak) fails, and says by how much."""
    fed, _ = played
    mat = gather_v2(fed.gov, closed_rounds_v2(fed.gov))
    replay = replay_calls(mat.calls, fed.gov.chain_id, fed.gov.address)
    assert mat.proven is not None and replay.state is not None
    assert check_state(replay, mat).status == CheckStatus.PASS
    short = replace(mat, proven=replace(mat.proven, balance=replay.state.balance - 1))
    check = check_state(replay, short)
    assert check.status == CheckStatus.FAIL
    assert f"below the machine's {replay.state.balance}" in check.message, check.message


ACCOUNTS_SELECTOR = "0x" + keccak(text="accounts()")[:4].hex()
FUNDED_WEI = 10**15


def test_a_pool_funding_the_rpc_hides_and_fakes_the_view_of_fails_on_the_proven_accounts(
    backend: Backend, played: tuple[Played, LocalStore]
) -> None:
    """A liar hides a stranger's `fundPool` (its log, so the machine never replays it) and
    answers `accounts()` with the pool less that amount, so the views agree with the machine;
    the balance alone would read the difference as forced ether. The proven `_holdings` word
    does not agree."""
    if not isinstance(backend, RpcBackend):
        pytest.skip("a lying JSON-RPC proxy needs a JSON-RPC chain")
    fed, store = played
    stranger = fed.gov.with_account(wallet(backend))
    hidden = stranger.fund_pool(FUNDED_WEI).tx_hash

    def hide(log: dict[str, Any]) -> dict[str, Any] | None:
        return None if log["transactionHash"] == hidden else log

    def fake_accounts(call: dict[str, Any], result: str) -> str:
        if not str(call.get("data", call.get("input", ""))).startswith(ACCOUNTS_SELECTOR):
            return result
        bonds, pool, reserved, claimable = decode(["uint256"] * 4, bytes.fromhex(result[2:]))
        faked = (bonds, pool - FUNDED_WEI, reserved, claimable)
        return "0x" + encode(["uint256"] * 4, faked).hex()

    with LyingRpc(backend.url, hide, calls=fake_accounts) as url:
        ledger = LedgerV2.connect(RpcBackend(url), fed.gov.address, from_block=fed.gov.from_block)
        report = audit_v2(ledger, store)
    status, message = _state(report)
    assert status == CheckStatus.FAIL, message
    assert "the proven accounts are" in message and "accounts() is" not in message, message
    assert report.exit_code == 1
