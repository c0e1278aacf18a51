"""Federation files for protocol v2 (FLChainV2): `protocol = 2` at the top of the file.

```toml
protocol = 2

[deployment]                 # the constructor's Deployment struct, fixed forever
t0 = 2026-12-01T00:00:00Z    # or unix seconds; left out: the next minute of chain time
round_length = 86400         # commit + reveal + beacon windows < round_length ≤ 7 days
commit_window = 43200
reveal_window = 21600
beacon_window = 600          # ≥ beacon_delay + beacon_period
exit_delay = 604800          # ≥ 2 × round_length
min_notice_rounds = 2        # the smallest notice a rule change can ever have
min_bond = "1ether"          # wei, or a string with a unit: "0.5ether", "20gwei"
genesis_digest = "0x…"       # `flchain chain genesis` prints both
genesis_cid = "bafk…"
beacon_public_key = "0x…"    # 48-byte BLS12-381 G1 key of the drand chain
beacon_genesis = 1692803367  # that chain's genesis time and period
beacon_period = 3
beacon_delay = 10            # δ: the beacon round is produced at or after reveal end + δ
# beacon_devnet_seed = "…"   # instead of the key: a local stand-in (devnets only)

[rules]                      # every field of flchain.protocol.machine.RulesV2 by name
finality_ppm = 666666
no_reveal_slash_wei = "0.05ether"
…
```

The same contract as the v1 file (`flchain.rules_file`): every value is checked against what
FLChainV2's constructor and `scheduleRules` accept (docs/protocol.md §1, §2) before any
transaction, each bad field one line naming the field, its value and what is allowed; then the
reference machine's own `check_deployment` / `check_rules` run on the result, so a bound this
module forgot is still refused before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from flchain.protocol import forward as fw
from flchain.protocol import machine as m
from flchain.protocol.beacon import PUBLIC_KEY_BYTES, DevnetBeacon
from flchain.protocol.types import Aggregation, SimilarityMetric
from flchain.rules_file import (
    RulesFileError,
    _allowed,
    _enum_value,
    _genesis_problems,
    _int_problem,
    _t0_value,
    benchmark_problem,
    format_utc,
)

__all__ = [
    "DEPLOYMENT_V2_DEFAULTS",
    "RULE_V2_BOUNDS",
    "DeploymentV2Spec",
    "build_deployment",
    "check_rules_against",
    "federation_reference_v2",
    "render_rules_v2",
    "rules_v2_doc",
    "validate_deployment_v2",
    "validate_federation_v2",
    "validate_rules_v2",
    "wei_value",
    "with_source",
]

_U64: Final = 2**64 - 1
_U128: Final = 2**128 - 1
_U256: Final = 2**256 - 1
_WEI_UNITS: Final = {"ether": 10**18, "eth": 10**18, "gwei": 10**9, "wei": 1}

#: `[deployment]` integer fields and their inclusive bounds (the contract's own, else the
#: struct's type); the cross-field rules are checked after them.
DEPLOYMENT_V2_FIELDS: Final[dict[str, tuple[int, int]]] = {
    "t0": (0, _U64),
    "round_length": (1, m.PAUSE_COOLDOWN),
    "commit_window": (1, _U64),
    "reveal_window": (1, _U64),
    "beacon_window": (1, _U64),
    "exit_delay": (0, _U64),
    "min_notice_rounds": (1, m.MAX_NOTICE_ROUNDS),
    "min_bond": (1, _U256),
    "beacon_genesis": (0, _U64),
    "beacon_period": (1, _U64),
    "beacon_delay": (0, _U64),
}
_WEI_DEPLOYMENT: Final = frozenset({"min_bond"})
_TEXT: Final = ("genesis_digest", "genesis_cid", "beacon_public_key", "beacon_devnet_seed")
#: Defaults of the fields a file may leave out (the beacon's genesis and period default only
#: with `beacon_devnet_seed`: a real drand chain has its own).
DEPLOYMENT_V2_DEFAULTS: Final[dict[str, int]] = {
    "round_length": 86_400,
    "commit_window": 43_200,
    "reveal_window": 21_600,
    "beacon_window": 600,
    "exit_delay": 7 * 86_400,
    "min_notice_rounds": 2,
    "beacon_delay": 10,
}
_DEVNET_BEACON_PERIOD: Final = 3

_DEFAULT_RULES: Final = m.RulesV2()
_ENUMS: Final[dict[str, type[Aggregation] | type[SimilarityMetric]]] = {
    "similarity_metric": SimilarityMetric,
    "aggregation": Aggregation,
}
_WEI_RULES: Final = frozenset(
    {"emission_wei", "no_reveal_slash_wei", "penalty_slash_wei", "wrong_vote_slash_wei"}
)

#: Inclusive bounds of each integer rule (docs/protocol.md §2.2; else the struct's type).
#: `notice_rounds` starts at the deployment's `min_notice_rounds`, and the slash cap and the
#: ROI band's order are cross-field checks.
RULE_V2_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    "roi_min_bps": (m.MIN_ROI_MIN_BPS, m.MAX_ROI_MAX_BPS),
    "roi_max_bps": (m.MIN_ROI_MIN_BPS, m.MAX_ROI_MAX_BPS),
    "eligibility_min_score_bps": (
        -m.MAX_ABS_ELIGIBILITY_MIN_SCORE_BPS,
        m.MAX_ABS_ELIGIBILITY_MIN_SCORE_BPS,
    ),
    "probation_rounds": (0, m.MAX_PROBATION_ROUNDS),
    "penalty_cooldown_rounds": (0, m.MAX_PENALTY_COOLDOWN_ROUNDS),
    "max_participants": (1, 2**16 - 1),
    "notice_rounds": (1, m.MAX_NOTICE_ROUNDS),
    "finality_ppm": (m.FINALITY_PPM_ABOVE + 1, m.MAX_FINALITY_PPM),
    "max_payload_bytes": (1, m.MAX_PAYLOAD_BYTES),
    "similarity_threshold_ppm": (0, m.MAX_SIMILARITY_THRESHOLD_PPM),
    "cluster_cap_ppm": (1, m.MAX_CLUSTER_CAP_PPM),
    "trim_ppm": (0, m.MAX_TRIM_PPM),
    "roi_tolerance_bps": (0, m.MAX_ROI_TOLERANCE_BPS),
    "norm_bound_micro": (0, _U64),
    "fee_ppm": (0, m.MAX_FEE_PPM),
    "bounty_ppm": (0, m.MAX_BOUNTY_PPM),
    "emission_wei": (0, _U128),
    "no_reveal_slash_wei": (0, _U128),
    "penalty_slash_wei": (0, _U128),
    "wrong_vote_slash_wei": (0, _U128),
    # forward scoring (§15.1); the cross-field rules (lag ≥ 1 and fitting the schedule, trail
    # ≥ 1, when forward_bars > 0) are the machine's `check_rules`, run before anything is sent
    "forward_bars": (0, fw.MAX_FORWARD_BARS),
    "forward_margin_seconds": (0, fw.MAX_FORWARD_MARGIN_SECONDS),
    "forward_lag_rounds": (0, fw.MAX_FORWARD_LAG_ROUNDS),
    "forward_trail_rounds": (0, fw.MAX_FORWARD_TRAIL_ROUNDS),
    "forward_noise_z_ppm": (0, fw.MAX_FORWARD_NOISE_Z_PPM),
    "forward_noise_floor_bps": (0, fw.MAX_FORWARD_NOISE_FLOOR_BPS),
    "norm_bound_rel_ppm": (0, fw.MAX_NORM_BOUND_REL_PPM),
}
#: What a file names: every RulesV2 field but `effective_round` (the command's `--round`).
RULE_V2_NAMES: Final = tuple(f.name for f in fields(m.RulesV2) if f.name != "effective_round")


@dataclass(frozen=True)
class DeploymentV2Spec:
    """A validated `[deployment]` table whose t0 may still be open (None: the next minute of
    chain time); `build_deployment` fixes it and the beacon fields that default from it."""

    t0: int | None
    round_length: int
    commit_window: int
    reveal_window: int
    beacon_window: int
    exit_delay: int
    min_notice_rounds: int
    min_bond: int
    genesis_digest: bytes
    genesis_cid: bytes
    beacon_public_key: bytes
    beacon_genesis: int | None  # None: t0 (devnet seed only)
    beacon_period: int
    beacon_delay: int
    source_chain_id: int = 0
    source_contract: str = m.ZERO_ADDRESS
    source_round: int = 0


def wei_value(name: str, value: Any, low: int, high: int) -> tuple[int | None, str | None]:
    """(wei, None) from an integer or a string such as "0.5ether", "20 gwei", "1000"
    (a bare number in a string is wei); (None, problem) otherwise."""
    if isinstance(value, str):
        raw = value.strip().lower().replace(" ", "").replace("_", "")
        unit = next((u for u in _WEI_UNITS if raw.endswith(u)), "wei")
        number = raw[: -len(unit)] if raw.endswith(unit) else raw
        try:
            wei = Decimal(number) * _WEI_UNITS[unit]
        except InvalidOperation:
            return None, (
                f"{name} = {value!r} is not an amount (write wei as an integer, or e.g. "
                '"0.5ether", "20gwei")'
            )
        if wei != wei.to_integral_value():
            return None, f"{name} = {value!r} is not a whole number of wei"
        value = int(wei)
    problem = _int_problem(name, value, low, high)
    return (None, problem) if problem else (int(value), None)


def _hex_bytes(value: Any, length: int) -> bytes | None:
    if not isinstance(value, str) or not re.fullmatch(rf"0x[0-9a-fA-F]{{{2 * length}}}", value):
        return None
    return bytes.fromhex(value[2:])


def _beacon_key_problem(key: bytes) -> str | None:
    """Why `key` is not a BLS12-381 G1 public key drand's scheme can verify under, or None."""
    from eth_typing import BLSPubkey

    from flchain.protocol.beacon import load_bls  # ~0.2 s: only when a key is checked

    try:
        valid = load_bls().KeyValidate(BLSPubkey(key))
    except Exception:  # py_ecc parses untrusted bytes; any failure is a malformed key
        valid = False
    return None if valid else "is not a point of BLS12-381 G1's prime subgroup"


def _beacon_problems(values: Mapping[str, Any]) -> tuple[bytes | None, list[str]]:
    key_text, seed = values.get("beacon_public_key"), values.get("beacon_devnet_seed")
    if key_text is not None and seed is not None:
        return None, [
            "[deployment] beacon_public_key and beacon_devnet_seed are both set (give the drand "
            "chain's key, or on a devnet a seed)"
        ]
    if seed is not None:
        if not isinstance(seed, str) or not seed:
            return None, [f"[deployment] beacon_devnet_seed = {seed!r} is not a non-empty text"]
        return DevnetBeacon(seed.encode()).public_key, []
    if key_text is None:
        return None, [
            "[deployment] beacon_public_key is missing (the drand chain's 48-byte public key as "
            "0x + 96 hex digits; on a devnet set beacon_devnet_seed instead)"
        ]
    key = _hex_bytes(key_text, PUBLIC_KEY_BYTES)
    if key is None:
        return None, [
            f"[deployment] beacon_public_key = {key_text!r} is not 0x + 96 hex digits (a 48-byte "
            "compressed BLS12-381 G1 key)"
        ]
    problem = _beacon_key_problem(key)
    if problem:
        return None, [f"[deployment] beacon_public_key = {key_text} {problem}"]
    return key, []


def validate_deployment_v2(
    values: Mapping[str, Any], *, where: str = "deployment"
) -> DeploymentV2Spec:
    """A `DeploymentV2Spec` from a `[deployment]` table (flags already merged in), without
    touching the chain; `build_deployment` then fixes t0 and runs the contract's checks.

    @raises RulesFileError one line per bad field, each prefixed with `where` (the file)."""
    problems: list[str] = []
    known = (*DEPLOYMENT_V2_FIELDS, *_TEXT)
    for key in values:
        if key not in known:
            problems.append(f"[deployment] unknown field '{key}' (fields: {', '.join(known)})")
    got: dict[str, Any] = dict(DEPLOYMENT_V2_DEFAULTS)
    for name, (low, high) in DEPLOYMENT_V2_FIELDS.items():
        value = values.get(name)
        if value is None:
            continue
        if name == "t0":
            try:
                value = _t0_value(value)
            except ValueError as exc:
                problems.append(f"[deployment] {exc}")
                continue
        if name in _WEI_DEPLOYMENT:
            value, problem = wei_value(name, value, low, high)
        else:
            problem = _int_problem(name, value, low, high)
        if problem:
            problems.append(f"[deployment] {problem}")
        got[name] = value
    if values.get("min_bond") is None:
        problems.append(
            "[deployment] min_bond is missing (wei, > 0 and at least the worst slash of one "
            "round: max(no_reveal_slash_wei, penalty_slash_wei) + wrong_vote_slash_wei)"
        )
    beacon_key, beacon = _beacon_problems(values)
    problems += beacon
    seeded = values.get("beacon_devnet_seed") is not None
    if not seeded:
        problems += [
            f"[deployment] {name} is missing (the drand chain's; only beacon_devnet_seed has a "
            "default)"
            for name in ("beacon_genesis", "beacon_period")
            if values.get(name) is None
        ]
    got.setdefault("beacon_period", _DEVNET_BEACON_PERIOD)
    problems += _schedule_problems(got)
    digest, cid = values.get("genesis_digest"), values.get("genesis_cid")
    problems += _genesis_problems(digest, cid)
    if problems:
        raise RulesFileError(where, problems)
    from flchain.ledger.hashes import cid_to_bytes

    assert beacon_key is not None
    return DeploymentV2Spec(
        t0=got.get("t0"),
        round_length=got["round_length"],
        commit_window=got["commit_window"],
        reveal_window=got["reveal_window"],
        beacon_window=got["beacon_window"],
        exit_delay=got["exit_delay"],
        min_notice_rounds=got["min_notice_rounds"],
        min_bond=got["min_bond"],
        genesis_digest=bytes.fromhex(str(digest)[2:]),
        genesis_cid=cid_to_bytes(str(cid)),
        beacon_public_key=beacon_key,
        beacon_genesis=got.get("beacon_genesis"),
        beacon_period=got["beacon_period"],
        beacon_delay=got["beacon_delay"],
    )


def _schedule_problems(got: Mapping[str, Any]) -> list[str]:
    """The cross-field rules of docs/protocol.md §1 that do not need t0, on the values that
    passed their own bounds."""
    if not all(isinstance(got.get(k), int) for k in DEPLOYMENT_V2_DEFAULTS):
        return []  # a field already failed; its line says so
    length = got["round_length"]
    windows = got["commit_window"] + got["reveal_window"] + got["beacon_window"]
    problems = []
    if windows >= length:
        problems.append(
            f"[deployment] commit_window + reveal_window + beacon_window = {windows} is not "
            f"below round_length = {length} (the attest window would be empty)"
        )
    if got["exit_delay"] < 2 * length:
        problems.append(
            f"[deployment] exit_delay = {got['exit_delay']} is below 2 × round_length = "
            f"{2 * length} (allowed: at least two rounds)"
        )
    period = got.get("beacon_period")
    if isinstance(period, int) and got["beacon_window"] < got["beacon_delay"] + period:
        problems.append(
            f"[deployment] beacon_window = {got['beacon_window']} is below beacon_delay + "
            f"beacon_period = {got['beacon_delay'] + period} (the beacon round would not exist "
            "before the window closes)"
        )
    return problems


def build_deployment(spec: DeploymentV2Spec, t0: int, *, where: str = "deployment") -> m.Deployment:
    """The constructor's `Deployment` with round 0 at `t0`, refused as the contract would refuse
    it (`check_deployment`), each reason one line."""
    beacon_genesis = t0 if spec.beacon_genesis is None else spec.beacon_genesis
    deployment = m.Deployment(
        t0=t0, round_length=spec.round_length, commit_window=spec.commit_window,
        reveal_window=spec.reveal_window, beacon_window=spec.beacon_window,
        exit_delay=spec.exit_delay, min_notice_rounds=spec.min_notice_rounds,
        min_bond=spec.min_bond, genesis_digest=spec.genesis_digest, genesis_cid=spec.genesis_cid,
        beacon_genesis=beacon_genesis, beacon_period=spec.beacon_period,
        beacon_delay=spec.beacon_delay, beacon_public_key=spec.beacon_public_key,
        source_chain_id=spec.source_chain_id, source_contract=spec.source_contract,
        source_round=spec.source_round,
    )  # fmt: skip
    latest = deployment.reveal_end(0) + deployment.beacon_delay
    if beacon_genesis > latest:
        raise RulesFileError(
            where,
            [
                f"[deployment] beacon_genesis = {beacon_genesis} ({format_utc(beacon_genesis)}) "
                f"is after round 0's reveal end + beacon_delay = {latest} ({format_utc(latest)}):"
                " the beacon would have no round for round 0; start t0 later"
            ],
        )
    try:
        m.check_deployment(deployment)
    except m.ProtocolError as exc:
        raise RulesFileError(where, [f"[deployment] the contract would refuse it: {exc}"]) from None
    return deployment


def validate_rules_v2(
    values: Mapping[str, Any],
    *,
    min_notice_rounds: int,
    min_bond: int | None,
    base: m.RulesV2 | None = None,
    effective_round: int = 0,
    where: str = "rules",
) -> m.RulesV2:
    """`RulesV2` from a `[rules]` table, effective from `effective_round`; fields left out keep
    `base` (default: `RulesV2()`). `min_notice_rounds` and `min_bond` are the deployment's
    (the notice's lower bound, the slash cap).

    @raises RulesFileError one line per bad field, each prefixed with `where` (the file)."""
    start: dict[str, Any] = {
        f.name: getattr(base or _DEFAULT_RULES, f.name) for f in fields(m.RulesV2)
    }
    problems: list[str] = []
    for key in values:
        if key not in RULE_V2_NAMES:
            hint = (
                " (v1's head count: v2 finalizes by stake, finality_ppm)" if key == "quorum" else ""
            )
            problems.append(
                f"[rules] unknown field '{key}'{hint} (fields: {', '.join(RULE_V2_NAMES)})"
            )
    merged = {**start, **{k: v for k, v in values.items() if k in RULE_V2_NAMES}}
    merged["effective_round"] = effective_round
    bounds = dict(RULE_V2_BOUNDS, notice_rounds=(min_notice_rounds, m.MAX_NOTICE_ROUNDS))
    for name, (low, high) in bounds.items():
        if name in _WEI_RULES:
            merged[name], problem = wei_value(name, merged[name], low, high)
        else:
            problem = _int_problem(name, merged[name], low, high)
        if problem:
            problems.append(f"[rules] {problem}")
    for name, enum in _ENUMS.items():
        try:
            merged[name] = int(_enum_value(name, merged[name], enum))
        except ValueError as exc:
            problems.append(f"[rules] {exc}")
    bench = merged["benchmark_id"]
    if isinstance(bench, bytes):
        bench = "0x" + bench.hex()
    problem = benchmark_problem(bench)
    if problem:
        problems.append(f"[rules] {problem}")
    else:
        merged["benchmark_id"] = bytes.fromhex(bench[2:])
    lo, hi = merged["roi_min_bps"], merged["roi_max_bps"]
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        problems.append(
            f"[rules] roi_min_bps = {lo} is above roi_max_bps = {hi} (allowed roi_min_bps ≤ "
            "roi_max_bps)"
        )
    if min_bond is not None:  # unknown (itself refused): no cap line on top of its own
        problems += _slash_cap_problems(merged, min_bond)
    if problems:
        raise RulesFileError(where, problems)
    return m.RulesV2(**merged)


def _slash_cap_problems(merged: Mapping[str, Any], min_bond: int) -> list[str]:
    """§2.2's per-node, per-round cap: max(no-reveal, penalty) + wrong vote ≤ minBond."""
    wrong = merged["wrong_vote_slash_wei"]
    if not isinstance(wrong, int):
        return []
    problems = []
    for name in ("no_reveal_slash_wei", "penalty_slash_wei"):
        value = merged[name]
        if isinstance(value, int) and value + wrong > min_bond:
            problems.append(
                f"[rules] {name} + wrong_vote_slash_wei = {value + wrong} wei is above the "
                f"deployment's min_bond = {min_bond} wei (a round's worst slash must fit in the "
                "smallest bond)"
            )
    return problems


def validate_federation_v2(
    deployment: Mapping[str, Any], rules: Mapping[str, Any], *, where: str
) -> tuple[DeploymentV2Spec, m.RulesV2]:
    """Both tables of a v2 federation file, every bad field of either reported at once (the
    rules' deployment-dependent bounds need a valid deployment)."""
    problems: list[str] = []
    spec: DeploymentV2Spec | None = None
    try:
        spec = validate_deployment_v2(deployment, where=where)
    except RulesFileError as exc:
        problems += exc.problems
    # The rules' bounds that depend on the deployment use its fields that are valid on their
    # own, so one bad deployment field does not add lines about the rules.
    raw_notice = deployment.get("min_notice_rounds", DEPLOYMENT_V2_DEFAULTS["min_notice_rounds"])
    low, high = DEPLOYMENT_V2_FIELDS["min_notice_rounds"]
    min_notice = raw_notice if _int_problem("", raw_notice, low, high) is None else low
    min_bond, _ = wei_value(
        "min_bond", deployment.get("min_bond"), *DEPLOYMENT_V2_FIELDS["min_bond"]
    )
    if spec is not None:
        min_notice, min_bond = spec.min_notice_rounds, spec.min_bond
    checked: m.RulesV2 | None = None
    try:
        checked = validate_rules_v2(
            rules, min_notice_rounds=min_notice, min_bond=min_bond, where=where
        )
    except RulesFileError as exc:
        problems += exc.problems
    if spec is None or checked is None:
        raise RulesFileError(where, problems)
    return spec, checked


def check_rules_against(rules: m.RulesV2, deployment: m.Deployment, *, where: str) -> None:
    """The contract's own bounds (`check_rules`) as one line: the last gate before sending."""
    try:
        m.check_rules(rules, deployment)
    except m.ProtocolError as exc:
        raise RulesFileError(where, [f"[rules] the contract would refuse them: {exc}"]) from None


# ---------------------------------------------------------------- showing rules


def rules_v2_doc(rules: m.RulesV2) -> dict[str, Any]:
    """Every rule by name, JSON-ready: enums by name, bytes as 0x-hex, wei as integers."""
    doc: dict[str, Any] = {}
    for name in RULE_V2_NAMES:
        value = getattr(rules, name)
        if name in _ENUMS:
            doc[name] = _ENUMS[name](value).name.lower()
        elif isinstance(value, bytes):
            doc[name] = "0x" + value.hex()
        else:
            doc[name] = value
    return doc


def render_rules_v2(rules: m.RulesV2) -> str:
    """A v2 federation file's `protocol` line and `[rules]` table for `rules` (every field)."""
    lines = ["protocol = 2", "", "[rules]"]
    for name, value in rules_v2_doc(rules).items():
        lines.append(f'{name} = "{value}"' if isinstance(value, str) else f"{name} = {value}")
    return "\n".join(lines) + "\n"


_DEPLOYMENT_NOTES: Final = {
    "t0": "start of round 0: unix seconds or a date-time with offset, in the future (default: "
    "the next minute of chain time)",
    "round_length": "seconds per round (≤ 7 days)",
    "commit_window": "seconds of commit window from the round's start",
    "reveal_window": "seconds of reveal window after it",
    "beacon_window": "seconds after the reveal window for the beacon post (≥ beacon_delay + "
    "beacon_period; commit + reveal + beacon < round_length)",
    "exit_delay": "seconds from an exit request to the withdrawal (≥ 2 × round_length)",
    "min_notice_rounds": "the smallest notice (rounds) a rule change can ever have",
    "min_bond": "smallest active bond, wei (≥ a round's worst slash)",
    "beacon_genesis": "the drand chain's genesis time (default with a devnet seed: t0; ≤ round "
    "0's reveal end + beacon_delay)",
    "beacon_period": "the drand chain's period, seconds (default with a devnet seed: 3)",
    "beacon_delay": "δ: the seed's beacon round is the first at or after reveal end + δ",
    "genesis_digest": "sha256 of the genesis model (0x + 64 hex; `flchain chain genesis`)",
    "genesis_cid": "CIDv1 of the genesis model, raw or dag-pb (raw: its digest must be "
    "genesis_digest)",
    "beacon_public_key": "the drand chain's BLS12-381 G1 key (0x + 96 hex)",
    "beacon_devnet_seed": "instead of a key, on a devnet: a local stand-in beacon from this "
    "seed (anyone who knows it signs every round)",
}
_RULE_NOTES: Final = {
    "roi_min_bps": "lowest acceptable ROI claim (bps; ≤ roi_max_bps)",
    "roi_max_bps": "highest acceptable ROI claim (bps)",
    "eligibility_min_score_bps": "score a node past probation must keep (bps)",
    "probation_rounds": "merged rounds before the score gate applies",
    "penalty_cooldown_rounds": "rounds a penalty keeps a node ineligible",
    "max_participants": "updates kept by the merge's select step",
    "notice_rounds": "how far ahead the next version must take effect (≥ min_notice_rounds)",
    "finality_ppm": "share of the round's frozen stake a result needs to be final",
    "max_payload_bytes": "largest update payload a reveal carries",
    "similarity_threshold_ppm": "similarity above which two strategies share a cluster",
    "cluster_cap_ppm": "max total weight share of one cluster",
    "similarity_metric": "behavioural (agreement of positions) or weight_delta (cosine)",
    "aggregation": "mean_equal, mean_roi, median or trimmed_mean",
    "trim_ppm": "trimmed-mean cut per side",
    "roi_tolerance_bps": "max \\|claimed − recomputed\\| ROI (bps)",
    "norm_bound_micro": "max L2 norm of (update − base), in 1e-6 units",
    "fee_ppm": "backtest fee rate (ppm of notional)",
    "bounty_ppm": "share of a slash paid to the third party who applies it",
    "benchmark_id": "content hash of the benchmark; all zero: each round's shipped window",
    "emission_wei": "budget a round reserves from the pool (wei)",
    "no_reveal_slash_wei": "slash of a commitment never revealed (wei)",
    "penalty_slash_wei": "slash of a node the final result penalised (wei)",
    "wrong_vote_slash_wei": "slash of a vote for a result other than the final one (wei)",
    "forward_bars": "scored 15-minute bars of a round's forward window; 0: forward scoring off "
    "(protocol.md §15)",
    "forward_margin_seconds": "gap between a round's reveal end and its first scored bar (s)",
    "forward_lag_rounds": "a round's window is voted at the commits of round + lag (≥ 1 when on; "
    "its bars must have closed by then)",
    "forward_trail_rounds": "scored rounds a node's forward record keeps (≥ 1 when on)",
    "forward_noise_z_ppm": "standard errors the record's score deducts (ppm)",
    "forward_noise_floor_bps": "smallest per-round standard deviation the deduction assumes (bps)",
    "norm_bound_rel_ppm": "max ‖update − base‖ as ppm of ‖base‖ (0: off), beside norm_bound_micro",
}


def federation_reference_v2() -> str:
    """The field tables of a v2 federation file (docs/deploy.md carries them between markers;
    a test checks they are current)."""
    lines = ["| `[deployment]` field | allowed | default | meaning |", "| --- | --- | --- | --- |"]
    for name, note in _DEPLOYMENT_NOTES.items():
        bounds = DEPLOYMENT_V2_FIELDS.get(name)
        allowed = _allowed(*bounds) if bounds else "text"
        default = DEPLOYMENT_V2_DEFAULTS.get(name, "-")
        lines.append(f"| `{name}` | {allowed} | {default} | {note} |")
    lines += ["", "| `[rules]` field | allowed | default | meaning |", "| --- | --- | --- | --- |"]
    defaults = rules_v2_doc(_DEFAULT_RULES)
    for name in RULE_V2_NAMES:
        if name in _ENUMS:
            allowed = ", ".join(x.name.lower() for x in _ENUMS[name])
            shown = f"`{defaults[name]}`"
        elif name in RULE_V2_BOUNDS:
            allowed, shown = _allowed(*RULE_V2_BOUNDS[name]), str(defaults[name])
        else:
            allowed, shown = "0x + 64 hex", "all zero"
        lines.append(f"| `{name}` | {allowed} | {shown} | {_RULE_NOTES[name]} |")
    lines.append("")
    lines.append(
        "Also checked: `roi_min_bps ≤ roi_max_bps`; `notice_rounds ≥ min_notice_rounds`; "
        "`max(no_reveal_slash_wei, penalty_slash_wei) + wrong_vote_slash_wei ≤ min_bond`; a "
        "`benchmark_id` other than zero must be a known benchmark (`flchain market info`). Wei "
        'values may be written with a unit: `"0.05ether"`, `"20gwei"`.'
    )
    return "\n".join(lines) + "\n"


def with_source(
    spec: DeploymentV2Spec, chain_id: int, contract: str, round: int
) -> DeploymentV2Spec:
    """`spec` with the v1 round it migrates from (`genesisSource`)."""
    return replace(spec, source_chain_id=chain_id, source_contract=contract, source_round=round)
