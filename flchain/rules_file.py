"""Federation files: the rules (and, for a deployment, the schedule and genesis) as TOML.

```toml
[deployment]                 # fixed forever at `flchain chain deploy`
t0 = 2026-12-01T00:00:00Z    # or unix seconds; left out: the next minute of chain time
round_length = 86400
commit_window = 43200
reveal_window = 21600
min_bond = 0                 # wei
exit_delay = 604800          # seconds
genesis_digest = "0x…"       # `flchain chain genesis` prints both
genesis_cid = "bafk…"

[rules]                      # every field of flchain.protocol.Rules, by name
roi_min_bps = -5000
quorum = 2
aggregation = "median"       # or its number
…
```

Every value is checked against what the contract accepts (its `_checkRules` bounds and the
integer types of its `Rules` struct) before any transaction; each bad field is one line naming
the field, the value and the allowed range (`RulesFileError.problems`), so an operator fixes
them all in one go. Unknown keys and tables are refused (a typo would silently keep a default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flchain.config import read_toml
from flchain.errors import ConfigError
from flchain.protocol import (
    UINT64_MAX,
    Aggregation,
    Rules,
    SimilarityMetric,
    is_unset_benchmark,
)
from flchain.protocol.rules import BYTES32_PATTERN

__all__ = [
    "DEPLOYMENT_FIELDS",
    "RULE_BOUNDS",
    "Deployment",
    "FederationFile",
    "RulesFileError",
    "check_t0",
    "format_utc",
    "load_federation_file",
    "render_federation_file",
    "validate_deployment",
    "validate_federation",
    "validate_rules",
]

_U256 = 2**256 - 1


def _rule_bounds() -> dict[str, tuple[int, int]]:
    """Inclusive bounds of each integer rule, read off `Rules`, whose bounds are the contract's
    (`flchain.protocol.constants`). The ROI band's open ends take the other end's bound: the
    band must be ordered, roi_min_bps ≤ roi_max_bps, which is checked as well."""
    found: dict[str, tuple[Any, Any]] = {  # Field(ge=…, le=…) lands in `metadata`
        name: (
            next((m.ge for m in info.metadata if hasattr(m, "ge")), None),
            next((m.le for m in info.metadata if hasattr(m, "le")), None),
        )
        for name, info in Rules.model_fields.items()
        if info.annotation is int
    }
    found["roi_min_bps"] = found["roi_max_bps"] = (found["roi_min_bps"][0], found["roi_max_bps"][1])
    return {name: (int(low), int(high)) for name, (low, high) in found.items()}


#: Inclusive bounds of each integer rule: the contract's `_checkRules`, else its field's type.
RULE_BOUNDS: dict[str, tuple[int, int]] = _rule_bounds()
_ENUMS: dict[str, type[Aggregation] | type[SimilarityMetric]] = {
    "similarity_metric": SimilarityMetric,
    "aggregation": Aggregation,
}

#: Deployment fields and their inclusive bounds (the constructor's integer types).
DEPLOYMENT_FIELDS: dict[str, tuple[int, int]] = {
    "t0": (0, UINT64_MAX),
    "round_length": (1, UINT64_MAX),
    "commit_window": (1, UINT64_MAX),
    "reveal_window": (1, UINT64_MAX),
    "min_bond": (0, _U256),
    "exit_delay": (0, UINT64_MAX),
}
_DEPLOYMENT_TEXT = ("genesis_digest", "genesis_cid")


class RulesFileError(ConfigError):
    """A federation file with bad fields; `problems` holds one line per field, each naming the
    file (`where`), the field, its value and what is allowed."""

    def __init__(self, where: str, problems: list[str]) -> None:
        lines = tuple(p if p.startswith(f"{where}: ") else f"{where}: {p}" for p in problems)
        super().__init__("; ".join(lines))
        self.problems = lines


@dataclass(frozen=True)
class Deployment:
    """What `chain deploy` fixes forever, validated (t0 None: the next minute of chain time)."""

    t0: int | None
    round_length: int = 86_400
    commit_window: int = 43_200
    reveal_window: int = 21_600
    min_bond: int = 0
    exit_delay: int = 7 * 86_400
    genesis_digest: str | None = None
    genesis_cid: str | None = None


@dataclass(frozen=True)
class FederationFile:
    path: Path
    deployment: Mapping[str, Any]  # raw values, validated by `validate_deployment`
    rules: Mapping[str, Any]  # raw values, validated by `validate_rules`
    #: `protocol = 2` at the top selects FLChainV2 (`flchain.rules_file_v2`); None: not said
    protocol: int | None = None


def format_utc(ts: int) -> str:
    """Unix seconds as `2026-12-01T00:00:00Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: The protocol versions a federation file can name (`protocol = …`).
PROTOCOL_VERSIONS = (1, 2)


def load_federation_file(path: Path) -> FederationFile:
    """Read a federation file (tables `[deployment]` and `[rules]`, both optional, and the key
    `protocol`, 1 or 2)."""
    path = Path(path).expanduser()
    data = read_toml(path, "rules file")
    problems = [
        f"unknown table or key '{key}' (expected protocol = 1 or 2 and the tables [deployment] "
        "and [rules])"
        for key in data
        if key not in ("deployment", "rules", "protocol")
    ]
    protocol = data.get("protocol")
    if protocol is not None and (isinstance(protocol, bool) or protocol not in PROTOCOL_VERSIONS):
        problems.append(f"protocol = {protocol!r} is not a protocol version (allowed 1 or 2)")
    tables: dict[str, Mapping[str, Any]] = {}
    for name in ("deployment", "rules"):
        value = data.get(name, {})
        if not isinstance(value, dict):
            problems.append(f"'{name}' must be a table ([{name}])")
            value = {}
        tables[name] = value
    if problems:
        raise RulesFileError(str(path), problems)
    return FederationFile(path, tables["deployment"], tables["rules"], protocol)


def _int_problem(name: str, value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} = {value!r} is not an integer (allowed {low} to {high})"
    if not low <= value <= high:
        return f"{name} = {value} is out of range (allowed {low} to {high})"
    return None


def _enum_value(name: str, value: Any, enum: type[Aggregation] | type[SimilarityMetric]) -> Any:
    names = ", ".join(f"{m.name.lower()} ({int(m)})" for m in enum)
    if isinstance(value, str) and value.upper() in enum.__members__:
        return enum[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool) and value in {int(m) for m in enum}:
        return enum(value)
    raise ValueError(f"{name} = {value!r} is not one of {names}")


def validate_rules(
    values: Mapping[str, Any], *, base: Rules | None = None, where: str = "rules"
) -> Rules:
    """`Rules` from a `[rules]` table; fields left out keep `base` (default: `Rules()`).

    @raises RulesFileError one line per bad field, each prefixed with `where` (the file)."""
    start = (base or Rules()).model_dump()
    problems: list[str] = []
    for key in values:
        if key not in start:
            problems.append(f"[rules] unknown field '{key}' (fields: {', '.join(start)})")
    merged = {**start, **{k: v for k, v in values.items() if k in start}}
    for name, (low, high) in RULE_BOUNDS.items():
        problem = _int_problem(name, merged[name], low, high)
        if problem:
            problems.append(f"[rules] {problem}")
    for name, enum in _ENUMS.items():
        try:
            merged[name] = _enum_value(name, merged[name], enum)
        except ValueError as exc:
            problems.append(f"[rules] {exc}")
    bench = merged["benchmark_id"]
    problem = benchmark_problem(bench)
    if problem:
        problems.append(f"[rules] {problem}")
    elif isinstance(bench, str):
        merged["benchmark_id"] = bench.lower()
    lo, hi = merged["roi_min_bps"], merged["roi_max_bps"]
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        problems.append(
            f"[rules] roi_min_bps = {lo} is above roi_max_bps = {hi} (allowed roi_min_bps ≤ "
            "roi_max_bps)"
        )
    if problems:
        raise RulesFileError(where, problems)
    return Rules.model_validate(merged)


def benchmark_problem(bench: Any) -> str | None:
    """Why `bench` cannot be a `benchmark_id` (not 0x + 64 hex, or no known benchmark), or
    None."""
    if not _is_bytes32(bench):
        return f"benchmark_id = {bench!r} is not 0x + 64 hex digits"
    if is_unset_benchmark(bench):
        return None
    from flchain.market.benchmark import resolve
    from flchain.market.errors import UnknownBenchmarkError

    try:
        resolve(bench)
    except UnknownBenchmarkError:
        return (
            f"benchmark_id = {bench} is no known benchmark (the zero id selects each round's "
            "shipped window; `flchain market info` lists the shipped ones)"
        )
    return None


def _is_bytes32(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(BYTES32_PATTERN, value) is not None


def _t0_value(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"t0 = {value.isoformat()} has no UTC offset (write e.g. …T00:00:00Z)")
        return int(value.timestamp())
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"t0 = {value!r} is neither unix seconds nor a date-time like 2026-12-01T00:00:00Z"
            ) from None
        return _t0_value(parsed)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"t0 = {value!r} is neither unix seconds nor a date-time")


def validate_deployment(values: Mapping[str, Any], *, where: str = "deployment") -> Deployment:
    """A `Deployment` from a `[deployment]` table (flags already merged in), without touching
    the chain; `check_t0` then compares t0 with the chain's time.

    @raises RulesFileError one line per bad field, each prefixed with `where` (the file)."""
    problems: list[str] = []
    known = (*DEPLOYMENT_FIELDS, *_DEPLOYMENT_TEXT)
    for key in values:
        if key not in known:
            problems.append(f"[deployment] unknown field '{key}' (fields: {', '.join(known)})")
    out: dict[str, Any] = {}
    for name, (low, high) in DEPLOYMENT_FIELDS.items():
        if name not in values or values[name] is None:
            continue
        value = values[name]
        if name == "t0":
            try:
                value = _t0_value(value)
            except ValueError as exc:
                problems.append(f"[deployment] {exc}")
                continue
        problem = _int_problem(name, value, low, high)
        if problem:
            problems.append(f"[deployment] {problem}")
        else:
            out[name] = value
    t0 = out.get("t0")
    spec = Deployment(t0=t0, **{k: v for k, v in out.items() if k != "t0"})
    if spec.commit_window + spec.reveal_window > spec.round_length:
        problems.append(
            f"[deployment] commit_window + reveal_window = "
            f"{spec.commit_window + spec.reveal_window} is longer than round_length = "
            f"{spec.round_length} (allowed: at most round_length)"
        )
    digest, cid = values.get("genesis_digest"), values.get("genesis_cid")
    problems += _genesis_problems(digest, cid)
    if problems:
        raise RulesFileError(where, problems)
    return replace(spec, genesis_digest=str(digest).lower(), genesis_cid=str(cid))


def validate_federation(
    deployment: Mapping[str, Any], rules: Mapping[str, Any], *, where: str
) -> tuple[Deployment, Rules]:
    """Both tables of a federation file, every bad field of either reported at once."""
    problems: list[str] = []
    spec: Deployment | None = None
    checked: Rules | None = None
    try:
        spec = validate_deployment(deployment, where=where)
    except RulesFileError as exc:
        problems += exc.problems
    try:
        checked = validate_rules(rules, where=where)
    except RulesFileError as exc:
        problems += exc.problems
    if spec is None or checked is None:
        raise RulesFileError(where, problems)
    return spec, checked


def check_t0(t0: int, chain_now: int, *, where: str = "deployment") -> None:
    """Refuse a t0 at or before the latest block's time (`chain_now`): round 0 would already be
    running, or over, before anyone could register."""
    if t0 <= chain_now:
        raise RulesFileError(
            where,
            [
                f"[deployment] t0 = {t0} ({format_utc(t0)}) is in the past: the chain's time is "
                f"{chain_now} ({format_utc(chain_now)}); pick a later time or leave t0 out (the "
                "next minute)"
            ],
        )


def _genesis_problems(digest: Any, cid: Any) -> list[str]:
    from flchain.storage.cid import CODEC_DAG_PB, CODEC_RAW, parse_cid
    from flchain.storage.errors import StorageError

    hint = "`flchain chain genesis` prints both"
    problems: list[str] = []
    if digest is None:
        problems.append(f"[deployment] genesis_digest is missing ({hint})")
    elif not _is_bytes32(digest) or int(digest, 16) == 0:
        problems.append(
            f"[deployment] genesis_digest = {digest!r} is not a sha256 digest (0x + 64 hex "
            f"digits, not all zero; {hint})"
        )
    if cid is None:
        problems.append(f"[deployment] genesis_cid is missing ({hint})")
        return problems
    try:
        parsed = parse_cid(str(cid))
    except (StorageError, ValueError):
        problems.append(f"[deployment] genesis_cid = {cid!r} is not a CID ({hint})")
        return problems
    if parsed.version != 1 or parsed.codec not in (CODEC_RAW, CODEC_DAG_PB):
        problems.append(
            f"[deployment] genesis_cid = {cid} must be a CIDv1, raw or dag-pb (as `flchain store "
            "add` prints)"
        )
    elif (
        parsed.codec == CODEC_RAW
        and _is_bytes32(digest)
        and "0x" + parsed.digest.hex() != str(digest).lower()
    ):
        problems.append(
            f"[deployment] genesis_cid = {cid} names other bytes than genesis_digest = {digest} "
            "(a raw CID carries the content's sha256)"
        )
    return problems


def render_federation_file(deployment: Deployment | None, rules: Rules) -> str:
    """A federation file for `deployment` and `rules` (every field written out)."""
    lines: list[str] = []
    if deployment is not None:
        lines.append("[deployment]")
        if deployment.t0 is not None:
            lines.append(f"t0 = {deployment.t0}  # {format_utc(deployment.t0)}")
        for name in ("round_length", "commit_window", "reveal_window", "min_bond", "exit_delay"):
            lines.append(f"{name} = {getattr(deployment, name)}")
        for name in _DEPLOYMENT_TEXT:
            if getattr(deployment, name) is not None:
                lines.append(f'{name} = "{getattr(deployment, name)}"')
        lines.append("")
    lines.append("[rules]")
    for name, value in rules.model_dump().items():
        if name in _ENUMS:
            lines.append(f'{name} = "{_ENUMS[name](value).name.lower()}"')
        elif isinstance(value, str):
            lines.append(f'{name} = "{value}"')
        else:
            lines.append(f"{name} = {value}")
    return "\n".join(lines) + "\n"


_RULE_NOTES = {
    "similarity_threshold_ppm": "similarity above which two strategies share a cluster (ppm)",
    "similarity_metric": "behavioural (agreement of positions) or weight_delta (cosine)",
    "aggregation": "mean_equal, mean_roi, median or trimmed_mean",
    "benchmark_id": "content hash of the benchmark; all zero: each round's shipped window",
}
_DEPLOYMENT_NOTES = {
    "t0": "start of round 0: unix seconds or a date-time with offset; must be in the future "
    "(default: the next minute of chain time)",
    "round_length": "seconds per round",
    "commit_window": "seconds of commit window from the round's start",
    "reveal_window": "seconds of reveal window after it (commit + reveal ≤ round_length)",
    "min_bond": "smallest bond a node registers with (wei)",
    "exit_delay": "seconds from an exit request to the withdrawal",
    "genesis_digest": "sha256 of the genesis model (0x + 64 hex; `flchain chain genesis`)",
    "genesis_cid": "CIDv1 of the genesis model (raw: its digest must be genesis_digest)",
}


def _allowed(low: int, high: int) -> str:
    return f"{low} … {high if high < 2**63 else f'2^{high.bit_length()} − 1'}"


def federation_reference() -> str:
    """The field tables of a federation file, generated from the bounds above and `Rules`
    (docs/deploy.md carries them between markers; a test checks they are current)."""
    defaults = Deployment(t0=None)
    lines = ["| `[deployment]` field | allowed | default | meaning |", "| --- | --- | --- | --- |"]
    for name, note in _DEPLOYMENT_NOTES.items():
        bounds = DEPLOYMENT_FIELDS.get(name)
        allowed = _allowed(*bounds) if bounds else "text"
        default = getattr(defaults, name, None)
        lines.append(f"| `{name}` | {allowed} | {'-' if default is None else default} | {note} |")
    lines += ["", "| `[rules]` field | allowed | default | meaning |", "| --- | --- | --- | --- |"]
    rules = Rules()
    for name, info in Rules.model_fields.items():
        value = getattr(rules, name)
        if name in _ENUMS:
            allowed = ", ".join(m.name.lower() for m in _ENUMS[name])
            shown = f"`{_ENUMS[name](value).name.lower()}`"
        elif name in RULE_BOUNDS:
            allowed, shown = _allowed(*RULE_BOUNDS[name]), str(value)
        else:
            allowed, shown = "0x + 64 hex", "all zero"
        note = (info.description or _RULE_NOTES.get(name, "")).replace("|", "\\|")
        lines.append(f"| `{name}` | {allowed} | {shown} | {_RULE_NOTES.get(name, note)} |")
    lines.append("")
    lines.append("Also checked: `roi_min_bps ≤ roi_max_bps`, and a `benchmark_id` other than zero "
                 "must be a known benchmark (`flchain market info`).")  # fmt: skip
    return "\n".join(lines) + "\n"
