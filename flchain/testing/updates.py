"""A fast update source for tests and benchmarks: perturb the base instead of training it.

`PerturbedUpdates` is a `Behaviour` that replaces only the update source (`prepare`): the base
model plus seeded noise of `PERTURB_PPM` of each tensor's RMS — exactly the start `train` would
perturb into, with no epochs run — in the config the round calls for (the directive applied
when one was assigned), and the true ROI of those weights as the claim. The update is valid in
every respect the merge checks; what it lacks is only quality, which tests of the protocol do
not look at. It is about 1000× faster than torch training, and deterministic on any machine.
"""

from __future__ import annotations

from flchain.model import config_from_metadata, perturb_weights
from flchain.node.behaviour import Behaviour
from flchain.node.update import (
    Update,
    UpdateInputs,
    claim_roi_bps,
    update_config,
    update_metadata,
)
from flchain.storage.weights import decode_weights, encode_weights

__all__ = ["PERTURB_PPM", "PerturbedUpdates"]

#: Relative size of a node's perturbation of the base model (ppm of each tensor's RMS): large
#: enough that nodes' strategies differ, so diversity does not cluster them by accident.
PERTURB_PPM = 200_000


class PerturbedUpdates(Behaviour):
    """Honest in everything but effort: a perturbation of the base instead of a training run."""

    kind = "perturbed"

    def prepare(self, inputs: UpdateInputs) -> Update:
        base_tensors, base_meta = decode_weights(inputs.base_weights)
        config = update_config(config_from_metadata(base_meta), inputs.base, inputs.directive)
        seed = config.init_seed if inputs.directive is not None else inputs.seed
        config = config.model_copy(update={"init_seed": seed, "perturb_ppm": PERTURB_PPM})
        tensors = perturb_weights(base_tensors, config.init_seed, config.perturb_ppm)
        payload = encode_weights(tensors, update_metadata(config, inputs))
        return Update(
            payload=payload,
            roi_bps=claim_roi_bps(payload, config, inputs.benchmark, inputs.rules),
            config=config,
        )


PERTURBED = PerturbedUpdates()
