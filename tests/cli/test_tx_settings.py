"""The transaction policy's flags and settings: bad values get one error line naming the flag
or the setting, before any wallet is unlocked or endpoint contacted; good ones reach the policy."""

from __future__ import annotations

from pathlib import Path

from flchain.config import load_settings
from flchain.ledger import TxPolicy

from .conftest import Run, error_line


def test_a_bad_fee_flag_is_one_line_naming_it(flchain: Run) -> None:
    line = error_line(flchain("node", "run", "--wallet", "w", "--max-fee-gwei", "lots"))
    assert "'max_fee_gwei' from flag --max-fee-gwei" in line
    line = error_line(flchain("node", "run", "--wallet", "w", "--fee-bump-pct", "10"))
    assert "'fee_bump_pct' from flag --fee-bump-pct" in line and "12.5" in line
    line = error_line(flchain("node", "run", "--wallet", "w", "--rpc-fallback", "ftp://x"))
    assert "'rpc_fallback_urls' from flag --rpc-fallback" in line


def test_a_fee_finer_than_a_wei_is_refused(tmp_path: Path) -> None:
    (tmp_path / "flchain.toml").write_text("max_fee_gwei = 0.0000000001\n")
    try:
        load_settings(environ={}, cwd=tmp_path)
    except Exception as exc:
        assert "max_fee_gwei" in str(exc) and "flchain.toml" in str(exc)
    else:
        raise AssertionError("a tenth of a wei was accepted")


def test_settings_become_the_policy_in_wei(tmp_path: Path) -> None:
    (tmp_path / "flchain.toml").write_text(
        "max_fee_gwei = 50\nmax_tx_cost_eth = 0.01\npriority_fee_gwei = 1.5\nconfirmations = 3\n"
        "fee_bump_pct = 20\ngas_margin_pct = 30\ntx_replace_after_s = 60\n"
    )
    env = {"FLCHAIN_TX_RECEIPT_TIMEOUT_S": "600"}
    policy = load_settings(environ=env, cwd=tmp_path).settings.tx_policy()
    assert policy == TxPolicy(
        max_fee_per_gas_wei=50 * 10**9,
        max_tx_cost_wei=10**16,
        priority_fee_wei=1_500_000_000,
        confirmations=3,
        fee_bump_bps=2_000,
        gas_margin_pct=30,
        replace_after_s=60,
        receipt_timeout_s=600,
    )
    (tmp_path / "empty").mkdir()
    assert load_settings(environ={}, cwd=tmp_path / "empty").settings.tx_policy() == TxPolicy()
