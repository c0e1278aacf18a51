"""`flchain chain …`: make a genesis model, deploy FLChain, govern its rules, look at it.

Every command reads the usual settings (flags > environment > config file > devnet profile):
`rpc_url`, `chain_id`, `contract`, `deployment_block`, `wallet`, `password_env`, and for
`genesis` the content store. Commands that send check every argument first, then the wallet's
address and balance (no password needed), and unlock the keystore last; nothing is sent when a
check fails. The embedded chain lives inside one process, so these commands need a JSON-RPC
endpoint (anvil, hardhat node, any URL).

Rule versions follow the v1 contract: `scheduleRules` (a version for a future round; scheduling
the round of the latest pending version replaces it), `rulesVersionCount`, `rulesVersion`.
Cancelling a pending version and a two-step governor hand-over come with protocol v2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flchain.cli import _common as common
from flchain.cli.config import (
    ConfigFileOption,
    ContractOption,
    JsonOption,
    OptionGroup,
    RpcOption,
    WalletOption,
    with_options,
)
from flchain.cli.config import settings_from_options as _settings
from flchain.cli.store import STORE_OPTIONS, open_settings_store
from flchain.config import LoadedSettings
from flchain.errors import ConfigError
from flchain.ledger import Ledger

app = typer.Typer(help="The FLChain contract on a JSON-RPC chain.", no_args_is_help=True)
rules_app = typer.Typer(
    help="Rule versions: list, export to a file, schedule a change.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")

#: What the commands that read the contract take.
READ_OPTIONS: OptionGroup = {
    "rpc_url": (RpcOption, None),
    "contract": (ContractOption, None),
    "config_file": (ConfigFileOption, None),
}
#: What the governor's commands take (and `SEND_OPTIONS`).
GOVERN_OPTIONS: OptionGroup = {**READ_OPTIONS, "wallet": (WalletOption, None)}

RoundOption = Annotated[
    int | None, typer.Option("--round", min=0, help="Round to show (default: the current one).")
]
RulesFileOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Federation file (TOML: [deployment] and [rules]; see docs/deploy.md).",
        show_default=False,
    ),
]


# ------------------------------------------------------------------------------- genesis


@app.command()
@with_options(STORE_OPTIONS)
def genesis(
    seed: Annotated[int, typer.Option("--seed", min=0, help="Initial weights' seed.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the model (safetensors) here.")
    ] = None,
    **flags: Any,
) -> None:
    """Make a genesis model, add it (pinned) to the content store; print its digest and CID."""
    from flchain.devnet.federation import genesis_model
    from flchain.storage import IpfsClient, LocalStore

    store = open_settings_store(create=True, **flags)
    model = genesis_model(seed)
    if out is not None:
        out.write_bytes(model.payload)
    cid = store.put(model.payload)
    if cid != model.cid:  # the store computes CIDs itself: a disagreement is a broken store
        from flchain.storage.errors import StorageError

        raise StorageError(
            f"the content store returned CID {cid} for the genesis, expected {model.cid}"
        )
    store.pin(cid)
    typer.echo(f'genesis_digest = "{model.digest}"')
    typer.echo(f'genesis_cid = "{model.cid}"')
    where = (
        f"IPFS at {store.url}"
        if isinstance(store, IpfsClient)
        else f"the store {store.root}"
        if isinstance(store, LocalStore)
        else str(store)
    )
    also = f" (also written to {out})" if out else ""
    typer.echo(f"# {len(model.payload)} bytes, seed {seed}, pinned in {where}{also}")


# ------------------------------------------------------------------------------- deploy


@app.command()
@with_options(common.SEND_OPTIONS)
def deploy(
    rules_file: RulesFileOption = None,
    genesis_digest: Annotated[
        str | None, typer.Option(help="sha256 of the genesis model (0x…).", show_default=False)
    ] = None,
    genesis_cid: Annotated[
        str | None, typer.Option(help="CIDv1 of the genesis model.", show_default=False)
    ] = None,
    t0: Annotated[
        str | None,
        typer.Option(help="Genesis time: unix s or 2026-12-01T00:00:00Z (default: next minute)."),
    ] = None,
    round_length: Annotated[int | None, typer.Option(help="Seconds per round.")] = None,
    commit_window: Annotated[int | None, typer.Option(help="Seconds.")] = None,
    reveal_window: Annotated[int | None, typer.Option(help="Seconds.")] = None,
    min_bond: Annotated[int | None, typer.Option(help="wei")] = None,
    exit_delay: Annotated[int | None, typer.Option(help="seconds")] = None,
    quorum: Annotated[int | None, typer.Option(help="Rules: attesters to finalize.")] = None,
    rpc_url: RpcOption = None,
    wallet: WalletOption = None,
    config_file: ConfigFileOption = None,
    **tx_flags: Any,
) -> None:
    """Deploy FLChain with the schedule and rules of a federation file; the wallet governs it.

    Flags override the file's [deployment] values (and --quorum its [rules] quorum); every field
    is checked before anything is sent.
    """
    from flchain.ledger import DeployConfig
    from flchain.rules_file import (
        RulesFileError,
        check_t0,
        format_utc,
        load_federation_file,
        validate_federation,
    )

    loaded = _settings(config_file, rpc_url=rpc_url, wallet=wallet, **tx_flags)
    loaded.require("rpc_url", "wallet")
    where = str(rules_file) if rules_file else "chain deploy"
    fed = load_federation_file(rules_file) if rules_file else None
    values: dict[str, Any] = dict(fed.deployment if fed else {})
    flags = {
        "t0": _int_or_text(t0), "round_length": round_length, "commit_window": commit_window,
        "reveal_window": reveal_window, "min_bond": min_bond, "exit_delay": exit_delay,
        "genesis_digest": genesis_digest, "genesis_cid": genesis_cid,
    }  # fmt: skip
    values.update({k: v for k, v in flags.items() if v is not None})
    raw_rules = dict(fed.rules if fed else {})
    if quorum is not None:
        raw_rules["quorum"] = quorum
    try:
        spec, rules = validate_federation(values, raw_rules, where=where)
    except RulesFileError as exc:  # name the flag where a value came from one
        given = {k for k, v in flags.items() if v is not None} | ({"quorum"} if quorum else set())
        raise RulesFileError(where, [_flag_label(p, given) for p in exc.problems]) from None
    info = common.wallet_info(loaded)
    chain = common.backend(loaded.settings)
    now = chain.latest_timestamp()
    start = spec.t0 if spec.t0 is not None else (now // 60 + 1) * 60
    check_t0(start, now, where=where)
    cfg = DeployConfig(
        t0=start, round_length=spec.round_length, commit_window=spec.commit_window,
        reveal_window=spec.reveal_window, min_bond=spec.min_bond, exit_delay=spec.exit_delay,
        genesis_digest=spec.genesis_digest or "", genesis_cid=spec.genesis_cid or "", rules=rules,
    )  # fmt: skip
    common.check_funds(
        chain, info, _constructor(chain, cfg), action="`flchain chain deploy`",
        settings=loaded.settings,
    )  # fmt: skip
    account = common.unlock(loaded)
    ledger = Ledger.deploy(chain, account, cfg, loaded.settings.tx_policy())
    typer.echo(f"contract  {ledger.address} (chain {ledger.chain_id}, block {ledger.from_block})")
    typer.echo(f"governor  {account.address} ({info.name})")
    typer.echo(
        f"rounds    t0 {cfg.t0} ({format_utc(cfg.t0)}), {cfg.round_length} s each: commit "
        f"{cfg.commit_window} s, reveal {cfg.reveal_window} s"
    )
    typer.echo(f"rules     version 0: {_rules_summary(rules)}")
    typer.echo("settings  for flchain.toml:")
    typer.echo(f'  contract = "{ledger.address}"')
    typer.echo(f"  deployment_block = {ledger.from_block}")


def _constructor(chain: Any, cfg: Any) -> Any:
    """The deployment call `Ledger.deploy` sends (for its gas estimate)."""
    from flchain.hashing import hex_to_bytes32
    from flchain.ledger import cid_to_bytes, load_artifact
    from flchain.protocol import rules_to_tuple

    artifact = load_artifact()
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    return factory.constructor(
        cfg.t0, cfg.round_length, cfg.commit_window, cfg.reveal_window, cfg.min_bond,
        cfg.exit_delay, hex_to_bytes32(cfg.genesis_digest), cid_to_bytes(cfg.genesis_cid),
        rules_to_tuple(cfg.rules, 0),
    )  # fmt: skip


def _flag_label(problem: str, flags: set[str]) -> str:
    """`[deployment] min_bond = …` as `--min-bond = …` when the value came from that flag."""
    for table in ("deployment", "rules"):
        for name in flags:
            label = f"[{table}] {name} "
            if label in problem:
                return problem.replace(label, f"--{name.replace('_', '-')} ")
    return problem


def _int_or_text(value: str | None) -> int | str | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _rules_summary(rules: Any) -> str:
    return (
        f"quorum {rules.quorum}, ROI band [{rules.roi_min_bps}, {rules.roi_max_bps}] bps, "
        f"probation {rules.probation_rounds}, eligibility ≥ {rules.eligibility_min_score_bps} bps, "
        f"{rules.aggregation.name.lower()}"
    )


# ------------------------------------------------------------------------------- reading


def _read_ledger(**flags: Any) -> Ledger:
    """The contract the settings and `READ_OPTIONS` name (read-only)."""
    loaded = _settings(**flags)
    loaded.require("rpc_url", "contract")
    return common.ledger(loaded)


def _when(doc: dict[str, Any]) -> str:
    return f"{doc['unix']} ({doc['utc']})"


def _short(text: str, head: int = 10) -> str:
    return text if len(text) <= head + 6 else f"{text[:head]}…{text[-4:]}"


@app.command()
@with_options(READ_OPTIONS)
def info(round: RoundOption = None, as_json: JsonOption = False, **flags: Any) -> None:
    """The contract: schedule (unix and UTC), governor, rule versions, nodes, and one round's
    rules, times, finalized model and attestations."""
    from flchain.node.status import chain_overview

    ledger = _read_ledger(**flags)
    doc = chain_overview(ledger, round)  # everything read before anything is printed
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    s, now, r = doc["schedule"], doc["now"], doc["round"]
    lines = [
        f"contract   {doc['contract']} on chain {doc['chain_id']} (events read from block "
        f"{doc['deployment_block']})",
        f"governor   {doc['governor']}",
        f"now        {_when(now)}: round {now['round']}, phase {now['phase'].lower()}",
        f"schedule   t0 {_when(s['t0'])}; rounds of {s['round_length_s']} s: commit "
        f"{s['commit_window_s']} s, reveal {s['reveal_window_s']} s",
        f"bond       min {s['min_bond_wei']} wei; exit delay {s['exit_delay_s']} s",
        f"genesis    {doc['genesis']['cid']} {doc['genesis']['digest']}",
        f"round {r['round']}    start {_when(r['start'])}",
        f"           commit until {_when(r['commit_end'])}",
        f"           reveal until {_when(r['reveal_end'])}",
        f"rules of round {r['round']}:",
        *(f"  {k:<26} {v}" for k, v in r["rules"].items()),
    ]
    final = r["finalized"]
    lines.append(f"finalized  {final['cid'] + ' ' + final['digest'] if final else 'no'}")
    lines += _attestation_lines(r["attestations"])
    versions = doc["rule_versions"]
    lines.append(f"rule versions ({len(versions)}):")
    lines += [f"  v{v['version']} from round {v['effective_round']}" for v in versions]
    lines.append(f"nodes ({len(doc['nodes'])}):")
    lines += _node_lines(doc["nodes"])
    g = doc["latest_global"]
    lines.append(f"latest     round {g['round']}: {g['cid']}")
    typer.echo("\n".join(lines))


def _attestation_lines(items: list[dict[str, Any]]) -> list[str]:
    if not items:
        return ["attestations: none"]
    lines = [f"attestations ({len(items)}):"]
    for a in items:
        mark = "final" if a["finalized"] else "other"
        lines.append(
            f"  {a['attester']}  {mark}  result {_short(a['result_hash'])}  vote {a['votes']}  "
            f"merged {_short(a['merged_cid'], 16)}  penalised {len(a['penalised'])}  block "
            f"{a['block']}"
        )
    return lines


def _node_lines(items: list[dict[str, Any]]) -> list[str]:
    lines = []
    for n in items:
        extra = ""
        if n["withdrawable_at"] and n["status"] == "EXITING":
            extra = f"  withdrawable {n['withdrawable_at']['utc']}"
        last = "-" if n["last_attested_round"] is None else n["last_attested_round"]
        lines.append(
            f"  #{n['index']:<3} {n['node']}  {n['status']:<9} bond {n['bond_wei']} wei  "
            f"accepted {n['accepted_reveals']}  penalties {n['penalties']}  ROI sum "
            f"{n['roi_sum_bps']} bps  last attested {last}{extra}"
        )
    return lines or ["  (none)"]


@app.command("nodes")
@with_options(READ_OPTIONS)
def nodes_(as_json: JsonOption = False, **flags: Any) -> None:
    """Every node that registered, with its status, bond and on-chain record."""
    from flchain.node.status import nodes

    ledger = _read_ledger(**flags)
    items = nodes(ledger)
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    typer.echo(f"{len(items)} node(s) of {ledger.address}:")
    typer.echo("\n".join(_node_lines(items)))


@app.command("attestations")
@with_options(READ_OPTIONS)
def attestations_(
    round: Annotated[int, typer.Option("--round", min=0, help="Round whose attestations to list.")],
    as_json: JsonOption = False,
    **flags: Any,
) -> None:
    """The attestations of a round: who attested which result, which one finalized."""
    from flchain.node.status import attestations

    ledger = _read_ledger(**flags)
    items = attestations(ledger, round)
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    final = ledger.finalized(round)
    typer.echo(f"round {round}: {'finalized ' + final.cid if final else 'not finalized'}")
    typer.echo("\n".join(_attestation_lines(items)))


# ------------------------------------------------------------------------------- governance


def _governor_ledger(**flags: Any) -> tuple[LoadedSettings, Ledger, Any]:
    """Settings, the contract (read-only) and the wallet, refusing a wallet that is not the
    governor before anything is unlocked or sent."""
    from flchain.cli.errors import NotGovernor

    loaded = _settings(**flags)
    loaded.require("rpc_url", "contract", "wallet")
    info = common.wallet_info(loaded)
    ledger = common.ledger(loaded)
    governor = ledger.governor()
    if governor.lower() != info.address.lower():
        raise NotGovernor(
            f"wallet {info.name} ({info.address}) is not the governor of {ledger.address}: "
            f"the governor is {governor}; pass --wallet with the governor's wallet"
        )
    return loaded, ledger, info


@rules_app.command("list")
@with_options(READ_OPTIONS)
def rules_list(as_json: JsonOption = False, **flags: Any) -> None:
    """Every rules version: the round it takes effect from and what it changed."""
    from flchain.node.status import rule_versions, rules_doc

    ledger = _read_ledger(**flags)
    versions = rule_versions(ledger)
    current = ledger.current_round()
    if as_json:
        listed = [
            {"version": v, "effective_round": e, "rules": rules_doc(r)} for v, e, r in versions
        ]
        typer.echo(json.dumps(listed, indent=2))
        return
    in_force = max((e, v) for v, e, _ in versions if e <= current)[1]
    previous: dict[str, Any] | None = None
    for version, effective, rules in versions:
        state = "pending" if effective > current else "in force" if version == in_force else "past"
        typer.echo(f"v{version}  from round {effective}  ({state})")
        doc = rules_doc(rules)
        for key, value in doc.items():
            if previous is None or previous[key] != value:
                was = "" if previous is None else f"   (was {previous[key]})"
                typer.echo(f"  {key:<26} {value}{was}")
        previous = doc
    typer.echo(
        "note: protocol v1 cannot cancel a pending version; schedule the same round again to "
        "replace it (cancel comes with protocol v2)"
    )


@rules_app.command("export")
@with_options(READ_OPTIONS)
def rules_export(round: RoundOption = None, **flags: Any) -> None:
    """Print the rules of a round (default: the current one) as a federation file to edit."""
    from flchain.rules_file import render_federation_file

    ledger = _read_ledger(**flags)
    shown = ledger.current_round() if round is None else round
    typer.echo(f"# rules of round {shown} of {ledger.address} on chain {ledger.chain_id}")
    typer.echo(render_federation_file(None, ledger.rules_for_round(shown)), nl=False)


@rules_app.command("schedule")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def rules_schedule(
    rules_file: Annotated[
        Path,
        typer.Option(
            "--rules", help="Federation file whose [rules] to schedule.", show_default=False
        ),
    ],
    round: Annotated[
        int, typer.Option("--round", min=0, help="First round the new rules apply to.")
    ],
    **flags: Any,
) -> None:
    """Schedule a rules version from a future round on (governor only).

    Fields the file leaves out keep the values of the latest scheduled version. Scheduling the
    round of the latest pending version replaces it.
    """
    from flchain.cli.errors import RulesNotSchedulable
    from flchain.node.status import rule_versions
    from flchain.protocol import rules_to_tuple
    from flchain.rules_file import load_federation_file, validate_rules

    fed = load_federation_file(rules_file)
    loaded, ledger, info = _governor_ledger(**flags)
    versions = rule_versions(ledger)
    _, last_effective, last_rules = versions[-1]
    rules = validate_rules(fed.rules, base=last_rules, where=str(rules_file))
    open_round, phase = ledger.phase()
    if phase.name != "NOT_STARTED" and round <= open_round:
        raise RulesNotSchedulable(
            f"--round {round} is not in the future: round {open_round} is open and rules never "
            f"change an open round; use --round {open_round + 1} or later"
        )
    if round < last_effective:
        raise RulesNotSchedulable(
            f"--round {round} is before the latest scheduled version (from round "
            f"{last_effective}): versions take effect in order; use --round {last_effective} "
            "(replaces it) or later"
        )
    call = ledger.contract.functions.scheduleRules(rules_to_tuple(rules, round))
    common.check_funds(
        ledger.backend, info, call, action="`flchain chain rules schedule`",
        settings=loaded.settings,
    )  # fmt: skip
    tx = ledger.with_account(common.unlock(loaded)).schedule_rules(round, rules)
    from flchain.ledger import RulesScheduled

    scheduled = next(e for e in tx.events if isinstance(e, RulesScheduled))
    replaced = " (replaced the pending version)" if round == last_effective else ""
    typer.echo(
        f"scheduled rules v{scheduled.version} from round {round}{replaced} (tx "
        f"{tx.tx_hash}, block {tx.block_number})"
    )
    typer.echo(f"rules     {_rules_summary(rules)}")


@app.command("transfer-governance")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def transfer_governance(
    new_governor: Annotated[str, typer.Argument(help="Address of the new governor.")],
    **flags: Any,
) -> None:
    """Hand the governor role to another address (governor only; takes effect at once).

    Protocol v1 transfers in one step: check the address, a typo loses the role for good
    (v2 adds a two-step transfer the new governor accepts)."""
    from eth_utils import is_address, to_checksum_address

    if not is_address(new_governor) or int(new_governor, 16) == 0:
        raise ConfigError(
            f"new governor {new_governor!r} is not a non-zero 0x-address (40 hex digits)"
        )
    target = to_checksum_address(new_governor)
    loaded, ledger, info = _governor_ledger(**flags)
    if target.lower() == info.address.lower():
        raise ConfigError(f"{target} is already the governor of {ledger.address}")
    call = ledger.contract.functions.transferGovernance(target)
    common.check_funds(
        ledger.backend, info, call, action="`flchain chain transfer-governance`",
        settings=loaded.settings,
    )  # fmt: skip
    tx = ledger.with_account(common.unlock(loaded)).transfer_governance(target)
    typer.echo(f"governor of {ledger.address} is now {target} (tx {tx.tx_hash})")
