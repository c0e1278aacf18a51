"""`RoundRecord`: everything the chain says about one round, rebuilt from events.

Its own module because it gathers the others: the values of `types`, the `Rules` of `rules`
(which itself uses the enums of `types`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from flchain.protocol.rules import Rules
from flchain.protocol.types import Address, Attestation, Commitment, Directive, GlobalModel, Reveal


class RoundRecord(BaseModel):
    """Everything the chain says about one round, rebuilt from events."""

    model_config = ConfigDict(frozen=True)

    round: int
    chain_id: int
    contract: Address
    start: int
    commit_end: int
    reveal_end: int
    end: int
    rules: Rules
    commitments: tuple[Commitment, ...] = ()
    reveals: tuple[Reveal, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    base: GlobalModel
    directives_from_previous: tuple[Directive, ...] = ()
    finalized: GlobalModel | None = None
