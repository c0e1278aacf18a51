"""`flchain simulate`: a whole federation — chain, store, N nodes, D days — in one command.

Protocol v2 (the default, `flchain.simulate.v2`): the simulation deploys FLChainV2 with the
devnet rules, funds the reward pool, bonds and registers N deterministic devnet wallets (honest
ones holding ≥ 70 % of the stake), and for each simulated day moves chain time into the commit,
reveal, beacon and attest windows, calling `NodeRunnerV2.step()` on every node at each stop —
the very code the daemon runs — so each node settles, commits, reveals, posts the beacon,
attests, finalizes and slashes on its own. Misbehaving nodes are the same runner with a
`Behaviour` that alters one documented point; the attacks of docs/security.md are `Adversary`
objects with wallets of their own, acting before and after the nodes at every stop (see
`flchain.simulate.adversaries`). Protocol v1 (`protocol=1`) runs `NodeRunner.step()` at commit,
reveal and closed on the v1 contract.

On anvil (v2) the simulation owns the chain: its clock is frozen between the simulation's
moves, and the honest nodes of a phase step `workers` at a time (`--workers`, default 16) while
it mines what they send (`flchain.simulate.phases`); faulty nodes and adversaries then step one
after another. The result is the one-after-another run's (`--workers 1`) bit for bit: the same
salts (drawn from the seed), the same table, merged models and settlements. The progress shows
each phase's count (committed / revealed / posted the beacon / attested of N) and its ETA.

At the end it writes a run folder that is enough to audit the run afterwards:

    summary.json      configuration, roles, per-round table, per-node outcomes, timings; on v2
                      the stake split, every wallet's bond and rewards, each attack's answers
    profile.json      a DevnetProfile naming the chain, the contract and the store below
    chain.jsonl       embedded chain: journal of every signed transaction and time step
                      (`flchain.devnet.journal.replay_journal` rebuilds the chain from it)
    anvil-state.json  anvil chain: `anvil_dumpState` (start anvil with `--load-state` on it)
    events.json       every contract event, decoded, with block timestamps
    store/            local blockstore with genesis, every update, merged model and manifest
    manifests/        each round's manifest, pretty-printed for reading
    table.txt         the per-round table as printed
    plot.png          global model benchmark ROI by round, and each node's outcome per round

Modules: `config` (SimulationConfig, roles, the result models), `core` (the run, v1's loop),
`v2` (the v2 loop), `phases` (one phase stepped by many runners at once), `run_folder`, `report` (the tables), `plot`, `adversaries` (every
deliberate fault).
"""

from flchain.display import REASON_LABELS, reason_label
from flchain.simulate.config import (
    COPYCAT_CLUSTER,
    SIM_T0,
    NodeRole,
    RoundSummary,
    SimulationConfig,
    SimulationError,
    SimulationResult,
    assign_roles,
    parse_adversaries,
)
from flchain.simulate.core import run_simulation
from flchain.simulate.plot import write_plot
from flchain.simulate.report import (
    print_report,
    rejection_legend,
    report_renderables,
    round_table,
)

__all__ = [
    "COPYCAT_CLUSTER",
    "REASON_LABELS",
    "SIM_T0",
    "NodeRole",
    "RoundSummary",
    "SimulationConfig",
    "SimulationError",
    "SimulationResult",
    "assign_roles",
    "parse_adversaries",
    "print_report",
    "reason_label",
    "rejection_legend",
    "report_renderables",
    "round_table",
    "run_simulation",
    "write_plot",
]
