"""`flchain audit`: verify rounds from the on-chain record and content by CID.

Exit codes: 0 verified, 1 a mismatch was found, 2 could not verify (content unavailable or
corrupt, chain or IPFS unreachable). See `flchain.audit.report`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flchain.audit.core import audit, closed_rounds
from flchain.audit.core_v2 import audit_v2, closed_rounds_v2
from flchain.audit.errors import AuditError
from flchain.audit.render import print_report, report_html, report_json
from flchain.audit.report import AuditReport, RoundAudit
from flchain.audit.source import AuditSource, open_source
from flchain.cli.config import DataDirOption, settings_from_options
from flchain.config import check_local_store
from flchain.errors import FlchainError
from flchain.ledger import LedgerV2

__all__ = ["parse_rounds", "register_commands"]

_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*$")


def parse_rounds(single: int | None, span: str | None, every: bool) -> tuple[int, int] | None:
    """(first, last) inclusive, or None for --all. Exactly one choice must be given."""
    given = sum(x for x in (single is not None, span is not None, every))
    if given != 1:
        raise AuditError("give exactly one of --round N, --rounds A..B or --all")
    if single is not None:
        if single < 0:
            raise AuditError(f"--round {single} is not a round: rounds count from 0")
        return single, single
    if span is not None:
        m = _RANGE.match(span)
        if not m or int(m.group(1)) > int(m.group(2)):
            raise AuditError(f"--rounds wants A..B with A <= B, got {span!r}")
        return int(m.group(1)), int(m.group(2))
    return None


def audit_command(
    rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC URL of the chain.")] = None,
    contract: Annotated[
        str | None, typer.Option("--contract", help="Address of the FLChain contract.")
    ] = None,
    ipfs: Annotated[
        str | None, typer.Option("--ipfs", help="IPFS HTTP RPC API URL to fetch content from.")
    ] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Local blockstore folder instead of IPFS.")
    ] = None,
    profile: Annotated[Path | None, typer.Option("--profile", help="Devnet profile file.")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="Simulation run folder.")] = None,
    from_block: Annotated[
        int, typer.Option("--from-block", help="Deployment block (with --rpc).")
    ] = 0,
    round: Annotated[int | None, typer.Option("--round", help="Audit one round.")] = None,
    rounds: Annotated[
        str | None, typer.Option("--rounds", help="Audit rounds A..B (inclusive).")
    ] = None,
    all_rounds: Annotated[bool, typer.Option("--all", help="Audit every closed round.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, help="Worker processes for the re-merges.")
    ] = 1,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML settings file (used when no --rpc/--profile/--run)."),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Verify rounds from the on-chain record alone: re-fetch, re-backtest, re-merge, compare.

    A protocol v2 deployment is audited rule by rule: the deployed code against the artifact,
    every transaction replayed by the reference machine, the round accumulators proven with
    eth_getProof, every merge recomputed, the settlement tables against the final roots
    (docs/audit.md).

    Without --rpc, --profile or --run the chain, contract and store come from the settings
    (flchain.toml, FLCHAIN_*, the devnet profile of --data-dir), as for every other command.
    Exit 0 verified, 1 mismatch or conflict found, 2 could not verify.
    """
    out = Console(stderr=as_json)
    try:
        span = parse_rounds(round, rounds, all_rounds)
        where: dict[str, Any] = {
            "rpc": rpc, "contract": contract, "ipfs": ipfs, "store_dir": store, "profile": profile,
            "run": run, "from_block": from_block,
        }  # fmt: skip
        if not (rpc or profile or run):
            where = _from_settings(config, where, data_dir)
        if where["store_dir"] is not None:  # a typo must not audit an empty store as missing
            check_local_store(where["store_dir"], flag="--store")
        source = open_source(**where)
        with source:  # stops a temporary anvil (restored run folder) also on error
            report = _audit_source(source, span, jobs).model_copy(update={"notes": source.notes})
    except FlchainError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        # Whatever went wrong, nothing was verified: 2, never 1 (1 means "a mismatch was found").
        raise typer.Exit(2) from None
    if html is not None:
        html.write_text(report_html(report), encoding="utf-8")
    if as_json:
        sys.stdout.write(report_json(report) + "\n")
    else:
        print_report(report, out)
        if html is not None:
            out.print(f"HTML report: {html}")
    raise typer.Exit(report.exit_code)


def _from_settings(
    config: Path | None, given: dict[str, Any], data_dir: Path | None = None
) -> dict[str, Any]:
    """`open_source`'s arguments from the settings: an RPC endpoint and contract when set (the
    store as configured unless --ipfs/--store), else the devnet profile (of `data_dir`)."""
    loaded = settings_from_options(config, data_dir=data_dir)
    s = loaded.settings
    contract, ipfs, store = given["contract"], given["ipfs"], given["store_dir"]
    if s.rpc_url and (contract or s.contract):
        if not (ipfs or store):
            ipfs, store = (s.ipfs_url, None) if s.store == "ipfs" else (None, s.store_dir)
        return {
            **given, "rpc": s.rpc_url, "contract": contract or s.contract, "ipfs": ipfs,
            "store_dir": store, "from_block": given["from_block"] or s.deployment_block,
            "ipfs_retries": s.retry_attempts,
        }  # fmt: skip
    if loaded.profile is not None:
        return {**given, "profile": s.profile, "ipfs_retries": s.retry_attempts}
    raise AuditError(
        "nothing to audit: pass --rpc URL with --contract ADDRESS (and --ipfs URL or --store "
        "DIR), --profile FILE, --data-dir DIR of a devnet or --run DIR, or set rpc_url and "
        "contract (flchain.toml, FLCHAIN_*)"
    )


def _audit_source(source: AuditSource, span: tuple[int, int] | None, jobs: int) -> AuditReport:
    """Audit the wanted rounds of an opened source, with a progress bar on a terminal (v1)."""
    ledger = source.ledger
    if isinstance(ledger, LedgerV2):
        closed_v2 = closed_rounds_v2(ledger)
        wanted = list(range(span[0], span[1] + 1)) if span else closed_v2
        if early := [r for r in wanted if r not in closed_v2]:
            raise AuditError(
                f"round {early[0]} is not over yet (its finalization closes when round "
                f"{early[0] + 1} starts; closed rounds: {len(closed_v2)})"
            )
        return audit_v2(ledger, source.store, wanted)
    wanted = list(range(span[0], span[1] + 1)) if span else closed_rounds(ledger)
    closed = set(closed_rounds(ledger))
    early = [r for r in wanted if r not in closed]
    if early:
        raise AuditError(f"round {early[0]} has not closed yet (closed rounds: {len(closed)})")
    with Progress(
        TextColumn("auditing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:  # fmt: skip
        task = bar.add_task("", total=len(wanted))

        def tick(done: int, total: int, a: RoundAudit) -> None:
            bar.update(task, completed=done, description=f"round {a.round}: {a.verdict.value}")

        return audit(ledger, source.store, wanted, jobs=jobs, progress=tick)


def register_commands(app: typer.Typer) -> None:
    """Add the top-level `flchain audit` command."""
    app.command(name="audit")(audit_command)
