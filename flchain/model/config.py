"""Model configuration, its safetensors metadata form, and the exploration directive menu.

Architectural constraint: every feature set produces exactly `N_FEATURES` inputs, and the
network shape depends only on `N_FEATURES` and `hidden`.

Coherent exploration: an exploration directive may change only what keeps the meaning of every
weight — which of the global model's feature slots are masked (zeroed) in training
(`directive_mask`), the learning rate, the epochs, the seed of a perturbation of the base
before training. It never changes the feature set or the lookbacks: the weights of a slot mean
"this feature of the global config" for every node, so averaging them is meaningful, and the
merge scores every update under the global model's config (the config it is merged into).
The `Directive` type still carries ``feature_set`` and ``lookback_scale`` (its v1 wire form);
drawn from `directive_menu(base)` they are always the base's, and `ModelConfig.following`
ignores them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from itertools import combinations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flchain.model.errors import ModelError
from flchain.protocol import Address, Directive

N_FEATURES = 8
N_OUTPUTS = 3  # logits for short, flat, long
BASE_LOOKBACKS = (2, 4, 8, 16)
MAX_LOOKBACK_SCALE = 4
METADATA_PREFIX = "flchain.model."
FORMAT_VERSION = 1

# Feature-slot layouts; each has exactly N_FEATURES entries (kind, lookback index or -1).
FEATURE_SETS: dict[str, tuple[tuple[str, int], ...]] = {
    "momentum": (
        ("ret", 0),
        ("ret", 1),
        ("ret", 2),
        ("ret", 3),
        ("ma_gap", 2),
        ("vol_ratio", -1),
        ("volume", -1),
        ("range_pos", -1),
    ),
    "trend": (
        ("ma_gap", 0),
        ("ma_gap", 1),
        ("ma_gap", 2),
        ("ma_gap", 3),
        ("ret", 1),
        ("vol_ratio", -1),
        ("volume", -1),
        ("range_pos", -1),
    ),
    "mixed": (
        ("ret", 0),
        ("ret", 2),
        ("ma_gap", 1),
        ("ma_gap", 3),
        ("ret", 3),
        ("vol_ratio", -1),
        ("volume", -1),
        ("range_pos", -1),
    ),
}
assert all(len(v) == N_FEATURES for v in FEATURE_SETS.values())


class ModelConfig(BaseModel):
    """Everything needed to rebuild features, the network and its training run.

    @param feature_set key of `FEATURE_SETS`
    @param lookback_scale multiplies `BASE_LOOKBACKS` (1 … `MAX_LOOKBACK_SCALE`)
    @param hidden width of the single hidden layer
    @param learning_rate_ppm Adam learning rate in 1e-6 units
    @param epochs passes over the training data
    @param batch_size minibatch size
    @param label_horizon bars ahead the training label looks
    @param init_seed seed of the initial weights (genesis) or of the perturbation of the base
    @param perturb_ppm std-dev of that perturbation relative to each tensor's RMS, ppm (0 = none)
    @param decision_band_micro no-trade band of the decision rule, in 1e-6 logit units: the
        held position changes only to one whose logit is more than the band above the held
        one's (0: memoryless argmax, today's rule). To become a protocol rule in v2.
    @param label_fee_ppm fee per side the training labels net out of the forward return
        (0: labels ignore fees). To become a protocol rule in v2.
    @param train_mask feature slots zeroed in training (an exploration directive's mask; the
        features are all present when the model is scored or used)
    @param base_digest digest of the global model this config's weights started from
    @param directive the exploration directive followed in this round, if any
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = FORMAT_VERSION
    feature_set: str = "momentum"
    lookback_scale: int = Field(1, ge=1, le=MAX_LOOKBACK_SCALE)
    hidden: int = Field(16, ge=1, le=256)
    learning_rate_ppm: int = Field(3_000, ge=1, le=1_000_000)
    epochs: int = Field(4, ge=0, le=1_000)
    batch_size: int = Field(128, ge=1, le=1_000_000)
    label_horizon: int = Field(8, ge=1, le=256)
    init_seed: int = Field(0, ge=0, lt=2**63)
    perturb_ppm: int = Field(0, ge=0, le=1_000_000)
    decision_band_micro: int = Field(0, ge=0, le=100_000_000)
    label_fee_ppm: int = Field(0, ge=0, le=100_000)
    train_mask: tuple[int, ...] = ()
    base_digest: str | None = None
    directive: Directive | None = None

    def model_post_init(self, _context: object) -> None:
        if self.feature_set not in FEATURE_SETS:
            raise ModelError(
                f"unknown feature set {self.feature_set!r}; "
                f"known: {', '.join(sorted(FEATURE_SETS))}"
            )
        if self.version != FORMAT_VERSION:
            raise ModelError(f"model config version {self.version} is not supported")
        if list(self.train_mask) != sorted(set(self.train_mask)) or not all(
            0 <= k < N_FEATURES for k in self.train_mask
        ):
            raise ModelError(
                f"train_mask must list distinct feature slots 0 … {N_FEATURES - 1} in order"
            )

    @property
    def lookbacks(self) -> tuple[int, ...]:
        return tuple(b * self.lookback_scale for b in BASE_LOOKBACKS)

    @property
    def vol_window(self) -> int:
        return 2 * self.lookbacks[-1]  # 32 bars at scale 1, 128 (= WARMUP) at the largest

    @property
    def learning_rate(self) -> float:
        return self.learning_rate_ppm / 1_000_000

    def following(self, directive: Directive, base_digest: str | None) -> ModelConfig:
        """This config with a directive's choices applied (and the base digest recorded): its
        training mask, learning rate, epochs and perturbation seed — never the feature set or
        lookbacks, which stay this (the global model's) config's."""
        return self.model_copy(
            update={
                "train_mask": directive_mask(directive),
                "learning_rate_ppm": directive.learning_rate_ppm,
                "epochs": directive.epochs,
                "init_seed": directive.init_seed,
                "perturb_ppm": self.perturb_ppm or DEFAULT_PERTURB_PPM,
                "base_digest": base_digest,
                "directive": directive,
            }
        )


DEFAULT_PERTURB_PPM = 50_000  # 5 % of each tensor's RMS: enough to leave a cluster, not to wreck
MASKED_FEATURES = 2  # feature slots a directive masks in training
_MASKS = tuple(combinations(range(N_FEATURES), MASKED_FEATURES))


def directive_mask(directive: Directive) -> tuple[int, ...]:
    """The feature slots a directive masks in training: one of the C(8, 2) pairs, picked by
    sha256 of the directive's (seed-drawn) perturbation seed, so it adds no field to the
    directive and is as unpredictable as the seed."""
    label = f"flchain/directive-mask/{directive.init_seed}".encode()
    return _MASKS[int.from_bytes(hashlib.sha256(label).digest(), "big") % len(_MASKS)]


def _parse(value: str, key: str) -> object:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ModelError(f"model metadata {key} is not valid JSON") from exc


#: Fields added after format version 1 was in use: written only when they differ from their
#: default, so weights that do not use them keep the exact bytes (and digests) they always had.
OPTIONAL_FIELDS = ("decision_band_micro", "label_fee_ppm", "train_mask")


def _json_defaults() -> dict[str, object]:
    return ModelConfig().model_dump(mode="json")


def config_to_metadata(cfg: ModelConfig) -> dict[str, str]:
    """Flat string metadata for the canonical safetensors header.

    One key per field, ``flchain.model.<field>``, value = canonical JSON of the field
    (sorted keys, no spaces), so the same config always gives the same bytes; an
    `OPTIONAL_FIELDS` field at its default is left out (reading it back gives the default).
    """
    out: dict[str, str] = {}
    defaults = _json_defaults()
    for name, value in cfg.model_dump(mode="json").items():
        if name in OPTIONAL_FIELDS and value == defaults[name]:
            continue
        out[METADATA_PREFIX + name] = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return out


def config_from_metadata(md: Mapping[str, str]) -> ModelConfig:
    """Inverse of `config_to_metadata`; keys without the prefix are ignored."""
    fields = {
        k[len(METADATA_PREFIX) :]: _parse(v, k)
        for k, v in md.items()
        if k.startswith(METADATA_PREFIX)
    }
    if not fields:
        raise ModelError("weights carry no flchain model config metadata")
    try:
        return ModelConfig.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ModelError(f"bad model config metadata: {loc}: {first['msg']}") from None


class DirectiveMenu(BaseModel):
    """The valid choices an exploration directive draws from."""

    model_config = ConfigDict(frozen=True)

    feature_sets: tuple[str, ...]
    lookback_scales: tuple[int, ...]
    learning_rates_ppm: tuple[int, ...]
    epochs: tuple[int, ...]
    init_seed_bits: int = 63


def directive_menu(base: ModelConfig | None = None) -> DirectiveMenu:
    """The menu a merge draws exploration directives from for a global model with config
    ``base`` (default: `ModelConfig()`); order matters, it is indexed. Its feature set and
    lookback scale are the base's only (coherent exploration, module docstring)."""
    cfg = base or ModelConfig()
    return DirectiveMenu(
        feature_sets=(cfg.feature_set,),
        lookback_scales=(cfg.lookback_scale,),
        learning_rates_ppm=(1_000, 3_000, 10_000),
        epochs=(2, 4, 8),
    )


def _pick(seed: bytes, label: bytes, n: int) -> int:
    """Uniform-enough index in [0, n) from sha256(seed ‖ label) (bias < 2^-200 for small n)."""
    return int.from_bytes(hashlib.sha256(seed + b"/" + label).digest(), "big") % n


def draw_directive(node: Address, seed: bytes, menu: DirectiveMenu | None = None) -> Directive:
    """A directive for ``node`` drawn deterministically from ``seed`` (on-chain derived bytes).

    Each choice is sha256(seed ‖ lower-case address ‖ field name) modulo the option count, so
    the draw depends on nothing but its inputs.
    """
    m = menu or directive_menu()
    who = node.lower().encode()
    return Directive(
        node=node,
        feature_set=m.feature_sets[_pick(seed, who + b"/feature_set", len(m.feature_sets))],
        lookback_scale=m.lookback_scales[
            _pick(seed, who + b"/lookback_scale", len(m.lookback_scales))
        ],
        learning_rate_ppm=m.learning_rates_ppm[
            _pick(seed, who + b"/learning_rate_ppm", len(m.learning_rates_ppm))
        ],
        epochs=m.epochs[_pick(seed, who + b"/epochs", len(m.epochs))],
        init_seed=_pick(seed, who + b"/init_seed", 2**m.init_seed_bits),
    )


def validate_directive(directive: Directive, menu: DirectiveMenu | None = None) -> None:
    """Refuse a directive whose choices are not on the menu (pass `directive_menu(base)` of the
    global model the directive is for; the default menu is that of `ModelConfig()`)."""
    m = menu or directive_menu()
    checks = (
        (directive.feature_set in m.feature_sets, "feature_set"),
        (directive.lookback_scale in m.lookback_scales, "lookback_scale"),
        (directive.learning_rate_ppm in m.learning_rates_ppm, "learning_rate_ppm"),
        (directive.epochs in m.epochs, "epochs"),
        (0 <= directive.init_seed < 2**m.init_seed_bits, "init_seed"),
    )
    for ok, name in checks:
        if not ok:
            raise ModelError(f"directive for {directive.node}: {name} is not on the menu")
