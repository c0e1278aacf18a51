"""`flchain devnet up` on protocol v2 (the default): FLChainV2 with the devnet rules of
docs/security.md, a `DevnetBeacon` key, a funded reward pool, every node wallet bonded and in
round 0's frozen set — the installed CLI in a subprocess on a real anvil, read back through
`LedgerV2`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from _devnet_cli import error_line, flchain

from flchain.config import load_profile
from flchain.devnet.federation import (
    BEACON_POST_SLACK_S,
    DEVNET_EMISSION_WEI,
    DEVNET_MIN_BOND_WEI,
    MIN_ROUND_LENGTH_V2,
    deploy_v2,
    deterministic_account,
    devnet_rules_v2,
    devnet_schedule_v2,
    fund_and_register_v2,
    fund_pool_v2,
)
from flchain.devnet.manager import POOL_ROUNDS
from flchain.ledger import ContractRevert, EmbeddedBackend, LedgerV2, RpcBackend, connect_ledger
from flchain.ledger.keystore import Keystore
from flchain.protocol.beacon import DevnetBeacon, verify_beacon
from flchain.protocol.machine import ETHER, Phase, Status, check_rules
from flchain.storage import LocalStore

pytestmark = pytest.mark.anvil


def test_devnet_rules_v2_are_the_threat_models_figures() -> None:
    rules = devnet_rules_v2()
    assert rules.finality_ppm == 666_666
    assert (rules.no_reveal_slash_wei, rules.penalty_slash_wei, rules.wrong_vote_slash_wei) == (
        5 * ETHER // 100,
        ETHER // 10,
        2 * ETHER // 100,
    )
    assert DEVNET_MIN_BOND_WEI == ETHER
    assert rules.emission_wei == DEVNET_EMISSION_WEI > 0


def test_short_rounds_leave_time_to_post_the_beacon() -> None:
    """The beacon round D(r) is drawn at reveal end + delay and a post must be mined before the
    window closes: every round length from 20 s up leaves `BEACON_POST_SLACK_S` after D(r)
    (a 40 s round had 1 s: with 1-s blocks most rounds' beacon was missed), the windows still
    fit the round, and long rounds keep their 1/24 window."""
    for round_length in range(MIN_ROUND_LENGTH_V2, 2_000):
        s = devnet_schedule_v2(round_length)
        used = s["commit_window"] + s["reveal_window"] + s["beacon_window"]
        assert used < round_length and s["commit_window"] >= MIN_ROUND_LENGTH_V2 // 2
        assert s["beacon_window"] >= s["beacon_delay"] + s["beacon_period"]
        if round_length >= 20:
            after = s["beacon_window"] - s["beacon_delay"] - s["beacon_period"]
            assert after >= BEACON_POST_SLACK_S, (round_length, s)
    assert devnet_schedule_v2(40)["beacon_window"] == 6
    day = devnet_schedule_v2(86_400)
    assert (day["commit_window"], day["beacon_window"]) == (43_200, 3_600)


@pytest.mark.parametrize("round_length", [12, 13, 60, 1_000, 86_400])
def test_every_round_length_deploys_and_bonds_a_frozen_set(
    tmp_path: Path, round_length: int
) -> None:
    """On the embedded chain: the schedule of any round length the CLI accepts passes the
    contract's deployment checks, the rules its bounds, and wallets registered before T0 are in
    round 0's frozen set with their bonds."""
    backend = EmbeddedBackend()
    t0 = backend.latest_timestamp() + 100
    beacon = DevnetBeacon(b"tests/devnet")
    gov, genesis = deploy_v2(
        backend, deterministic_account("deployer", 0), LocalStore(tmp_path, fsync=False),
        beacon, t0=t0, round_length=round_length,
    )  # fmt: skip
    d = gov.deployment()
    assert d.min_bond == DEVNET_MIN_BOND_WEI and d.beacon_public_key == beacon.public_key
    assert d.exit_delay == devnet_schedule_v2(round_length)["exit_delay"]
    check_rules(gov.rules_for_round(0), d)
    nodes = [deterministic_account(f"n{i}", 0) for i in range(2)]
    fund_and_register_v2(gov, nodes, [ETHER, 3 * ETHER])
    assert fund_pool_v2(gov, 5) == 5 * DEVNET_EMISSION_WEI == gov.accounts().pool
    assert [gov.stake_of(n.address, 0) for n in nodes] == [ETHER, 3 * ETHER]
    assert gov.accounts().bonds == 4 * ETHER
    # D(0) exists before round 0's beacon window closes, and the devnet key signs it.
    gov.goto(0, Phase.BEACON, offset=0)
    signature = beacon.sign(gov.beacon_round(0))
    verify_beacon(beacon.public_key, gov.beacon_round(0), signature)
    gov.with_account(nodes[0]).post_beacon(0, signature)
    with pytest.raises(ContractRevert) as refused:
        fund_and_register_v2(gov, [deterministic_account("poor", 0)], ETHER // 2)
    assert refused.value.error_name == "BondTooSmall"
    assert genesis.cid  # the genesis model went to the store first


def test_up_deploys_v2_bonds_every_wallet_and_funds_the_pool(tmp_path: Path) -> None:
    data = tmp_path / "flchain"
    up = flchain("devnet", "up", "--nodes", "3", "--round-length", "600", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    profile = load_profile(data / "devnet" / "profile.json")
    assert profile.protocol == 2 and profile.rpc_url is not None
    assert "FLChainV2" in up.stdout and "node run --wallet node-1" in up.stdout
    try:
        # The beacon seed: 0600, never printed; its key is the deployment's.
        assert profile.beacon_seed_file is not None
        seed_file = profile.beacon_seed_file
        assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
        seed = seed_file.read_text().strip()
        assert seed not in up.stdout and seed not in up.stderr
        backend = RpcBackend(profile.rpc_url, kind="anvil")
        ledger = connect_ledger(backend, profile.contract, from_block=profile.deployment_block)
        assert isinstance(ledger, LedgerV2)
        d = ledger.deployment()
        assert d.beacon_public_key == DevnetBeacon(bytes.fromhex(seed)).public_key
        assert d.round_length == 600
        assert ledger.rules_for_round(0) == devnet_rules_v2()
        assert ledger.accounts().pool == POOL_ROUNDS * DEVNET_EMISSION_WEI
        # Every node wallet is bonded and in round 0's frozen set; round 0's commit window is
        # open; the governor is the deployer and holds no bond.
        assert ledger.phase() == (0, Phase.COMMIT)
        keystore = Keystore(profile.keystore_dir)
        nodes = [w for w in profile.wallets if w.name.startswith("node-")]
        assert len(nodes) == 3
        for w in nodes:
            view = ledger.node_view(w.address)
            assert (view.status, view.bond) == (Status.ACTIVE, DEVNET_MIN_BOND_WEI)
            assert ledger.stake_of(w.address, 0) == DEVNET_MIN_BOND_WEI
            assert keystore.find(w.name).path.exists()
        governor = profile.wallets[0]
        assert governor.name == "governor" and ledger.governor() == governor.address

        status = flchain("devnet", "status", "--json", "--data-dir", str(data))
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["protocol"] == 2 and report["healthy"] is True
        assert {w["name"]: (w["node_status"], w["bond_wei"]) for w in report["wallets"]} == {
            "governor": ("NONE", 0),
            **{w.name: ("ACTIVE", DEVNET_MIN_BOND_WEI) for w in nodes},
        }
        text = flchain("devnet", "status", "--data-dir", str(data)).stdout
        assert "protocol v2" in text and "bond 1.0000 ETH" in text
        # the chain commands find the devnet by its folder, as the node commands do
        info = flchain("chain", "info", "--data-dir", str(data))
        assert info.returncode == 0, info.stderr
        assert info.stdout.startswith(f"contract   {profile.contract} (FLChainV2)")
        listed = flchain(
            "chain", "nodes", "--json", "--profile", str(data / "devnet" / "profile.json")
        )
        assert [n["node"] for n in json.loads(listed.stdout)] == [w.address for w in nodes]
    finally:
        down = flchain("devnet", "down", "--data-dir", str(data))
        assert down.returncode == 0, down.stderr
    assert not (data / "devnet").exists()


def test_a_v2_round_too_short_for_its_windows_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "flchain"
    result = flchain("devnet", "up", "--round-length", "5", "--data-dir", str(data))
    assert result.returncode == 1
    assert "too short for protocol v2" in error_line(result)
    assert not (data / "devnet").exists()


@pytest.mark.slow
def test_node_run_on_a_devnet_posts_its_beacon_from_the_profile(tmp_path: Path) -> None:
    """`flchain node run --data-dir D` with no beacon option, on D's v2 devnet, posts the devnet
    beacon from D's seed file: without it every devnet seed fell back to the salts alone (the
    grindable fallback). A seed file that is not hex is one `error:` line before any step.
    `flchain audit --data-dir D --all` then verifies the round (audit had no --data-dir, the
    one command of the devnet walkthrough without it: "No such option")."""
    import os
    import signal
    import subprocess
    import time

    from _devnet_cli import FLCHAIN, cli_env

    from flchain.ledger.events_v2 import BeaconPosted

    data = tmp_path / "flchain"
    up = flchain("devnet", "up", "--nodes", "1", "--round-length", "600", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    profile = load_profile(data / "devnet" / "profile.json")
    try:
        assert profile.rpc_url is not None and profile.beacon_seed_file is not None
        ledger = connect_ledger(
            RpcBackend(profile.rpc_url, kind="anvil"), profile.contract,
            from_block=profile.deployment_block,
        )  # fmt: skip
        assert isinstance(ledger, LedgerV2)
        seed = profile.beacon_seed_file.read_bytes()
        profile.beacon_seed_file.write_text("not hex\n")
        bad = flchain("node", "run", "--wallet", "node-1", "--data-dir", str(data))
        assert (
            "is not a hex seed" in error_line(bad) and str(profile.beacon_seed_file) in bad.stderr
        )
        profile.beacon_seed_file.write_bytes(seed)

        log_path = tmp_path / "node.log"
        with log_path.open("wb") as log:
            daemon = subprocess.Popen(
                [FLCHAIN, "node", "run", "--wallet", "node-1", "--poll", "0.5",
                 "--data-dir", str(data)],
                env=cli_env(), stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
            try:
                for phase, done in (
                    (Phase.BEACON, lambda: ledger.events(BeaconPosted, 0)),
                    (Phase.ATTEST, lambda: ledger.latest().round_plus_one == 1),
                ):
                    ledger.goto(0, phase, 5)
                    deadline = time.monotonic() + 180
                    while not done():
                        assert daemon.poll() is None, log_path.read_text()[-3000:]
                        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                        time.sleep(1)
            finally:
                os.killpg(daemon.pid, signal.SIGTERM)
                assert daemon.wait(timeout=60) == 0
        text = log_path.read_text()
        assert "posting the devnet beacon" in text and seed.decode().strip() not in text
        (posted,) = ledger.events(BeaconPosted, 0)
        node = next(w.address for w in profile.wallets if w.name == "node-1")
        assert posted.node == node
        ledger.goto(1, Phase.COMMIT, 5)  # round 0 closed
        audited = flchain("audit", "--data-dir", str(data), "--all")
        assert audited.returncode == 0, audited.stdout + audited.stderr
        assert "VERIFIED — 1 round(s): 1 verified" in audited.stdout
    finally:
        down = flchain("devnet", "down", "--data-dir", str(data))
        assert down.returncode == 0, down.stderr
