"""The protocol v2 side of `flchain chain …`: deploy FLChainV2, read it, govern it.

`flchain.cli.chain` dispatches here when the contract answers protocol version 2 (or a
federation file says `protocol = 2`). Every function that sends checks in the order that keeps
a mistake cheap — arguments, the wallet's address (no password), the contract's own verdict as
an eth_call from that address (`_common.precheck`: a refusal is the custom error by name), the
wallet's balance — and unlocks the keystore last.

What each shows comes from `LedgerV2`'s views and typed events only, as JSON-ready dicts
(`*_doc`); the text output is rendered from the same dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer
from eth_utils import is_address, to_checksum_address

from flchain.cli import _common as common
from flchain.config import LoadedSettings
from flchain.errors import ConfigError
from flchain.ledger import LedgerV2
from flchain.ledger.hashes import cid_to_str
from flchain.protocol import machine as m
from flchain.rules_file import FederationFile, RulesFileError, check_t0, format_utc
from flchain.rules_file_v2 import (
    build_deployment,
    check_rules_against,
    rules_v2_doc,
    validate_federation_v2,
    validate_rules_v2,
    with_source,
)

ZERO32 = b"\x00" * 32


def when(ts: int) -> dict[str, Any]:
    return {"unix": ts, "utc": format_utc(ts)}


def _shown(doc: Mapping[str, Any]) -> str:
    return f"{doc['unix']} ({doc['utc']})"


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _cid(value: bytes) -> str | None:
    return cid_to_str(bytes(value)) if value else None


def _address_or_none(value: str) -> str | None:
    return None if int(value, 16) == 0 else to_checksum_address(value)


def _round_or_none(plus_one: int) -> int | None:
    """A stored `round + 1` (0 = never) as a round, or None."""
    return plus_one - 1 if plus_one else None


# ------------------------------------------------------------------------------- deploy


def deploy(
    loaded: LoadedSettings,
    fed: FederationFile | None,
    values: dict[str, Any],
    *,
    where: str,
    v1_source: tuple[int, str, int] | None = None,
) -> None:
    """Deploy FLChainV2 from the merged `[deployment]` values and the file's `[rules]`;
    `v1_source` (chain id, contract, round) records a migration's origin."""
    spec, rules = validate_federation_v2(values, dict(fed.rules if fed else {}), where=where)
    if v1_source is not None:
        spec = with_source(spec, *v1_source)
    info = common.wallet_info(loaded)
    chain = common.backend(loaded.settings)
    now = chain.latest_timestamp()
    t0 = spec.t0 if spec.t0 is not None else (now // 60 + 1) * 60
    check_t0(t0, now, where=where)
    deployment = build_deployment(spec, t0, where=where)
    check_rules_against(rules, deployment, where=where)
    from flchain.ledger.deployment import load_artifact

    artifact = load_artifact(2)
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    common.check_funds(
        chain, info, factory.constructor(deployment.to_abi(), rules.to_abi()),
        action="`flchain chain deploy`", settings=loaded.settings,
    )  # fmt: skip
    account = common.unlock(loaded)
    ledger = LedgerV2.deploy(chain, account, deployment, rules, loaded.settings.tx_policy())
    d = deployment
    typer.echo(
        f"contract  {ledger.address} (FLChainV2, chain {ledger.chain_id}, block "
        f"{ledger.from_block})"
    )
    typer.echo(f"governor  {account.address} ({info.name})")
    typer.echo(
        f"rounds    t0 {d.t0} ({format_utc(d.t0)}), {d.round_length} s each: commit "
        f"{d.commit_window} s, reveal {d.reveal_window} s, beacon {d.beacon_window} s, attest "
        f"{d.round_length - d.commit_window - d.reveal_window - d.beacon_window} s"
    )
    typer.echo(
        f"stake     min bond {d.min_bond} wei; exit delay {d.exit_delay} s; rule notice ≥ "
        f"{d.min_notice_rounds} round(s)"
    )
    typer.echo(
        f"beacon    key {_hex(d.beacon_public_key)[:18]}…, genesis {d.beacon_genesis}, period "
        f"{d.beacon_period} s, delay {d.beacon_delay} s"
    )
    typer.echo(f"genesis   {_cid(d.genesis_cid)} {_hex(d.genesis_digest)}")
    if v1_source is not None:
        typer.echo(
            f"source    v1 round {d.source_round} of {d.source_contract} (chain {d.source_chain_id})"
        )
    typer.echo(f"rules     version 0: {rules_summary(rules)}")
    typer.echo("settings  for flchain.toml:")
    typer.echo(f'  contract = "{ledger.address}"')
    typer.echo(f"  deployment_block = {ledger.from_block}")


def rules_summary(rules: m.RulesV2) -> str:
    return (
        f"finality {rules.finality_ppm} ppm of stake, notice {rules.notice_rounds} round(s), "
        f"ROI band [{rules.roi_min_bps}, {rules.roi_max_bps}] bps, emission {rules.emission_wei}"
        f" wei/round, slashes {rules.no_reveal_slash_wei}/{rules.penalty_slash_wei}/"
        f"{rules.wrong_vote_slash_wei} wei (no reveal/penalty/wrong vote)"
    )


def deploy_command(
    loaded: LoadedSettings,
    fed: FederationFile | None,
    values: dict[str, Any],
    where: str,
    genesis_from_v1: str | None,
    v1_round: int | None,
    v1_deployment_block: int,
    quorum: int | None,
) -> None:
    """`chain deploy` of FLChainV2: from the file and flags (`values`), or with the genesis of
    a v1 round that audits as verified (`genesis_from_v1`, `v1_round`)."""
    if quorum is not None:
        raise RulesFileError(
            where, ["--quorum is a protocol v1 rule (v2 finalizes by a share of stake: [rules] "
                    "finality_ppm)"],
        )  # fmt: skip
    if genesis_from_v1 is None:
        if v1_round is not None:
            raise ConfigError(
                "--round names the v1 round of --genesis-from-v1 V1_CONTRACT: give both"
            )
        deploy(loaded, fed, values, where=where)
        return
    if v1_round is None:
        raise ConfigError(
            "--genesis-from-v1 needs --round N: the v1 round whose model is the genesis"
        )
    if not is_address(genesis_from_v1):
        raise ConfigError(
            f"--genesis-from-v1 {genesis_from_v1!r} is not a 0x-address (40 hex digits)"
        )
    clash = [k for k in ("genesis_digest", "genesis_cid") if values.get(k) is not None]
    if clash:
        raise RulesFileError(
            where,
            [f"[deployment] {k} is set, but --genesis-from-v1 takes the genesis from v1 round "
             f"{v1_round}: leave it out" for k in clash],
        )  # fmt: skip
    # Check the file before the (slow, read-only) audit, with a stand-in genesis.
    from flchain.protocol import digests as dg
    from flchain.storage.cid import cid_for_bytes

    stand_in = {"genesis_digest": "0x" + dg.sha256(b"").hex(), "genesis_cid": cid_for_bytes(b"")}
    validate_federation_v2({**values, **stand_in}, dict(fed.rules if fed else {}), where=where)
    source, digest, cid = verified_v1_genesis(
        loaded, to_checksum_address(genesis_from_v1), v1_round, v1_deployment_block
    )
    typer.echo(
        f"v1 round {v1_round} of {source[1]} audits as verified: its model {cid} is the genesis"
    )
    values.update(genesis_digest=digest, genesis_cid=cid)
    deploy(loaded, fed, values, where=where, v1_source=source)


# ------------------------------------------------------------------------------- reading


def deployment_doc(d: m.Deployment) -> dict[str, Any]:
    source = None
    if d.source_chain_id:
        source = {
            "chain_id": d.source_chain_id, "contract": d.source_contract, "round": d.source_round
        }  # fmt: skip
    return {
        "t0": when(d.t0),
        "round_length_s": d.round_length,
        "commit_window_s": d.commit_window,
        "reveal_window_s": d.reveal_window,
        "beacon_window_s": d.beacon_window,
        "exit_delay_s": d.exit_delay,
        "min_notice_rounds": d.min_notice_rounds,
        "min_bond_wei": d.min_bond,
        "genesis": {"digest": _hex(d.genesis_digest), "cid": _cid(d.genesis_cid)},
        "beacon": {
            "public_key": _hex(d.beacon_public_key),
            "genesis": when(d.beacon_genesis),
            "period_s": d.beacon_period,
            "delay_s": d.beacon_delay,
        },
        "genesis_source": source,
    }


def rule_versions_doc(ledger: LedgerV2, current: int) -> list[dict[str, Any]]:
    """Every rules version: its first round, when that round starts (unix and UTC), its state
    (past, in force, pending) and every rule by name."""
    d = ledger.deployment()
    versions = [ledger.rules_version(v) for v in range(ledger.rules_version_count())]
    in_force = max(i for i, v in enumerate(versions) if v.effective_round <= current)
    return [
        {
            "version": i,
            "effective_round": v.effective_round,
            "starts": when(d.start(v.effective_round)),
            "state": "pending" if i > in_force else "in force" if i == in_force else "past",
            "rules": rules_v2_doc(v),
        }
        for i, v in enumerate(versions)
    ]


def node_doc(ledger: LedgerV2, index: int, current: int) -> dict[str, Any]:
    address = ledger.node_at(index)
    v = ledger.node_view(address)
    return {
        "index": index,
        "node": address,
        "status": v.status.name,
        "bond_wei": v.bond,
        "stake_this_round_wei": v.stake_this_round,
        "stake_next_round_wei": v.stake_next_round,
        "eligible_this_round": ledger.is_eligible(address, current),
        "uncollected_wei": v.cum_earned - v.claimed,
        "claimed_wei": v.claimed,
        "settled_through_round": _round_or_none(v.settled_round),
        "last_participated_round": _round_or_none(v.last_participated_round),
        "accepted_reveals": v.accepted_reveals,
        "unrevealed": v.unrevealed,
        "merged_rounds": v.merged_rounds,
        "score_bps": v.score_bps,
        "penalties": v.cum_penalties,
        "penalties_slashed": v.penalties_applied,
        "last_attested_round": _round_or_none(v.last_attested_round),
        "withdrawable_at": when(v.withdrawable_at) if v.withdrawable_at else None,
    }


def nodes_doc(ledger: LedgerV2) -> list[dict[str, Any]]:
    current, _ = ledger.phase()
    return [node_doc(ledger, i, current) for i in range(ledger.node_count())]


def attestations_doc(ledger: LedgerV2, round: int) -> dict[str, Any]:
    """A round's votes grouped by result: each result's tally (wei of frozen stake, and its
    share), which one is final, and every attestation."""
    from flchain.ledger.events_v2 import Attested, Finalized

    view = ledger.round_view(round)
    final = view.final_result if view.final_result != ZERO32 else None
    votes = ledger.events(Attested, round)
    finalized = ledger.events(Finalized, round)
    needed = m.finality_needed(view.total_stake, ledger.rules_for_round(round).finality_ppm)
    results: dict[bytes, dict[str, Any]] = {}
    for a in votes:
        key = bytes(a.result_hash)
        if key not in results:
            tally = ledger.tally_of(round, key)
            results[key] = {
                "result_hash": _hex(key),
                "final": key == final,
                "tally_wei": tally,
                "tally_ppm": tally * m.PPM // view.total_stake if view.total_stake else 0,
                "merged_digest": _hex(a.merged_digest),
                "merged_cid": _cid(a.merged_cid),
                "manifest_cid": _cid(a.manifest_cid),
                "settlement_root": _hex(a.settlement_root),
                "round_earned_wei": a.round_earned,
                "attesters": [],
            }
        results[key]["attesters"].append(
            {"node": a.node, "weight_wei": a.weight, "block": a.block_number}
        )
    return {
        "round": round,
        "total_stake_wei": view.total_stake,
        "finality_needs_wei": needed,
        "final_result": None if final is None else _hex(final),
        "finalized_block": finalized[0].block_number if finalized else None,
        "results": list(results.values()),
    }


def round_doc(ledger: LedgerV2, round: int) -> dict[str, Any]:
    d = ledger.deployment()
    view = ledger.round_view(round)
    now = ledger.now()
    current, phase = d.phase_at(now)
    final = view.final_result != ZERO32
    if round > current:
        state = "UPCOMING"
    elif round < current or now >= d.deadline(round):
        state = "FINAL" if final else "SKIPPED"
    else:
        state = phase.name
    paused_from, paused_until = ledger.pause_window()
    return {
        "round": round,
        "phase": state,
        "final": final,
        "start": when(d.start(round)),
        "commit_end": when(d.commit_end(round)),
        "reveal_end": when(d.reveal_end(round)),
        "attest_open": when(d.attest_open(round)),
        "deadline": when(d.deadline(round)),
        "beacon_round": ledger.beacon_round(round),
        "paused": paused_from <= d.start(round) < paused_until,
        "opened": view.opened,
        "reserved_wei": view.reserved,
        "total_stake_wei": view.total_stake,
        "reveals": view.reveals,
        "attestations_count": view.attestations,
        "rules": rules_v2_doc(ledger.rules_for_round(round)),
        "tally": attestations_doc(ledger, round),
    }


def overview_doc(ledger: LedgerV2, round: int | None) -> dict[str, Any]:
    """Everything `chain info` shows for a v2 contract, read before anything is printed."""
    d = ledger.deployment()
    now = ledger.now()
    current, phase = d.phase_at(now)
    shown = current if round is None else round
    accounts = ledger.accounts()
    latest = ledger.latest()
    paused_from, paused_until = ledger.pause_window()
    return {
        "protocol_version": 2,
        "contract": ledger.address,
        "chain_id": ledger.chain_id,
        "deployment_block": ledger.from_block,
        "governor": ledger.governor(),
        "pending_governor": _address_or_none(ledger.pending_governor()),
        "now": {**when(now), "round": current, "phase": phase.name},
        "pause": {
            "from": when(paused_from) if paused_until else None,
            "until": when(paused_until) if paused_until else None,
            "active": paused_from <= now < paused_until,
        },
        "deployment": deployment_doc(d),
        "rule_versions": rule_versions_doc(ledger, current),
        "accounts": {
            "bonds_wei": accounts.bonds,
            "pool_wei": accounts.pool,
            "reserved_wei": accounts.reserved,
            "claimable_wei": accounts.claimable,
        },
        "latest_final": {
            "round": _round_or_none(latest.round_plus_one),
            "merged_digest": _hex(latest.merged_digest),
            "merged_cid": _cid(latest.merged_cid),
            "manifest_cid": _cid(latest.manifest_cid),
            "settlement_root": _hex(latest.settlement_root),
        },
        "nodes": nodes_doc(ledger),
        "round": round_doc(ledger, shown),
    }


def print_overview(doc: Mapping[str, Any]) -> None:
    d, now, r = doc["deployment"], doc["now"], doc["round"]
    pause = doc["pause"]
    paused = "none"
    if pause["until"]:
        state = "active" if pause["active"] else "over"
        paused = f"{_shown(pause['from'])} to {_shown(pause['until'])} ({state})"
    acc = doc["accounts"]
    lines = [
        f"contract   {doc['contract']} (FLChainV2) on chain {doc['chain_id']} (events from block "
        f"{doc['deployment_block']})",
        f"governor   {doc['governor']}"
        + (f"; pending {doc['pending_governor']}" if doc["pending_governor"] else ""),
        f"now        {_shown(now)}: round {now['round']}, phase {now['phase'].lower()}",
        f"schedule   t0 {_shown(d['t0'])}; rounds of {d['round_length_s']} s: commit "
        f"{d['commit_window_s']} s, reveal {d['reveal_window_s']} s, beacon "
        f"{d['beacon_window_s']} s",
        f"stake      min bond {d['min_bond_wei']} wei; exit delay {d['exit_delay_s']} s; notice ≥ "
        f"{d['min_notice_rounds']} round(s)",
        f"beacon     {d['beacon']['public_key'][:18]}…, genesis {_shown(d['beacon']['genesis'])}, "
        f"period {d['beacon']['period_s']} s, delay {d['beacon']['delay_s']} s",
        f"genesis    {d['genesis']['cid']} {d['genesis']['digest']}",
        f"pause      {paused}",
        f"accounts   bonds {acc['bonds_wei']}, pool {acc['pool_wei']}, reserved "
        f"{acc['reserved_wei']}, claimable {acc['claimable_wei']} (wei)",
    ]
    if d["genesis_source"]:
        s = d["genesis_source"]
        lines.append(
            f"migrated   from v1 round {s['round']} of {s['contract']} (chain {s['chain_id']})"
        )
    final = doc["latest_final"]
    lines.append(
        f"final      round {final['round']}: {final['merged_cid']}"
        if final["round"] is not None
        else "final      none yet (the base is the genesis)"
    )
    lines += [
        f"round {r['round']}    {r['phase'].lower()}{', paused' if r['paused'] else ''}; opened "
        f"{'yes' if r['opened'] else 'no'}, reserved {r['reserved_wei']} wei, frozen stake "
        f"{r['total_stake_wei']} wei, {r['reveals']} reveal(s)",
        f"           start {_shown(r['start'])}",
        f"           commit until {_shown(r['commit_end'])}",
        f"           reveal until {_shown(r['reveal_end'])}",
        f"           attest from {_shown(r['attest_open'])} until {_shown(r['deadline'])}",
        f"rules of round {r['round']}:",
        *(f"  {k:<26} {v}" for k, v in r["rules"].items()),
    ]
    lines += tally_lines(r["tally"])
    lines.append(f"rule versions ({len(doc['rule_versions'])}):")
    lines += version_lines(doc["rule_versions"])
    lines.append(f"nodes ({len(doc['nodes'])}):")
    lines += node_lines(doc["nodes"])
    typer.echo("\n".join(lines))


def version_lines(versions: list[dict[str, Any]]) -> list[str]:
    return [
        f"  v{v['version']}  from round {v['effective_round']}, starts {_shown(v['starts'])}: "
        f"{v['state']}"
        for v in versions
    ]


def tally_lines(tally: Mapping[str, Any]) -> list[str]:
    results = tally["results"]
    if not results:
        return [f"attestations: none (finality needs {tally['finality_needs_wei']} wei of stake)"]
    lines = [
        f"attestations ({sum(len(x['attesters']) for x in results)}), finality needs "
        f"{tally['finality_needs_wei']} of {tally['total_stake_wei']} wei:"
    ]
    for x in results:
        mark = "FINAL" if x["final"] else "     "
        lines.append(
            f"  {mark} result {x['result_hash'][:10]}…{x['result_hash'][-4:]}  tally "
            f"{x['tally_wei']} wei ({x['tally_ppm']} ppm)  merged {x['merged_cid']}"
        )
        lines += [
            f"      {a['node']}  weight {a['weight_wei']} wei  block {a['block']}"
            for a in x["attesters"]
        ]
    return lines


def node_lines(items: list[dict[str, Any]]) -> list[str]:
    lines = []
    for n in items:
        settled = "-" if n["settled_through_round"] is None else n["settled_through_round"]
        extra = ""
        if n["withdrawable_at"] and n["status"] == "EXITING":
            extra = f"  withdrawable {n['withdrawable_at']['utc']}"
        lines.append(
            f"  #{n['index']:<3} {n['node']}  {n['status']:<9} bond {n['bond_wei']} wei  stake "
            f"{n['stake_this_round_wei']} (next {n['stake_next_round_wei']})  uncollected "
            f"{n['uncollected_wei']}  settled through {settled}  penalties {n['penalties']}{extra}"
        )
    return lines or ["  (none)"]


# ------------------------------------------------------------------------------- governance


def earliest_round(ledger: LedgerV2) -> tuple[int, int]:
    """(earliest round a change made now may take effect, the notice in force): the contract's
    `effective(now) + noticeRounds` of the rules of the round in progress (docs/protocol.md
    §10), at the latest block's time."""
    d = ledger.deployment()
    now = ledger.now()
    notice = ledger.rules_for_round(d.round_at(now)).notice_rounds
    return d.effective_round(now) + notice, notice


def schedule(
    ledger: LedgerV2, loaded: LoadedSettings, fed: FederationFile, round: int | None, where: str
) -> None:
    from flchain.cli.errors import RulesNotSchedulable
    from flchain.ledger.events_v2 import RulesScheduled

    info = common.governor_wallet(loaded, ledger)
    d = ledger.deployment()
    count = ledger.rules_version_count()
    last = ledger.rules_version(count - 1)
    earliest, notice = earliest_round(ledger)
    first = max(earliest, last.effective_round + 1)
    effective = first if round is None else round
    if effective < earliest:
        raise RulesNotSchedulable(
            f"--round {effective} is inside the notice period: the rules in force need "
            f"{notice} round(s) of notice, so the earliest round is {earliest} (starts "
            f"{format_utc(d.start(earliest))}); use --round {max(first, earliest)} or later"
        )
    if effective <= last.effective_round:
        raise RulesNotSchedulable(
            f"--round {effective} is not after the latest scheduled version v{count - 1} (from "
            f"round {last.effective_round}): versions take effect in order; cancel it first "
            f"(`flchain chain rules cancel`) or use --round {last.effective_round + 1} or later"
        )
    rules = validate_rules_v2(
        fed.rules, min_notice_rounds=d.min_notice_rounds, min_bond=d.min_bond, base=last,
        effective_round=effective, where=where,
    )  # fmt: skip
    check_rules_against(rules, d, where=where)
    signer = common.checked_signer(
        ledger, loaded, info, "scheduleRules", rules.to_abi(),
        action="`flchain chain rules schedule`",
    )  # fmt: skip
    tx = signer.schedule_rules(rules)
    done = next(e for e in tx.events if isinstance(e, RulesScheduled))
    typer.echo(
        f"scheduled rules v{done.version} from round {effective} (starts "
        f"{d.start(effective)}, {format_utc(d.start(effective))}; tx {tx.tx_hash}, block "
        f"{tx.block_number})"
    )
    changed = {k: v for k, v in rules_v2_doc(rules).items() if rules_v2_doc(last)[k] != v}
    typer.echo(
        "changes   "
        + (", ".join(f"{k} {rules_v2_doc(last)[k]} → {v}" for k, v in changed.items()) or "none")
    )


def cancel(ledger: LedgerV2, loaded: LoadedSettings) -> None:
    from flchain.cli.errors import RulesNotSchedulable

    info = common.governor_wallet(loaded, ledger)
    count = ledger.rules_version_count()
    if count == 1:
        raise RulesNotSchedulable(
            f"{ledger.address} has only rules v0: nothing to cancel (the contract would refuse "
            "with NothingToCancel)"
        )
    version = count - 1
    pending = ledger.rules_version(version)
    earliest, notice = earliest_round(ledger)
    if pending.effective_round < earliest:
        raise RulesNotSchedulable(
            f"rules v{version} (from round {pending.effective_round}) are inside the notice "
            f"period of {notice} round(s) (earliest changeable round {earliest}): a cancellation "
            "is a change too, so they stay (the contract would refuse with NoticeTooShort)"
        )
    signer = common.checked_signer(
        ledger, loaded, info, "cancelRules", action="`flchain chain rules cancel`"
    )
    tx = signer.cancel_rules()
    typer.echo(
        f"cancelled rules v{version} (were to apply from round {pending.effective_round}; tx "
        f"{tx.tx_hash}, block {tx.block_number})"
    )


def transfer(ledger: LedgerV2, loaded: LoadedSettings, target: str) -> None:
    info = common.governor_wallet(loaded, ledger)
    if target.lower() == info.address.lower():
        raise ConfigError(f"{target} is already the governor of {ledger.address}")
    signer = common.checked_signer(
        ledger, loaded, info, "transferGovernance", target,
        action="`flchain chain governance transfer`",
    )  # fmt: skip
    tx = signer.transfer_governance(target)
    typer.echo(
        f"governance transfer started: {target} is the pending governor of {ledger.address} "
        f"(tx {tx.tx_hash}); the governor is still {info.address} until {target} runs "
        "`flchain chain governance accept`"
    )


def accept(ledger: LedgerV2, loaded: LoadedSettings) -> None:
    from flchain.cli.errors import NotPendingGovernor

    info = common.wallet_info(loaded)
    pending = _address_or_none(ledger.pending_governor())
    if pending is None or pending.lower() != info.address.lower():
        raise NotPendingGovernor(
            f"wallet {info.name} ({info.address}) is not the pending governor of "
            f"{ledger.address} (pending: {pending or 'none'}): the governor starts a transfer "
            "with `flchain chain governance transfer ADDRESS`"
        )
    previous = ledger.governor()
    signer = common.checked_signer(
        ledger, loaded, info, "acceptGovernance", action="`flchain chain governance accept`"
    )
    tx = signer.accept_governance()
    typer.echo(
        f"governor of {ledger.address} is now {info.address} (was {previous}; tx {tx.tx_hash})"
    )


def pause(ledger: LedgerV2, loaded: LoadedSettings, duration: int) -> None:
    info = common.governor_wallet(loaded, ledger)
    if not 0 < duration <= m.MAX_PAUSE:
        raise ConfigError(
            f"--duration {duration} is outside 1 … {m.MAX_PAUSE} s (a pause lasts at most 7 days "
            "and ends on its own)"
        )
    signer = common.checked_signer(
        ledger, loaded, info, "pause", duration, action="`flchain chain pause`"
    )
    tx = signer.pause(duration)
    start, until = ledger.pause_window()
    d = ledger.deployment()
    first = d.round_at(start) + (0 if d.start(d.round_at(start)) >= start else 1)
    typer.echo(
        f"paused from {start} ({format_utc(start)}) until {until} ({format_utc(until)}): rounds "
        f"that start inside it (from round {first}) accept no commits and are skipped; open "
        f"rounds, exits, settlements and slashes go on (tx {tx.tx_hash})"
    )


def unpause(ledger: LedgerV2, loaded: LoadedSettings) -> None:
    info = common.governor_wallet(loaded, ledger)
    signer = common.checked_signer(
        ledger, loaded, info, "unpause", action="`flchain chain unpause`"
    )
    tx = signer.unpause()
    _, until = ledger.pause_window()
    typer.echo(
        f"pause ended at {until} ({format_utc(until)}); a round that started inside it stays "
        f"paused (tx {tx.tx_hash})"
    )


def fund_pool(ledger: LedgerV2, loaded: LoadedSettings, amount: int) -> None:
    from flchain.ledger.events_v2 import PoolFunded

    if amount <= 0:
        raise ConfigError(f"--amount {amount} wei: the pool takes a positive amount")
    info = common.wallet_info(loaded)
    signer = common.checked_signer(
        ledger, loaded, info, "fundPool", value=amount, action="`flchain chain fund-pool`"
    )
    tx = signer.fund_pool(amount)
    funded = next(e for e in tx.events if isinstance(e, PoolFunded))
    typer.echo(
        f"pool of {ledger.address} funded with {funded.amount} wei by {info.address}: the pool "
        f"holds {ledger.accounts().pool} wei (tx {tx.tx_hash})"
    )


# ------------------------------------------------------------------------------- migration


def verified_v1_genesis(
    loaded: LoadedSettings, address: str, round: int, from_block: int
) -> tuple[tuple[int, str, int], str, str]:
    """The v1 round `round` of `address` as a v2 genesis — ((chain id, contract, round),
    digest, CID) — only if the v1 audit of that round verifies it bit for bit (docs/protocol.md
    §13; flchain.audit read-only). Nothing else of v1 is read into v2.

    @raises MigrationRefused when the contract is not v1, the round is not final, or the audit
    does not verify it."""
    from flchain.audit.core import audit_round
    from flchain.audit.report import Verdict
    from flchain.audit.source import open_source
    from flchain.cli.errors import MigrationRefused
    from flchain.ledger import Ledger, connect_ledger

    loaded.require("rpc_url")
    s = loaded.settings
    found = connect_ledger(common.backend(s), address, from_block=from_block)
    if not isinstance(found, Ledger):
        raise MigrationRefused(
            f"--genesis-from-v1 {address} is a protocol v{found.protocol_version()} contract: a "
            "v2 genesis comes from a v1 deployment's finalized round"
        )
    if found.finalized(round) is None:
        raise MigrationRefused(
            f"v1 round {round} of {address} has no finalized model: pick a finalized round "
            "(`flchain chain info --contract ADDRESS` lists the latest)"
        )
    ipfs, store = (s.ipfs_url, None) if s.store == "ipfs" else (None, s.store_dir)
    with open_source(
        rpc=s.rpc_url, contract=address, ipfs=ipfs, store_dir=store, from_block=from_block,
        ipfs_retries=s.retry_attempts,
    ) as source:  # fmt: skip
        v1 = source.ledger
        if not isinstance(v1, Ledger):  # the same address answered v1 above
            raise MigrationRefused(f"{address} changed protocol version between two reads")
        audited = audit_round(v1, source.store, round)
        final = v1.finalized(round)
    if audited.verdict is not Verdict.VERIFIED or final is None:
        raise MigrationRefused(
            f"v1 round {round} of {address} does not audit as verified ({audited.verdict.value}: "
            f"{audited.headline}): its model cannot be a v2 genesis; `flchain audit --round "
            f"{round} --rpc URL --contract {address}` shows why"
        )
    return (found.chain_id, found.address, round), final.digest, final.cid
