"""The protocol-v2 run: FLChainV2 on the devnet rules, bonded nodes running `NodeRunnerV2.step()`
— the daemon's v2 code — through commit, reveal, beacon and attest of every simulated day, and
the attacks of docs/security.md as `flchain.simulate.adversaries.Adversary`s beside them.

Stake. Every node of `--nodes` and every adversary wallet is bonded; honest nodes bond enough
that they hold at least `HONEST_SHARE_PPM` (70 %) of every round's frozen stake, adversaries the
minimum (`minBond`), so the honest federation alone reaches finality (q = ⅔) and every attack
runs with the adversary's whole stake against it. The run states the split.

At each (day, phase): chain time moves `offset` s into the phase; every adversary's `act`; every
node's `step()` (an adversary with a runner is stepped while `runs(day)`); every adversary's
`after`. After the last day the time moves into the next commit window and every wallet applies
its leaf of the last final round, so each bond and reward at the end includes every slash and
payment the run earned. Balances are read back from the chain's events.

Markets. `real` trains on the shipped BTC-USD partitions and claims on the shipped window;
`planted` on the planted-signal market (`flchain.simulate.market`: partitions of its pool, the
claim on its oldest held-out window, MEAN_ROI weights), whose bars after the claim window are on
the simulated chain clock. With `forward`, its rules score every round on the next day's bars
(docs/protocol.md §15): each node builds the window from that clocked series, posts it and
votes for it on its commit two rounds later, and the merge there ranks, weighs and pays by the
trailing record. The ranking table (`NodeRanking`) shows what each node's claims, record,
merges and weights came to.

On anvil the honest nodes' steps of a phase run `workers` at a time while the simulation mines
(`_step_runners`, `flchain.simulate.phases`), through the run's own loopback connection pool
(`lighten_owned_devnet`), their training in worker processes with `--processes` > 1
(`flchain.simulate.pool`); faulty and adversary runners step after them, one after another.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flchain.devnet.anvil import AnvilControl
from flchain.devnet.federation import (
    FUNDING_WEI,
    Genesis,
    deploy_v2,
    deterministic_account,
    devnet_rules_v2,
    devnet_schedule_v2,
    fund_and_register_v2,
    fund_pool_v2,
)
from flchain.ledger import Backend, LedgerV2, RpcBackend
from flchain.ledger.backends import lighten_owned_devnet
from flchain.ledger.events import ChainEvent
from flchain.ledger.events_v2 import (
    BondAdded,
    Committed,
    Registered,
    Slashed,
    Withdrawn,
)
from flchain.ledger.sending import TxPolicy
from flchain.merge.reasons import Reason
from flchain.model import config_from_metadata
from flchain.node.behaviour import HONEST, Behaviour
from flchain.node.context import bars_source
from flchain.node.errors import NotRegistered
from flchain.node.runner_v2 import NodeRunnerV2, StepReportV2
from flchain.node.update import claim_roi_bps
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.machine import PPM, Phase, RevealOutcome
from flchain.replay.v2 import ReplayResultV2, cid_text, get_benchmark_v2, replay_round_v2
from flchain.simulate.adversaries import (
    V2_ADVERSARIES,
    Adversary,
    AttackContext,
    behaviour_for,
    settle_all,
    top_up,
)
from flchain.simulate.config import (
    HONEST_SHARE_PPM,
    SIM_T0,
    AdversaryReport,
    NodeBalance,
    NodeRanking,
    NodeRole,
    RoundSummary,
    SimulationConfig,
    SimulationResult,
    StakeSplit,
)
from flchain.simulate.market import planted_sim_market
from flchain.simulate.phases import (
    CONCURRENT_POLL_S,
    PhaseProgress,
    PhaseTracker,
    SeededSalts,
    SharedBeaconSource,
    SharedMemo,
    anvil_control,
    step_phase,
)
from flchain.simulate.pool import PooledHonest, UpdatePool, pool_workers
from flchain.storage import ContentStore
from flchain.storage.weights import decode_weights

__all__ = ["PHASES_V2", "honest_bond", "run_v2", "summarise_round_v2"]

#: The phases a simulated day stops at, in order.
PHASES_V2 = (Phase.COMMIT, Phase.REVEAL, Phase.BEACON, Phase.ATTEST)
#: Connections to the run's anvil beyond one per worker thread: the main thread's, the miner's.
OWN_CONNECTIONS = 2
#: Honest bonds are whole multiples of this (0.1 ETH), rounded up.
BOND_STEP_WEI = 10**17

_ON_CHAIN = {
    RevealOutcome.REJECTED_ABNORMAL_ROI: Reason.REJECTED_ON_CHAIN_ABNORMAL_ROI.value,
    RevealOutcome.REJECTED_INELIGIBLE: Reason.REJECTED_ON_CHAIN_INELIGIBLE.value,
    RevealOutcome.REJECTED_STALE_BASE: Reason.REJECTED_ON_CHAIN_STALE_BASE.value,
}


def honest_bond(n_honest: int, adversarial_wei: int, min_bond: int) -> int:
    """The bond each of `n_honest` nodes posts so that they hold ≥ `HONEST_SHARE_PPM` of the
    stake against `adversarial_wei`: h ≥ s/(1 − s) · a, rounded up to `BOND_STEP_WEI`."""
    need = -(-adversarial_wei * HONEST_SHARE_PPM // ((PPM - HONEST_SHARE_PPM) * max(1, n_honest)))
    return max(min_bond, -(-need // BOND_STEP_WEI) * BOND_STEP_WEI)


@dataclass(frozen=True)
class _Pace:
    """How the runners of a phase step: `workers` at a time on `control`'s anvil (mined by the
    simulation, its clock frozen), else one after another."""

    control: AnvilControl | None
    workers: int


def _pace(config: SimulationConfig, backend: Backend) -> _Pace:
    control = anvil_control(backend)
    if control is None:  # the embedded chain is one in-process EVM: nothing to overlap
        return _Pace(None, 1)
    control.freeze_time()  # time moves only with `goto`: a slow phase never loses its window
    if isinstance(backend, RpcBackend):  # the run's own anvil (`core._environment`)
        lighten_owned_devnet(backend, connections=config.workers + OWN_CONNECTIONS)
    return _Pace(control, config.workers)


@dataclass
class _Federation:
    gov: LedgerV2
    genesis: Genesis
    roles: list[NodeRole]
    runners: list[tuple[NodeRunnerV2, Adversary | None]]
    adversaries: list[Adversary]
    ctx: AttackContext
    stake: StakeSplit
    faulty: list[NodeRunnerV2]  # the runners of --nodes with a fault
    pace: _Pace


@contextmanager
def _update_pool(config: SimulationConfig) -> Iterator[UpdatePool | None]:
    """The worker processes the honest nodes train in (`pool_workers`), open for the whole run."""
    workers = pool_workers(config)
    if not workers:
        yield None
        return
    with UpdatePool(workers) as pool:
        yield pool


def _set_up(
    config: SimulationConfig,
    roles_spec: list[tuple[str, LocalAccount, str]],
    backend: Backend,
    store: ContentStore,
    pool: UpdatePool | None = None,
) -> _Federation:
    """Deploy, fund the pool for every day, bond every node and adversary wallet, build the
    runners (one memo of the pure merge shared by all: each still replays from the chain; the
    honest ones train in `pool`'s processes when there is one)."""
    seed = config.seed
    beacon = DevnetBeacon(f"flchain/simulate/beacon/{seed}".encode())
    bars_for = bars_source(f"partition:{seed}", config.max_bars)
    market_bars = None
    rules = None
    if config.market == "planted":
        windows = devnet_schedule_v2(86_400)
        reveal_end_0 = SIM_T0 + windows["commit_window"] + windows["reveal_window"]
        planted = planted_sim_market(seed, reveal_end_0, config.max_bars)
        store.pin(store.put(planted.claim_file.data))  # nodes and auditors fetch it by CID
        rules = planted.rules(devnet_rules_v2(), config.forward)
        bars_for = planted.bars_for
        market_bars = planted.market.bars_of if config.forward else None
    pace = _pace(config, backend)
    gov, genesis = deploy_v2(
        backend, deterministic_account("deployer", seed), store, beacon, t0=SIM_T0, rules=rules
    )
    if pace.workers > 1:  # the miner mines at once: the policy's 0.5 s poll would be most
        gov = LedgerV2(gov.binding, gov.signer, TxPolicy(poll_s=CONCURRENT_POLL_S))
    fund_pool_v2(gov, config.days)
    min_bond = gov.deployment().min_bond
    adversaries: list[Adversary] = []
    for kind in config.wallet_adversaries:
        cls = V2_ADVERSARIES[kind]
        wallets = [deterministic_account(f"{kind}-{i:02d}", seed) for i in range(cls.wallet_count)]
        adversaries.append(cls(wallets))
    honest = [acct for _, acct, kind in roles_spec if kind == "honest"]
    n_faulty = sum(1 for _, _, kind in roles_spec if kind != "honest")
    adversarial = min_bond * (n_faulty + sum(len(a.wallets) for a in adversaries))
    bond = honest_bond(len(honest), adversarial, min_bond)
    fund_and_register_v2(gov, [a for _, a, _ in roles_spec], [
        bond if kind == "honest" else min_bond for _, _, kind in roles_spec
    ])  # fmt: skip
    for adv in adversaries:
        if adv.registered:
            fund_and_register_v2(gov, adv.wallets, min_bond)
        else:  # they register themselves, when the attack calls for it
            for w in adv.wallets:
                backend.fund(w.address, FUNDING_WEI + min_bond)
    memo = SharedMemo()  # shared by the threads of a concurrent phase, too
    source = SharedBeaconSource(beacon)
    salt_seed = f"flchain/simulate/salts/{seed}".encode()
    leader = next((a.address for _, a, k in roles_spec if k == "copycat"), None)
    honest_behaviour = HONEST if pool is None else PooledHonest(pool)

    def runner(account: LocalAccount, behaviour: Behaviour) -> NodeRunnerV2:
        return NodeRunnerV2(
            gov, account, store, bars_for, salts=SeededSalts(salt_seed, account.address),
            beacon=source, behaviour=behaviour, merge_memo=memo, market_bars=market_bars,
        )  # fmt: skip

    runners: list[tuple[NodeRunnerV2, Adversary | None]] = [
        (runner(acct, honest_behaviour if kind == "honest" else behaviour_for(kind, leader)), None)
        for _, acct, kind in roles_spec
    ]
    roles = [NodeRole(name=n, address=a.address, behaviour=k) for n, a, k in roles_spec]
    for adv in adversaries:
        behaviour = adv.behaviour
        if behaviour is not None:
            adv.runner = runner(adv.wallets[0], behaviour)
            runners.append((adv.runner, adv))
        roles += [
            NodeRole(name=f"{adv.kind}-{i:02d}", address=w.address, behaviour=adv.kind)
            for i, w in enumerate(adv.wallets)
        ]
    replays: dict[int, ReplayResultV2] = {}

    def replay(round: int) -> ReplayResultV2:
        if round not in replays:
            replays[round] = replay_round_v2(gov, store, round, memo=memo)
        return replays[round]

    stake = StakeSplit(
        honest=bond * len(honest), adversarial=adversarial, honest_bond=bond, min_honest_ppm=0
    )
    ctx = AttackContext(gov=gov, store=store, replay=replay)
    faulty = [
        r for (r, _), (_, _, kind) in zip(runners, roles_spec, strict=False) if kind != "honest"
    ]
    return _Federation(gov, genesis, roles, runners, adversaries, ctx, stake, faulty, pace)


# ------------------------------------------------------------------------------ per round


def summarise_round_v2(
    fed: _Federation, store: ContentStore, round: int, honest: set[str]
) -> tuple[RoundSummary, dict[str, str], dict[str, Any] | None]:
    """The table row, each role's outcome and the decisions of `round`, from the chain and the
    honest merge (the one the federation finalized, when it is final)."""
    gov = fed.gov
    record = gov.round_record_v2(round)
    view = gov.round_view(round)
    final = view.final_result != bytes(32)
    replay = fed.ctx.replay(round) if record.reveals or final else None
    decisions = {} if replay is None else {d.node.lower(): d for d in replay.result.decisions}
    committed = {e.node.lower() for e in gov.events(Committed, round)}
    reveals = {r.node.lower(): r for r in record.reveals}
    outcomes: dict[str, str] = {}
    for role in fed.roles:
        a = role.address.lower()
        if a not in committed:
            outcomes[role.address] = "no_commit"
        elif a not in reveals:
            outcomes[role.address] = "no_reveal"
        elif reveals[a].outcome != RevealOutcome.ACCEPTED:
            outcomes[role.address] = _ON_CHAIN[reveals[a].outcome]
        else:
            d = decisions.get(a)
            outcomes[role.address] = "not_merged" if d is None else str(d.reason.value)
    counted = Counter(o for o in outcomes.values() if o not in ("accepted", "no_commit"))
    results = {a.result_hash for a in record.attestations}
    global_roi: int | None = None
    doc: dict[str, Any] | None = None
    if final and replay is not None and replay.result.result_hash == view.final_result:
        merged = replay.result.merged_weights
        cfg = config_from_metadata(decode_weights(merged)[1])
        global_roi = claim_roi_bps(
            merged, cfg, get_benchmark_v2(record.rules, round, store), record.rules
        )
        doc = json.loads(replay.result.manifest)
    # read while `round` is in progress: stake_of is exact for the current round
    honest_stake = sum(gov.stake_of(n, round) for n in honest)
    total = view.total_stake
    clusters = [len(c) for c in (doc or {}).get("clusters", []) if len(c) > 1]
    row = RoundSummary(
        round=round,
        commits=len(committed),
        reveals=len(record.reveals),
        accepted=sum(1 for o in outcomes.values() if o == "accepted"),
        rejected=dict(sorted(counted.items())),
        clusters=clusters,
        directives=len(replay.result.directives) if replay is not None and final else 0,
        directives_in_force=len((doc or {}).get("directives_in_force", [])),
        attestations=len(record.attestations),
        conflicting_results=max(0, len(results) - 1),
        finalized=final,
        global_roi_bps=global_roi,
        manifest_cid=replay.result.manifest_cid if doc is not None and replay else None,
        penalised=list(replay.result.penalised) if doc is not None and replay else [],
        finality="final" if final else "skipped",
        honest_stake_ppm=honest_stake * PPM // total if total else None,
    )
    return row, outcomes, doc


# ------------------------------------------------------------------------------ the run


def _step_all(
    fed: _Federation, day: int, phase: Phase, progress: Callable[[PhaseProgress], None]
) -> None:
    for adversary in fed.adversaries:
        adversary.act(fed.ctx, day, phase)
    if phase == Phase.COMMIT:  # the faulty nodes of --nodes pay to keep cheating, too
        for runner in fed.faulty:
            top_up(runner.ledger)
    _step_runners(fed, day, phase, progress)
    for adversary in fed.adversaries:
        adversary.after(fed.ctx, day, phase)
        if phase == Phase.ATTEST:
            adversary.note_verdicts(fed.ctx, day)


def _step_runners(
    fed: _Federation,
    day: int,
    phase: Phase,
    progress: Callable[[PhaseProgress], None] | None,
    action: Callable[[NodeRunnerV2], StepReportV2] | None = None,
) -> None:
    """Step every runner that plays (`day`, `phase`) through `action` (default: `step()`; the
    closing settlement: every runner). With workers > 1 the honest nodes of `--nodes` step at
    once while the simulation mines (`flchain.simulate.phases.step_phase`), then every runner
    with a fault or of an adversary steps alone, in order: a fault may read what the others
    just sent, as it does in the one-after-another run."""
    playing = [r for r, owner in fed.runners if action or owner is None or owner.runs(day, phase)]
    cheats = {id(r) for r in fed.faulty} | {id(r) for r, owner in fed.runners if owner}
    together = [r for r in playing if id(r) not in cheats] if fed.pace.workers > 1 else playing
    alone = [r for r in playing if id(r) in cheats] if fed.pace.workers > 1 else []

    def step(runner: NodeRunnerV2) -> StepReportV2:
        try:
            return runner.step()
        except NotRegistered:  # withdrew: nothing left to step
            return StepReportV2(day, phase)

    pace, tracker = fed.pace, PhaseTracker(day, phase, len(playing), progress)
    for group, workers in ((together, pace.workers), (alone, 1)):
        if group:
            step_phase(
                day, phase, group, step=action or step, control=pace.control, workers=workers,
                tracker=tracker,
            )  # fmt: skip


def _phase_bar(bar: Progress) -> Callable[[PhaseProgress], None]:
    """A row of `bar` that follows the steps of the current phase: acted of N, and the ETA."""
    task = bar.add_task("", total=None, eta="")

    def show(p: PhaseProgress) -> None:
        bar.update(
            task,
            description=f"  {p.acted} {p.action} of {p.total}",
            completed=p.stepped,
            total=p.total,
            eta="" if p.eta_s is None else f"ETA {p.eta_s:.0f} s",
        )

    return show


def _close(fed: _Federation, days: int) -> None:
    """Into the next commit window: every wallet applies its leaf of the last final round."""
    fed.gov.goto(days, Phase.COMMIT)

    def settle(runner: NodeRunnerV2) -> StepReportV2:
        report = StepReportV2(days, Phase.COMMIT)
        runner.run_action("settle", report, lambda: runner.ensure_settled(report))
        # the run's end: every node collects what it earned, whatever its schedule
        runner.run_action(
            "collect", report, lambda: runner.ensure_collected(days, report, force=True)
        )
        return report

    _step_runners(fed, days, Phase.COMMIT, None, settle)
    wallets = [
        w
        for adv in fed.adversaries
        for w in adv.wallets
        if adv.runner is None or w is not adv.wallets[0]
    ]
    for _ in settle_all(fed.ctx, [fed.ctx.ledger(w) for w in wallets]):
        pass


def read_balances(gov: LedgerV2, roles: Sequence[NodeRole]) -> list[NodeBalance]:
    """Each role's bond, top-ups, slashes and withdrawal, from the chain's events, and its
    rewards from its settled node record (cumEarned: what it can collect or collected)."""
    by = {r.address.lower(): r for r in roles}
    totals: dict[str, Counter[str]] = {a: Counter() for a in by}
    for e in gov.events(Registered):
        if e.node.lower() in totals:
            totals[e.node.lower()]["start"] += e.bond
    moves: tuple[tuple[type[ChainEvent], str, str], ...] = (
        (BondAdded, "added", "amount"),
        (Slashed, "slashed", "amount"),
        (Withdrawn, "withdrawn", "amount"),
    )
    for kind, column, amount in moves:
        for event in gov.events(kind):
            node = str(event.abi_args()["node"]).lower()
            if node in totals:
                totals[node][column] += int(getattr(event, amount))
    views = {a: gov.node_view(r.address) for a, r in by.items()}
    return [
        NodeBalance(
            name=r.name,
            address=r.address,
            behaviour=r.behaviour,
            bond_start=totals[a]["start"],
            bond_end=views[a].bond,
            added=totals[a]["added"],
            earned=views[a].cum_earned,
            slashed=totals[a]["slashed"],
            withdrawn=totals[a]["withdrawn"],
        )
        for a, r in by.items()
    ]


def adversary_reports(
    adversaries: Sequence[Adversary], balances: Sequence[NodeBalance]
) -> list[AdversaryReport]:
    by = {b.address.lower(): b for b in balances}
    reports = []
    for adv in adversaries:
        mine = [by[w.address.lower()] for w in adv.wallets if w.address.lower() in by]
        reports.append(
            AdversaryReport(
                kind=adv.kind,
                wallets=len(adv.wallets),
                tried=adv.tried,
                rule=adv.rule,
                answers=dict(Counter(a.answer for a in adv.attempts)),
                slashed=sum(b.slashed for b in mine),
                earned=sum(b.earned for b in mine),
            )
        )
    return reports


def ranking(
    gov: LedgerV2,
    roles: Sequence[NodeRole],
    manifests: dict[int, dict[str, Any]],
    balances: Sequence[NodeBalance],
    days: int,
) -> list[NodeRanking]:
    """Each role's claims (from the chain's reveals), its forward record in the last final
    manifest, the final rounds it was merged in and its summed merge weight, and its rewards."""
    claims: dict[str, list[int]] = {r.address.lower(): [] for r in roles}
    for day in range(days):
        for reveal in gov.round_record_v2(day).reveals:
            claims.setdefault(reveal.node.lower(), []).append(reveal.roi_bps)
    merged: Counter[str] = Counter()
    weight: Counter[str] = Counter()
    for doc in manifests.values():
        for w in doc.get("weights", []):
            merged[w["node"].lower()] += 1
            weight[w["node"].lower()] += int(w["share_ppm"])
    last = manifests[max(manifests)] if manifests else {}
    records = {
        r["node"].lower(): r for r in (last.get("forward") or {}).get("records", [])
    }  # fmt: skip
    forward_on = "forward" in last
    earned = {b.address.lower(): b.earned for b in balances}
    rows = []
    for role in roles:
        a = role.address.lower()
        mine = claims.get(a, [])
        record = records.get(a)
        rows.append(
            NodeRanking(
                name=role.name,
                address=role.address,
                behaviour=role.behaviour,
                mean_claim_bps=sum(mine) // len(mine) if mine else None,
                record_score_bps=(
                    (int(record["score_bps"]) if record else 0) if forward_on else None
                ),
                scored_rounds=int(record["scored"]) if record else 0,
                merged_rounds=merged[a],
                weight_ppm=weight[a],
                earned=earned.get(a, 0),
            )
        )
    return rows


def run_v2(
    config: SimulationConfig,
    roles_spec: list[tuple[str, LocalAccount, str]],
    backend: Backend,
    store: ContentStore,
    console: Console,
    show_progress: bool,
    started: float,
    run_dir: Path,
) -> tuple[SimulationResult, _Federation, dict[int, dict[str, Any]]]:
    """Play the federation; the result (without the run folder, which the caller writes)."""
    with _update_pool(config) as pool:
        fed = _set_up(config, roles_spec, backend, store, pool)
        honest = {r.address for r in fed.roles if r.behaviour == "honest"}
        rows: list[RoundSummary] = []
        outcomes: dict[str, list[str]] = {r.address: [] for r in fed.roles}
        manifests: dict[int, dict[str, Any]] = {}
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=console,
            disable=not show_progress,
            transient=False,
        ) as bar:
            task = bar.add_task("simulating", total=config.days * len(PHASES_V2), eta="")
            show_phase = _phase_bar(bar)
            for day in range(config.days):
                for phase in PHASES_V2:
                    fed.gov.goto(day, phase)
                    bar.update(task, description=f"day {day} {phase.name.lower():6s}")
                    _step_all(fed, day, phase, show_phase)
                    if pool is not None:
                        pool.check()
                    bar.advance(task)
                row, per_node, manifest = summarise_round_v2(fed, store, day, honest)
                rows.append(row)
                if manifest is not None:
                    manifests[day] = manifest
                for address, outcome in per_node.items():
                    outcomes[address].append(outcome)
        _close(fed, config.days)
    shares = [r.honest_stake_ppm for r in rows if r.honest_stake_ppm is not None]
    fed.stake = fed.stake.model_copy(update={"min_honest_ppm": min(shares, default=PPM)})
    balances = read_balances(fed.gov, fed.roles)
    genesis_roi = _genesis_roi(fed, store)
    result = SimulationResult(
        config=config,
        run_dir=run_dir,
        contract=fed.gov.address,
        chain_id=fed.gov.chain_id,
        roles=fed.roles,
        rounds=rows,
        outcomes=outcomes,
        genesis_roi_bps=genesis_roi,
        wall_seconds=round(time.perf_counter() - started, 3),
        protocol=2,
        stake=fed.stake,
        balances=balances,
        adversary_reports=adversary_reports(fed.adversaries, balances),
        ranking=(
            ranking(fed.gov, fed.roles, manifests, balances, config.days)
            if config.market == "planted"
            else []
        ),
    )
    return result, fed, manifests


def _genesis_roi(fed: _Federation, store: ContentStore) -> int:
    rules = fed.gov.rules_for_round(0)
    payload = store.get(cid_text(fed.gov.deployment().genesis_cid))
    cfg = config_from_metadata(decode_weights(payload)[1])
    return claim_roi_bps(payload, cfg, get_benchmark_v2(rules, 0, store), rules)
