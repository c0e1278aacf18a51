"""A small protocol v2 federation played through `LedgerV2` alone (no machine in the loop, so
the same script runs against a deliberately modified contract), with the genesis model and each
final model and manifest in a real `LocalStore` (as the nodes publish them):

    round 0  nodes a, b, c reveal real updates, d commits and withholds; a beacon post; the
             v2 merge of the ledger's record is attested by a, b, c and finalized; a keeper
             slashes d's unrevealed commitment
    round 1  everyone settles round 0 from its manifest; a and b reveal; the merge is attested
             and finalized (no beacon post: the salts alone)
    round 2  the clock is moved into its commit window, so rounds 0 and 1 are closed

`deploy` is the deployment step: `LedgerV2.deploy` by default, or the caller's (a variant).

With `faults=True` two deliberate faults are played (each named here, nowhere else):

    round 0  c attests the honest result with 1 wei less roundEarned (a wrong vote); d, the
             withholder, attests the honest one so that it is final without c; c's wrong vote
             is slashed when c settles in round 1
    round 1  a, b and c attest and finalize the merge's result with a forged settlementRoot
             (the manifest's table does not hash to it)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from _twin import (
    BASE_CONFIG,
    BEACON,
    ETHER,
    FEE_PPM,
    Update,
    base_weights,
    deployment,
    rules,
    wallet,
)

from flchain.backtest import roi_bps
from flchain.hashing import sha256_hex
from flchain.ledger import Backend, LedgerV2
from flchain.market.benchmark import WARMUP, benchmark_for_round
from flchain.market.forward import build_window
from flchain.market.synthetic import synthetic_bars
from flchain.merge.forward import ForwardRound
from flchain.merge.settlement import settlement_proof
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest
from flchain.model import config_to_metadata, perturb_weights, reference_positions
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol import machine as m
from flchain.protocol.binding import compute_binding_metadata
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore
from flchain.storage.weights import decode_weights, encode_weights

Deploy = Callable[[Backend, object, m.Deployment, m.RulesV2], LedgerV2]


@dataclass
class Played:
    gov: LedgerV2
    nodes: list[str]
    merged: list[MergeResultV2]
    outcomes: list[list[m.RevealOutcome]]


def make_update(round: int, seed: int, base: bytes | None = None, *, node: str) -> Update:
    """`node`'s seeded perturbation of `base` (default: genesis) for `round`, its metadata
    naming that reveal, with its exact ROI on the benchmark the default rules name (the round's
    shipped window: what an auditor's replay resolves)."""
    base = base if base is not None else base_weights()
    tensors, _ = decode_weights(base)
    update = perturb_weights(tensors, seed, 200_000)
    config = BASE_CONFIG.model_copy(update={"base_digest": sha256_hex(base)})
    metadata = config_to_metadata(config) | compute_binding_metadata(node, round)
    payload = encode_weights(update, metadata)
    bench = benchmark_for_round(round)
    claim = roi_bps(
        bench.exec_prices, reference_positions(update, BASE_CONFIG, bench.bars), FEE_PPM
    )
    return Update(round, payload, dg.sha256(base), claim, secrets.token_bytes(32))


def _default_deploy(backend: Backend, gov: object, d: m.Deployment, r: m.RulesV2) -> LedgerV2:
    return LedgerV2.deploy(backend, gov, d, r)  # type: ignore[arg-type]


#: The root a colluding quorum puts in round 1's result when `faults` (no table hashes to it).
FORGED_ROOT = dg.sha256(b"a settlement root no manifest has")


def play(
    backend: Backend, store: LocalStore, deploy: Deploy = _default_deploy, *, faults: bool = False
) -> Played:
    store.put(base_weights())  # the genesis model, as the deployer publishes it
    gov_account = wallet(backend, 10**22)
    g = deploy(backend, gov_account, deployment(backend.latest_timestamp()), rules())
    a, b, c, d = (g.with_account(wallet(backend)) for _ in range(4))
    keeper = g.with_account(wallet(backend))
    for n in (a, b, c, d):
        n.register(ETHER)
    keeper.fund_pool(5 * ETHER)
    nodes = [n.account.address for n in (a, b, c, d) if n.account is not None]
    outcomes: list[list[m.RevealOutcome]] = []

    def commit(n: LedgerV2, u: object) -> None:
        n.commit(u.round, n.commitment(u.round, u.digest, u.base_digest, u.roi_bps, u.salt))  # type: ignore[attr-defined]

    g.goto(0, Phase.COMMIT, 5)
    keeper.open_round(0)
    ups = {n: make_update(0, seed=10 + i, node=n._me()) for i, n in enumerate((a, b, c, d))}
    for n, u in ups.items():
        commit(n, u)
    g.goto(0, Phase.REVEAL, 5)
    outcomes.append([n.reveal(*ups[n].reveal_args())[1] for n in (a, b, c)])
    g.goto(0, Phase.BEACON, 5)
    a.post_beacon(0, BEACON.sign(g.beacon_round(0)))
    g.goto(0, Phase.ATTEST, 5)
    merged0 = merge_v2(
        g.round_record_v2(0), base_weights(), benchmark_for_round(0), PriorRound.genesis()
    )
    store.put(merged0.merged_weights)
    store.put(merged0.manifest)
    if faults:
        wrong = replace(merged0.result, round_earned=merged0.result.round_earned - 1)
        for n, result in (
            (a, merged0.result),
            (b, merged0.result),
            (c, wrong),
            (d, merged0.result),
        ):
            n.attest(0, result)
    else:
        for n in (a, b, c):
            n.attest(0, merged0.result)
    keeper.finalize(0, merged0.result)
    keeper.slash_no_reveal(0, nodes[3])

    g.goto(1, Phase.COMMIT, 5)
    keeper.open_round(1)
    for i, n in enumerate((a, b, c, d)):
        leaf, proof = settlement_proof(merged0.manifest, nodes[i])
        (n if i % 2 == 0 else keeper).settle(leaf, proof)
    ups1 = {
        n: make_update(1, seed=20 + i, base=merged0.merged_weights, node=n._me())
        for i, n in enumerate((a, b))
    }
    for n, u in ups1.items():
        commit(n, u)
    g.goto(1, Phase.REVEAL, 5)
    outcomes.append([n.reveal(*u.reveal_args())[1] for n, u in ups1.items()])
    g.goto(1, Phase.ATTEST, 5)
    merged1 = merge_v2(
        g.round_record_v2(1), merged0.merged_weights, benchmark_for_round(1),
        prior_from_manifest(merged0.manifest),
    )  # fmt: skip
    store.put(merged1.merged_weights)
    store.put(merged1.manifest)
    final1 = replace(merged1.result, settlement_root=FORGED_ROOT) if faults else merged1.result
    for n in (a, b, c):
        n.attest(1, final1)
    keeper.finalize(1, final1)
    g.goto(2, Phase.COMMIT, 5)
    return Played(g, nodes, [merged0, merged1], outcomes)


def play_rounds(
    backend: Backend, store: LocalStore, rounds: int, nodes: int, *, forward: bool = False
) -> LedgerV2:
    """`rounds` honest rounds of `nodes` nodes (bench/audit_v2.py): each round every node
    settles the previous final round, commits, reveals, one posts the beacon, all attest the
    merge of the ledger's record, a keeper finalizes; ends in round `rounds`' commit window.
    With `forward` (FORWARD_RULES, long rounds): once round r's window has closed a keeper
    posts it, every commit of r + 1 votes for it, and the merge of r + 1 scores r on it."""
    store.put(base_weights())
    changes = {"round_length": FORWARD_ROUND, "exit_delay": 2 * FORWARD_ROUND} if forward else {}
    d = deployment(backend.latest_timestamp(), **changes)
    g = LedgerV2.deploy(
        backend, wallet(backend, 10**22), d, rules(**(FORWARD_RULES if forward else {}))
    )
    members = [g.with_account(wallet(backend)) for _ in range(nodes)]
    keeper = g.with_account(wallet(backend))
    for n in members:
        n.register(ETHER)
    keeper.fund_pool(rounds * ETHER)
    weights, prior, manifest = base_weights(), PriorRound.genesis(), None
    scored: ForwardRound | None = None  # the previous round, scored in this one
    for r in range(rounds):
        g.goto(r, Phase.COMMIT, 5)
        keeper.open_round(r)
        for n in members:
            if manifest is not None and n.account is not None:
                n.settle(*settlement_proof(manifest, n.account.address))
        ups = {
            n: make_update(r, seed=1000 * r + i, base=weights, node=n._me())
            for i, n in enumerate(members)
        }
        for n, u in ups.items():
            c = n.commitment(r, u.digest, u.base_digest, u.roi_bps, u.salt)
            if scored is not None and scored.window is not None:
                n.commit_with_forward(r, c, r - 1, dg.sha256(scored.window))
            else:
                n.commit(r, c)
        g.goto(r, Phase.REVEAL, 5)
        for n, u in ups.items():
            n.reveal(*u.reveal_args())
        g.goto(r, Phase.BEACON, 5)
        members[0].post_beacon(r, BEACON.sign(g.beacon_round(r)))
        g.goto(r, Phase.ATTEST, 5)
        if scored is not None:
            scored = replace(scored, record=g.round_record_v2(r - 1))
        merged = merge_v2(g.round_record_v2(r), weights, benchmark_for_round(r), prior, scored)
        store.put(merged.merged_weights)
        store.put(merged.manifest)
        for n in members:
            n.attest(r, merged.result)
        keeper.finalize(r, merged.result)
        if forward:
            window = forward_window(fw.forward_start(d.reveal_end(r), 0), seed=r)
            g.backend.set_time(
                fw.forward_close(d.reveal_end(r), 0, FORWARD_RULES["forward_bars"]) + 5
            )
            keeper.post_forward(r, window)
            scored = ForwardRound(g.round_record_v2(r), weights, window)
        weights, manifest = merged.merged_weights, merged.manifest
        prior = prior_from_manifest(manifest)
    g.goto(rounds, Phase.COMMIT, 5)
    return g


# ---------------------------------------------------------------- a forward-scored federation

#: Forward scoring on from genesis: 4 scored bars, no margin, voted one round later. Rounds are
#: long enough (10 000 s) that round r's window closes before r + 1's commits open (§15.1).
FORWARD_RULES = {"forward_bars": 4, "forward_lag_rounds": 1, "forward_trail_rounds": 4}
FORWARD_ROUND = 10_000


@dataclass
class PlayedForward:
    gov: LedgerV2
    nodes: list[str]
    merged: list[MergeResultV2]
    windows: dict[str, bytes]  # "honest", "other": round 0's two posted windows


def forward_window(start: int, seed: int) -> bytes:
    """A window file of round 0's bars from a seeded synthetic market (first scored bar at
    `start`, s) named as the rules' benchmark market, as each node builds it from its feed."""
    file = benchmark_for_round(0).file  # every round's shipped window names the same market
    assert file is not None
    first = start - (WARMUP + 8) * fw.BAR_SECONDS
    bars = synthetic_bars(WARMUP + 16, seed, start_ms=first * 1000)
    return build_window(bars, file.exchange, file.symbol, start, FORWARD_RULES["forward_bars"]).data


def play_forward(backend: Backend, store: LocalStore) -> PlayedForward:
    """Two rounds with forward scoring on, through `LedgerV2` alone:

    round 0  a, b, c commit (nothing to vote on yet) and reveal; the merge (no window scored
             yet, every record empty) is attested by all and finalized; once round 0's window
             has closed a keeper posts it, and a stranger posts another window (other bars)
             and the keeper's window again
    round 1  everyone settles round 0; a and b commit voting for the keeper's window (2 of 3
             ether of stake: accepted, q = 2/3), c voting for the stranger's; a and b reveal;
             the merge scores round 0's updates on the accepted window, is attested by all
             and finalized
    round 2  the clock is moved into its commit window (round 1's window is not voted yet)
    """
    store.put(base_weights())
    d = deployment(
        backend.latest_timestamp(), round_length=FORWARD_ROUND, exit_delay=2 * FORWARD_ROUND
    )
    g = LedgerV2.deploy(backend, wallet(backend, 10**22), d, rules(**FORWARD_RULES))
    a, b, c = (g.with_account(wallet(backend)) for _ in range(3))
    keeper, stranger = g.with_account(wallet(backend)), g.with_account(wallet(backend))
    for n in (a, b, c):
        n.register(ETHER)
    keeper.fund_pool(5 * ETHER)
    nodes = [n.account.address for n in (a, b, c) if n.account is not None]

    g.goto(0, Phase.COMMIT, 5)
    keeper.open_round(0)
    ups = {n: make_update(0, seed=30 + i, node=n._me()) for i, n in enumerate((a, b, c))}
    for n, u in ups.items():
        n.commit(0, n.commitment(0, u.digest, u.base_digest, u.roi_bps, u.salt))
    g.goto(0, Phase.REVEAL, 5)
    for n, u in ups.items():
        n.reveal(*u.reveal_args())
    g.goto(0, Phase.BEACON, 5)
    a.post_beacon(0, BEACON.sign(g.beacon_round(0)))
    g.goto(0, Phase.ATTEST, 5)
    merged0 = merge_v2(
        g.round_record_v2(0), base_weights(), benchmark_for_round(0), PriorRound.genesis()
    )
    store.put(merged0.merged_weights)
    store.put(merged0.manifest)
    for n in (a, b, c):
        n.attest(0, merged0.result)
    keeper.finalize(0, merged0.result)

    start = fw.forward_start(d.reveal_end(0), 0)
    windows = {"honest": forward_window(start, seed=3), "other": forward_window(start, seed=4)}
    g.backend.set_time(fw.forward_close(d.reveal_end(0), 0, FORWARD_RULES["forward_bars"]) + 5)
    keeper.post_forward(0, windows["honest"])
    stranger.post_forward(0, windows["other"])
    stranger.post_forward(0, windows["honest"])  # the same bytes again: a repost replays too

    g.goto(1, Phase.COMMIT, 5)
    keeper.open_round(1)
    for i, n in enumerate((a, b, c)):
        n.settle(*settlement_proof(merged0.manifest, nodes[i]))
    ups1 = {
        n: make_update(1, seed=40 + i, base=merged0.merged_weights, node=n._me())
        for i, n in enumerate((a, b, c))
    }
    for n, u in ups1.items():
        vote = dg.sha256(windows["other" if n is c else "honest"])
        n.commit_with_forward(
            1, n.commitment(1, u.digest, u.base_digest, u.roi_bps, u.salt), 0, vote
        )
    g.goto(1, Phase.REVEAL, 5)
    for n in (a, b):
        n.reveal(*ups1[n].reveal_args())
    g.goto(1, Phase.ATTEST, 5)
    forward = ForwardRound(g.round_record_v2(0), base_weights(), windows["honest"])
    merged1 = merge_v2(
        g.round_record_v2(1), merged0.merged_weights, benchmark_for_round(1),
        prior_from_manifest(merged0.manifest), forward,
    )  # fmt: skip
    store.put(merged1.merged_weights)
    store.put(merged1.manifest)
    for n in (a, b, c):
        n.attest(1, merged1.result)
    keeper.finalize(1, merged1.result)
    g.goto(2, Phase.COMMIT, 5)
    return PlayedForward(g, nodes, [merged0, merged1], windows)
