"""The extension points through which a node may depart from the protocol — honest here.

The daemon and the simulation run the same `NodeRunner`; a `Behaviour` only alters what that
code produces at five documented points (`tamper` has a v2 twin, `tamper_v2`):

* `training_identity` — whose data partition and training seed the update is built from;
* `prepare` — the update source: train from the base (honest) or anything that yields an
  `Update` (a test's fast perturbation, `flchain.testing.PerturbedUpdates`);
* `alter` — the update and its ROI claim just before sealing;
* `tamper` — the merge result it publishes and attests instead of the honest replay;
* `reveals` — whether it reveals what it committed.

The honest behaviour below changes nothing. Every deliberate departure (the simulation's
adversaries, the faults tests inject) lives in one module, `flchain.simulate.adversaries`, which
the daemon path never imports (tests/test_architecture.py checks it).
"""

from __future__ import annotations

from flchain.node.update import Update, UpdateInputs, prepare_update
from flchain.protocol import Address
from flchain.replay import Tamper
from flchain.replay.v2 import TamperV2

__all__ = ["HONEST", "Behaviour"]


class Behaviour:
    """Honest: train on its own data, claim the true ROI, reveal, attest the true merge."""

    kind = "honest"

    @property
    def reveals(self) -> bool:
        return True

    def training_identity(self, node: Address) -> Address:
        """Whose data partition and training seed to use."""
        return node

    def prepare(self, inputs: UpdateInputs) -> Update:
        """The update before any alteration: trained from the base on the node's bars."""
        return prepare_update(inputs)

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return update

    @property
    def tamper(self) -> Tamper | None:
        return None

    @property
    def tamper_v2(self) -> TamperV2 | None:
        """`tamper` for a protocol-v2 round."""
        return None


HONEST = Behaviour()
