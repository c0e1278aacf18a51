"""Setting up a federation on any chain: genesis model, devnet rules, deployment, node wallets.

Shared by `flchain devnet up` and `flchain simulate` so both build the same kind of federation:
protocol v2 (`devnet_rules_v2`, `deploy_v2`, `fund_and_register_v2`, `fund_pool_v2`: bonded
nodes, a reward pool, a `DevnetBeacon` standing in for drand) and protocol v1 (`devnet_rules`,
`deploy`, `fund_and_register`), which `--protocol 1` still deploys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from flchain.hashing import sha256_hex
from flchain.ledger import Backend, DeployConfig, Ledger, LedgerV2
from flchain.market.benchmark import default_benchmark
from flchain.model import ModelConfig, config_to_metadata, init_weights
from flchain.protocol import Rules
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.digests import raw_leaf_cid
from flchain.protocol.machine import (
    DEFAULT_FINALITY_PPM,
    ETHER,
    MAX_PAYLOAD_BYTES,
    Deployment,
    RulesV2,
)
from flchain.storage import ContentStore
from flchain.storage.cid import cid_for_bytes
from flchain.storage.weights import encode_weights

#: Wei each devnet wallet is funded with (gas only; devnet bonds are 0).
FUNDING_WEI = 10**20


@dataclass(frozen=True)
class Genesis:
    """The genesis global model: canonical safetensors bytes, digest and CID."""

    payload: bytes
    digest: str
    cid: str


def genesis_model(seed: int = 0, config: ModelConfig | None = None) -> Genesis:
    """Seeded initial weights with their config in the metadata (the same seed, same bytes)."""
    cfg = config or ModelConfig(init_seed=seed)
    payload = encode_weights(init_weights(cfg), config_to_metadata(cfg))
    return Genesis(payload=payload, digest=sha256_hex(payload), cid=cid_for_bytes(payload))


def devnet_rules(nodes: int) -> Rules:
    """Rules for a devnet of `nodes` wallets: the shipped benchmark, a majority quorum, a
    probation of two accepted reveals, then a mean score of at least −50 % (a penalty costs
    10 000 bps, so an inflating node drops out), clusters capped to a third of the weight."""
    return Rules(
        roi_min_bps=-5_000,
        roi_max_bps=20_000,
        eligibility_min_score_bps=-5_000,
        probation_rounds=2,
        max_participants=64,
        similarity_threshold_ppm=950_000,
        cluster_cap_ppm=334_000,
        quorum=max(1, nodes // 2 + 1) if nodes > 2 else 1,
        roi_tolerance_bps=1,
        fee_ppm=1_000,
        benchmark_id=default_benchmark().id,
    )


def deterministic_account(label: str, seed: int) -> LocalAccount:
    """A throw-away devnet key derived from a label and a seed (never for value)."""
    key = sha256_hex(f"flchain/devnet-key/{seed}/{label}".encode())
    return Account.from_key(key)


def deploy(
    backend: Backend,
    deployer: LocalAccount,
    store: ContentStore,
    *,
    t0: int,
    rules: Rules,
    round_length: int = 86_400,
    commit_window: int = 43_200,
    reveal_window: int = 21_600,
    exit_delay: int = 86_400,
    genesis: Genesis | None = None,
) -> tuple[Ledger, Genesis]:
    """Put the genesis model in the store (pinned) and deploy the contract with `rules`."""
    gen = genesis or genesis_model()
    if store.put(gen.payload) != gen.cid:
        raise RuntimeError("the store disagrees with the genesis CID")  # a broken store, not input
    store.pin(gen.cid)
    backend.fund(deployer.address, FUNDING_WEI)
    config = DeployConfig(
        t0=t0,
        round_length=round_length,
        commit_window=commit_window,
        reveal_window=reveal_window,
        min_bond=0,
        exit_delay=exit_delay,
        genesis_digest=gen.digest,
        genesis_cid=gen.cid,
        rules=rules,
    )
    return Ledger.deploy(backend, deployer, config), gen


def fund_and_register(ledger: Ledger, accounts: list[LocalAccount], bond: int = 0) -> None:
    """Fund each wallet for gas and register it as a node."""
    for account in accounts:
        ledger.backend.fund(account.address, FUNDING_WEI)
        ledger.with_account(account).register(bond)


# --- protocol v2 --------------------------------------------------------------------------

#: The devnet figures of docs/security.md's attack table (its costs are computed from them).
DEVNET_MIN_BOND_WEI = ETHER
DEVNET_NO_REVEAL_SLASH_WEI = 5 * ETHER // 100
DEVNET_PENALTY_SLASH_WEI = ETHER // 10
DEVNET_WRONG_VOTE_SLASH_WEI = 2 * ETHER // 100
DEVNET_FINALITY_PPM = DEFAULT_FINALITY_PPM
#: Budget each round reserves from the pool, and how many rounds' worth `fund_pool_v2` adds.
DEVNET_EMISSION_WEI = ETHER // 10
#: Rule changes need this notice (rounds); the immutable floor under it is one round.
DEVNET_NOTICE_ROUNDS = 2
DEVNET_MIN_NOTICE_ROUNDS = 1
#: Shortest round a v2 devnet accepts: commit 6 s, reveal 3 s, beacon 2 s, attest 1 s.
MIN_ROUND_LENGTH_V2 = 12


def devnet_rules_v2(*, emission_wei: int = DEVNET_EMISSION_WEI) -> RulesV2:
    """The v2 devnet rules: v1's devnet filters and merge parameters (the shipped benchmark, a
    probation of two merged rounds, then a mean score of at least −50 %, clusters capped to a
    third), finality at q = ⅔ of the frozen stake (666 666 ppm), and the slashes and bond of
    docs/security.md: minBond 1 ETH, no-reveal 0.05 ETH, penalty 0.1 ETH, wrong vote 0.02 ETH."""
    return RulesV2(
        roi_min_bps=-5_000,
        roi_max_bps=20_000,
        eligibility_min_score_bps=-5_000,
        probation_rounds=2,
        max_participants=64,
        notice_rounds=DEVNET_NOTICE_ROUNDS,
        finality_ppm=DEVNET_FINALITY_PPM,
        max_payload_bytes=MAX_PAYLOAD_BYTES,
        similarity_threshold_ppm=950_000,
        cluster_cap_ppm=334_000,
        roi_tolerance_bps=1,
        fee_ppm=1_000,
        benchmark_id=bytes.fromhex(default_benchmark().id.removeprefix("0x")),
        emission_wei=emission_wei,
        no_reveal_slash_wei=DEVNET_NO_REVEAL_SLASH_WEI,
        penalty_slash_wei=DEVNET_PENALTY_SLASH_WEI,
        wrong_vote_slash_wei=DEVNET_WRONG_VOTE_SLASH_WEI,
    )


#: Seconds a beacon window keeps open after its drand round D(r) exists. A node can sign D(r)
#: only once a block at or after D(r)'s time is mined, and its post must be mined before the
#: window closes: with 1-s blocks and a 1-s poll a window of delay + period alone (2 s on a
#: 40 s round) left about one block, and most rounds' beacon was missed.
BEACON_POST_SLACK_S = 4


def devnet_schedule_v2(round_length: int) -> dict[str, int]:
    """Windows of a v2 round of `round_length` s: commit ½, reveal ¼, beacon 1/24 (≥ 2 s), the
    rest to attest; the beacon's period and delay a quarter of its window each (≥ 1 s), so the
    drand round D(r) exists before the window closes; exit delay 2 rounds (the floor). On short
    rounds the beacon window grows to delay + period + `BEACON_POST_SLACK_S`, taken from the
    commit window (never below the reveal window nor the shortest round's 6 s)."""
    if round_length < MIN_ROUND_LENGTH_V2:
        raise ValueError(f"a v2 round needs at least {MIN_ROUND_LENGTH_V2} s")
    beacon_window = max(2, round_length // 24)
    period = max(1, beacon_window // 4)
    commit_window, reveal_window = round_length // 2, round_length // 4
    spare = commit_window - max(reveal_window, MIN_ROUND_LENGTH_V2 // 2)
    grow = min(2 * period + BEACON_POST_SLACK_S - beacon_window, spare)
    if grow > 0:
        beacon_window += grow
        commit_window -= grow
    return {
        "round_length": round_length,
        "commit_window": commit_window,
        "reveal_window": reveal_window,
        "beacon_window": beacon_window,
        "beacon_period": period,
        "beacon_delay": period,
        "exit_delay": 2 * round_length,
    }


def devnet_deployment_v2(
    t0: int, genesis: Genesis, beacon: DevnetBeacon, *, round_length: int = 86_400
) -> Deployment:
    """The immutables of a v2 devnet: `devnet_schedule_v2`, minBond 1 ETH, the genesis model's
    raw-leaf CID, `beacon`'s key standing in for drand (its genesis at T0)."""
    s = devnet_schedule_v2(round_length)
    digest = bytes.fromhex(genesis.digest.removeprefix("0x"))
    return Deployment(
        t0=t0,
        round_length=s["round_length"],
        commit_window=s["commit_window"],
        reveal_window=s["reveal_window"],
        beacon_window=s["beacon_window"],
        exit_delay=s["exit_delay"],
        min_notice_rounds=DEVNET_MIN_NOTICE_ROUNDS,
        min_bond=DEVNET_MIN_BOND_WEI,
        genesis_digest=digest,
        genesis_cid=raw_leaf_cid(digest),
        beacon_genesis=t0,
        beacon_period=s["beacon_period"],
        beacon_delay=s["beacon_delay"],
        beacon_public_key=beacon.public_key,
    )


def deploy_v2(
    backend: Backend,
    deployer: LocalAccount,
    store: ContentStore,
    beacon: DevnetBeacon,
    *,
    t0: int,
    rules: RulesV2 | None = None,
    round_length: int = 86_400,
    genesis: Genesis | None = None,
) -> tuple[LedgerV2, Genesis]:
    """Put the genesis model in the store (pinned) and deploy FLChainV2 with the devnet
    immutables, `beacon`'s key and `rules` (default `devnet_rules_v2()`); `deployer` governs."""
    gen = genesis or genesis_model()
    if store.put(gen.payload) != gen.cid:
        raise RuntimeError("the store disagrees with the genesis CID")  # a broken store, not input
    store.pin(gen.cid)
    backend.fund(deployer.address, FUNDING_WEI)
    deployment = devnet_deployment_v2(t0, gen, beacon, round_length=round_length)
    ledger = LedgerV2.deploy(backend, deployer, deployment, rules or devnet_rules_v2())
    return ledger, gen


def fund_and_register_v2(
    ledger: LedgerV2, accounts: Sequence[LocalAccount], bonds: Sequence[int] | int
) -> None:
    """Fund each wallet for gas and its bond, and register it with that bond (in the frozen
    set from the next round that starts)."""
    amounts = [bonds] * len(accounts) if isinstance(bonds, int) else list(bonds)
    for account, bond in zip(accounts, amounts, strict=True):
        ledger.backend.fund(account.address, FUNDING_WEI + bond)
        ledger.with_account(account).register(bond)


def fund_pool_v2(ledger: LedgerV2, rounds: int) -> int:
    """Add `rounds` rounds of the rules' emission to the reward pool from `ledger`'s wallet
    (funded for it here); returns the wei added."""
    amount = rounds * ledger.rules_for_round(0).emission_wei
    if amount:
        assert ledger.account is not None
        funder = ledger.account.address
        ledger.backend.fund(funder, int(ledger.w3.eth.get_balance(funder)) + amount)
        ledger.fund_pool(amount)
    return amount
