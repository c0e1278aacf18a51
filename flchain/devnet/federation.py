"""Setting up a federation on any chain: genesis model, devnet rules, deployment, node wallets.

Shared by `flchain devnet up` and `flchain simulate` so both build the same kind of federation.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from flchain.hashing import sha256_hex
from flchain.ledger import Backend, DeployConfig, Ledger
from flchain.market.benchmark import default_benchmark
from flchain.model import ModelConfig, config_to_metadata, init_weights
from flchain.protocol import Rules
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
