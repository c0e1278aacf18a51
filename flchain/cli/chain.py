"""`flchain chain …`: make a genesis model, deploy FLChain or FLChainV2, govern its rules, look
at it.

Every command reads the usual settings (flags > environment > config file > devnet profile):
`rpc_url`, `chain_id`, `contract`, `deployment_block`, `wallet`, `password_env`, and for
`genesis` the content store. Commands that send check every argument first, then the wallet's
address and balance (no password needed), and unlock the keystore last; nothing is sent when a
check fails. The embedded chain lives inside one process, so these commands need a JSON-RPC
endpoint (anvil, hardhat node, any URL).

Each command asks the contract which protocol it speaks (`connect_ledger`) and takes the v2
path (`_chain_v2`) for FLChainV2. On v1, rule versions follow its `scheduleRules` (a version for
a future round; scheduling the round of the latest pending version replaces it) and the governor
role moves in one step. On v2 a version waits out the notice period, can be cancelled until
then, the governor role moves in two steps, and the governor can pause new rounds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flchain.cli import _chain_v2 as chain_v2
from flchain.cli import _common as common
from flchain.cli.config import (
    ConfigFileOption,
    ContractOption,
    DataDirOption,
    JsonOption,
    OptionGroup,
    ProfileOption,
    RpcOption,
    WalletOption,
    with_options,
)
from flchain.cli.config import settings_from_options as _settings
from flchain.cli.store import STORE_OPTIONS, open_settings_store
from flchain.config import LoadedSettings
from flchain.errors import ConfigError
from flchain.ledger import Ledger, LedgerV2
from flchain.rules_file import format_utc

app = typer.Typer(
    help="The FLChain contract (protocol v1 or v2) on a JSON-RPC chain.", no_args_is_help=True
)
rules_app = typer.Typer(
    help="Rule versions: list, export to a file, schedule a change, cancel one (v2).",
    no_args_is_help=True,
)
app.add_typer(rules_app, name="rules")

#: What the commands that read the contract take.
READ_OPTIONS: OptionGroup = {
    "rpc_url": (RpcOption, None),
    "contract": (ContractOption, None),
    "config_file": (ConfigFileOption, None),
    # as the node commands take them: `devnet up --data-dir D` is then `chain info --data-dir D`
    "profile": (ProfileOption, None),
    "data_dir": (DataDirOption, None),
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
    quorum: Annotated[int | None, typer.Option(help="Rules (v1): attesters to finalize.")] = None,
    protocol: Annotated[
        int | None,
        typer.Option(
            "--protocol",
            min=1,
            max=2,
            help="1 (FLChain) or 2 (FLChainV2); default: the file's `protocol`, else 1.",
        ),
    ] = None,
    genesis_from_v1: Annotated[
        str | None,
        typer.Option(
            "--genesis-from-v1",
            metavar="V1_CONTRACT",
            show_default=False,
            help="Migration: the genesis is this v1 contract's --round model, if its audit "
            "verifies (same chain as --rpc; implies --protocol 2).",
        ),
    ] = None,
    v1_round: Annotated[
        int | None, typer.Option("--round", min=0, help="The v1 round (with --genesis-from-v1).")
    ] = None,
    v1_deployment_block: Annotated[
        int,
        typer.Option("--v1-deployment-block", min=0, help="Block the v1 contract was deployed in."),
    ] = 0,
    rpc_url: RpcOption = None,
    wallet: WalletOption = None,
    config_file: ConfigFileOption = None,
    **tx_flags: Any,
) -> None:
    """Deploy FLChain (v1) or FLChainV2 with the schedule and rules of a federation file; the
    wallet governs it.

    Flags override the file's [deployment] values (and --quorum its v1 [rules] quorum); every
    field is checked before anything is sent. With --genesis-from-v1 the v2 genesis is a v1
    round's final model, taken only if the v1 audit of that round verifies.
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
    version = protocol or (fed.protocol if fed else None) or (2 if genesis_from_v1 else 1)
    if version == 2:
        given = {k for k, v in flags.items() if v is not None}
        try:
            chain_v2.deploy_command(loaded, fed, values, where, genesis_from_v1, v1_round,
                                    v1_deployment_block, quorum)  # fmt: skip
        except RulesFileError as exc:
            raise RulesFileError(where, [_flag_label(p, given) for p in exc.problems]) from None
        return
    if genesis_from_v1 is not None or v1_round is not None:
        raise ConfigError(
            "--genesis-from-v1 and --round migrate a v1 round into a protocol v2 deployment: "
            "drop --protocol 1 (or `protocol = 1` in the file)"
        )
    if protocol is None and (fed is None or fed.protocol is None):
        # v1 stays the default so that an existing federation file deploys what it always did
        typer.echo(
            "warning: deploying protocol v1 (FLChain), which holds only while every node is "
            "honest (docs/security.md); pass --protocol 2 or set `protocol = 2` in the file "
            "for stake-weighted finality and slashing",
            err=True,
        )
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


def _read_ledger(**flags: Any) -> Ledger | LedgerV2:
    """The contract the settings and `READ_OPTIONS` name (read-only), v1 or v2 by what it
    answers."""
    loaded = _settings(**flags)
    loaded.require("rpc_url", "contract")
    return common.any_ledger(loaded)


def _v2_only(ledger: Ledger | LedgerV2, command: str) -> LedgerV2:
    from flchain.cli.errors import WrongProtocolVersion

    if not isinstance(ledger, LedgerV2):
        raise WrongProtocolVersion(
            f"{ledger.address} is a protocol v1 contract (FLChain): `flchain chain {command}` "
            "is a protocol v2 command (FLChainV2)"
        )
    return ledger


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
    if isinstance(ledger, LedgerV2):
        doc_v2 = chain_v2.overview_doc(ledger, round)  # everything read before printing
        if as_json:
            typer.echo(json.dumps(doc_v2, indent=2))
        else:
            chain_v2.print_overview(doc_v2)
        return
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
    if isinstance(ledger, LedgerV2):
        listed = chain_v2.nodes_doc(ledger)
        if as_json:
            typer.echo(json.dumps(listed, indent=2))
            return
        typer.echo(f"{len(listed)} node(s) of {ledger.address}:")
        typer.echo("\n".join(chain_v2.node_lines(listed)))
        return
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
    if isinstance(ledger, LedgerV2):
        tally = chain_v2.attestations_doc(ledger, round)
        if as_json:
            typer.echo(json.dumps(tally, indent=2))
            return
        final = tally["final_result"]
        typer.echo(f"round {round}: {'final result ' + final if final else 'no final result'}")
        typer.echo("\n".join(chain_v2.tally_lines(tally)))
        return
    items = attestations(ledger, round)
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    final = ledger.finalized(round)
    typer.echo(f"round {round}: {'finalized ' + final.cid if final else 'not finalized'}")
    typer.echo("\n".join(_attestation_lines(items)))


# ------------------------------------------------------------------------------- governance


def _wallet_settings(**flags: Any) -> tuple[LoadedSettings, Ledger | LedgerV2]:
    """Settings naming a chain, contract and wallet, and the contract (read-only)."""
    loaded = _settings(**flags)
    loaded.require("rpc_url", "contract", "wallet")
    common.wallet_info(loaded)  # a wallet that is not there fails before the chain is read
    return loaded, common.any_ledger(loaded)


@rules_app.command("list")
@with_options(READ_OPTIONS)
def rules_list(as_json: JsonOption = False, **flags: Any) -> None:
    """Every rules version: the round it takes effect from and what it changed."""
    from flchain.node.status import rule_versions, rules_doc

    ledger = _read_ledger(**flags)
    if isinstance(ledger, LedgerV2):
        _rules_list_v2(ledger, as_json)
        return
    versions = rule_versions(ledger)
    current = ledger.current_round()
    if as_json:
        listed = [
            {"version": v, "effective_round": e, "rules": rules_doc(r)} for v, e, r in versions
        ]
        typer.echo(json.dumps(listed, indent=2))
        return
    in_force = max((e, v) for v, e, _ in versions if e <= current)[1]
    headed = []
    for version, effective, rules in versions:
        state = "pending" if effective > current else "in force" if version == in_force else "past"
        headed.append((f"v{version}  from round {effective}  ({state})", rules_doc(rules)))
    _print_versions(headed)
    typer.echo(
        "note: protocol v1 cannot cancel a pending version; schedule the same round again to "
        "replace it (cancel comes with protocol v2)"
    )


def _print_versions(versions: list[tuple[str, dict[str, Any]]]) -> None:
    """Each version's heading, then every rule of the first and what each later one changed."""
    previous: dict[str, Any] | None = None
    for heading, doc in versions:
        typer.echo(heading)
        for key, value in doc.items():
            if previous is None or previous[key] != value:
                was = "" if previous is None else f"   (was {previous[key]})"
                typer.echo(f"  {key:<26} {value}{was}")
        previous = doc


def _rules_list_v2(ledger: LedgerV2, as_json: bool) -> None:
    current, _ = ledger.phase()
    versions = chain_v2.rule_versions_doc(ledger, current)
    earliest, notice = chain_v2.earliest_round(ledger)
    if as_json:
        doc = {
            "versions": versions,
            "earliest_schedulable_round": earliest,
            "notice_rounds": notice,
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    _print_versions([
        (f"v{v['version']}  from round {v['effective_round']}, starts {v['starts']['unix']} "
         f"({v['starts']['utc']})  ({v['state']})", v["rules"])
        for v in versions
    ])  # fmt: skip
    d = ledger.deployment()
    typer.echo(
        f"notice: {notice} round(s); a change made now takes effect from round {earliest} at the "
        f"earliest (starts {d.start(earliest)}, {format_utc(d.start(earliest))})"
    )


@rules_app.command("export")
@with_options(READ_OPTIONS)
def rules_export(round: RoundOption = None, **flags: Any) -> None:
    """Print the rules of a round (default: the current one) as a federation file to edit."""
    from flchain.rules_file import render_federation_file

    ledger = _read_ledger(**flags)
    if isinstance(ledger, LedgerV2):
        from flchain.rules_file_v2 import render_rules_v2

        shown = ledger.phase()[0] if round is None else round
        typer.echo(f"# rules of round {shown} of {ledger.address} on chain {ledger.chain_id}")
        typer.echo(render_rules_v2(ledger.rules_for_round(shown)), nl=False)
        return
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
        int | None,
        typer.Option(
            "--round",
            min=0,
            help="First round the new rules apply to (v2 default: the earliest the notice allows).",
        ),
    ] = None,
    **flags: Any,
) -> None:
    """Schedule a rules version from a future round on (governor only).

    Fields the file leaves out keep the values of the latest scheduled version. v1: scheduling
    the round of the latest pending version replaces it. v2: the round must be at least the
    notice period ahead and after every scheduled version (`chain rules cancel` removes the
    last pending one).
    """
    from flchain.cli.errors import RulesNotSchedulable
    from flchain.node.status import rule_versions
    from flchain.protocol import rules_to_tuple
    from flchain.rules_file import load_federation_file, validate_rules

    fed = load_federation_file(rules_file)
    loaded, any_ledger = _wallet_settings(**flags)
    if isinstance(any_ledger, LedgerV2):
        chain_v2.schedule(any_ledger, loaded, fed, round, str(rules_file))
        return
    ledger = any_ledger
    if round is None:
        raise RulesNotSchedulable("--round is required on a protocol v1 contract")
    info = common.governor_wallet(loaded, ledger)
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
    """Hand the governor role to another address (governor only).

    Protocol v1 transfers in one step, at once: check the address, a typo loses the role for
    good. Protocol v2 starts a two-step transfer (`chain governance transfer`)."""
    from eth_utils import is_address, to_checksum_address

    if not is_address(new_governor) or int(new_governor, 16) == 0:
        raise ConfigError(
            f"new governor {new_governor!r} is not a non-zero 0x-address (40 hex digits)"
        )
    target = to_checksum_address(new_governor)
    loaded, any_ledger = _wallet_settings(**flags)
    if isinstance(any_ledger, LedgerV2):
        chain_v2.transfer(any_ledger, loaded, target)
        return
    ledger = any_ledger
    info = common.governor_wallet(loaded, ledger)
    if target.lower() == info.address.lower():
        raise ConfigError(f"{target} is already the governor of {ledger.address}")
    call = ledger.contract.functions.transferGovernance(target)
    common.check_funds(
        ledger.backend, info, call, action="`flchain chain transfer-governance`",
        settings=loaded.settings,
    )  # fmt: skip
    tx = ledger.with_account(common.unlock(loaded)).transfer_governance(target)
    typer.echo(f"governor of {ledger.address} is now {target} (tx {tx.tx_hash})")


# ------------------------------------------------------------------------------- protocol v2

governance_app = typer.Typer(
    help="The governor role (v2: two steps, the new governor accepts).", no_args_is_help=True
)
app.add_typer(governance_app, name="governance")

AmountOption = Annotated[
    str,
    typer.Option(
        "--amount", help="Amount: 10 (ether), 0.5ether, 20gwei or 1000wei.", show_default=False
    ),
]


@rules_app.command("cancel")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def rules_cancel(**flags: Any) -> None:
    """Cancel the last scheduled rules version (v2, governor only) while it is still outside
    the notice period; repeat to cancel more."""
    loaded, ledger = _wallet_settings(**flags)
    chain_v2.cancel(_v2_only(ledger, "rules cancel"), loaded)


@governance_app.command("transfer")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def governance_transfer(
    new_governor: Annotated[str, typer.Argument(help="Address of the new governor.")],
    **flags: Any,
) -> None:
    """Start handing the governor role to an address (governor only); it governs once it runs
    `flchain chain governance accept`. A second transfer replaces the pending one. On a v1
    contract: the one-step `chain transfer-governance`."""
    transfer_governance(new_governor, **flags)


@governance_app.command("accept")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def governance_accept(**flags: Any) -> None:
    """Accept the governor role (v2; the wallet must be the pending governor)."""
    loaded, ledger = _wallet_settings(**flags)
    chain_v2.accept(_v2_only(ledger, "governance accept"), loaded)


@app.command("pause")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def pause_(
    duration: Annotated[
        int,
        typer.Option(
            "--duration", min=1, help="Seconds (at most 7 days); the pause ends on its own."
        ),
    ],
    **flags: Any,
) -> None:
    """Emergency pause (v2, governor only): rounds that start inside it accept no commits and
    are skipped; open rounds, exits, withdrawals, settlements and slashes are never paused."""
    loaded, ledger = _wallet_settings(**flags)
    chain_v2.pause(_v2_only(ledger, "pause"), loaded, duration)


@app.command("unpause")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def unpause_(**flags: Any) -> None:
    """End the running pause early (v2, governor only)."""
    loaded, ledger = _wallet_settings(**flags)
    chain_v2.unpause(_v2_only(ledger, "unpause"), loaded)


@app.command("fund-pool")
@with_options(GOVERN_OPTIONS, common.SEND_OPTIONS)
def fund_pool(amount: AmountOption, **flags: Any) -> None:
    """Add ether to the reward pool (v2, anyone): each round reserves min(emission, pool)."""
    from flchain.cli.wallet import parse_amount

    wei = parse_amount(amount)
    loaded, ledger = _wallet_settings(**flags)
    chain_v2.fund_pool(_v2_only(ledger, "fund-pool"), loaded, wei)
