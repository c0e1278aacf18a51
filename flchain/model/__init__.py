"""The trading model: config, features, seeded init, reference inference and torch training.

Public API (see docs/ARCHITECTURE.md): `ModelConfig`, `config_to_metadata`,
`config_from_metadata`, `init_weights`, `reference_positions`, `train`, `directive_menu`,
`draw_directive`. `train` / `torch_positions` import torch lazily so the merge and the audit
(which only need the reference path) do not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flchain.model.config import (
    FEATURE_SETS,
    N_FEATURES,
    N_OUTPUTS,
    DirectiveMenu,
    ModelConfig,
    config_from_metadata,
    config_to_metadata,
    directive_mask,
    directive_menu,
    draw_directive,
    validate_directive,
)
from flchain.model.errors import ModelError
from flchain.model.features import feature_columns, feature_matrix
from flchain.model.network import (
    check_weights,
    init_weights,
    perturb_weights,
    reference_logits,
    reference_positions,
    weight_shapes,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from flchain.market import OHLCV

__all__ = [
    "FEATURE_SETS",
    "N_FEATURES",
    "N_OUTPUTS",
    "DirectiveMenu",
    "ModelConfig",
    "ModelError",
    "check_weights",
    "config_from_metadata",
    "config_to_metadata",
    "directive_mask",
    "directive_menu",
    "draw_directive",
    "feature_columns",
    "feature_matrix",
    "init_weights",
    "perturb_weights",
    "reference_logits",
    "reference_positions",
    "torch_positions",
    "train",
    "validate_directive",
    "weight_shapes",
]


def train(
    base_weights: Mapping[str, np.ndarray] | None, config: ModelConfig, bars: OHLCV, seed: int
) -> dict[str, npt.NDArray[np.float32]]:
    """Seeded local training (torch); see `flchain.model.training.train`."""
    from flchain.model.training import train as _train

    return _train(base_weights, config, bars, seed)


def torch_positions(
    weights: Mapping[str, np.ndarray], config: ModelConfig, bars: OHLCV, **kw: Any
) -> npt.NDArray[np.int8]:
    """Torch-path positions (for agreement tests); see `flchain.model.training`."""
    from flchain.model.training import torch_positions as _tp

    return _tp(weights, config, bars, **kw)
