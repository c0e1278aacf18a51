"""`RoundRecord` (protocol v1) and `RoundRecordV2`: everything the chain says about one round.

Its own module because it gathers the others: the values of `types`, the `Rules` of `rules`
(which itself uses the enums of `types`); v2's rules are `flchain.protocol.machine.RulesV2`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flchain.protocol.beacon import beacon_round
from flchain.protocol.rules import Rules
from flchain.protocol.types import (
    Address,
    Attestation,
    AttestationV2,
    BaseModelV2,
    BeaconParams,
    BeaconPost,
    ChecksumAddress,
    Commitment,
    Directive,
    FinalizedV2,
    GlobalModel,
    HexBytes32,
    RegisteredNode,
    Reveal,
    RevealOutcomeV2,
    RevealV2,
    RulesV2Field,
)


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


class RoundRecordV2(BaseModel):
    """Everything the v2 merge of one round reads (docs/protocol.md §12), and the round's votes
    for the audit. The ledger builds it from events and calldata; nothing in it is fetched from
    content storage except through `base` (the model and its manifest).

    Construction refuses a record the contract could not have produced (ValueError): reveals
    and beacon posts by nodes not registered before S(r), a node revealing or posting twice,
    registrations not numbered 0…n−1, a stale-base outcome that disagrees with the base, a
    beacon post for another beacon round than D(r), a payload that does not hash to its digest.
    """

    model_config = ConfigDict(frozen=True)

    round: int = Field(ge=0)
    chain_id: int = Field(gt=0)
    contract: ChecksumAddress
    # the schedule of the round (§1)
    start: int
    commit_end: int
    reveal_end: int
    attest_open: int
    deadline: int
    rules: RulesV2Field  # the rules frozen for the round (`rulesForRound(r)`)
    beacon: BeaconParams
    #: what `openRound(r)` reserved (RoundOpened.reserved), 0 if the round was never opened
    reserved: int = Field(ge=0, lt=2**128)
    #: every node registered before S(r), by index: the rows of the settlement table
    nodes: tuple[RegisteredNode, ...]
    base: BaseModelV2
    reveals: tuple[RevealV2, ...] = ()
    #: `BeaconPosted` events; the merge reads them in chain order (block, log index)
    beacon_posts: tuple[BeaconPost, ...] = ()
    # the votes: the audit reads them, the merge does not
    attestations: tuple[AttestationV2, ...] = ()
    finalized: FinalizedV2 | None = None
    # forward scoring (§15): who committed (a commitment never revealed scores the worst), and
    # the round's accepted forward window (`forwardWindowOf(r)`), None while none is
    committed: tuple[ChecksumAddress, ...] = ()
    forward_window: HexBytes32 | None = None

    @property
    def beacon_round(self) -> int:
        """D(r) (§6): the first beacon round produced at or after revealEnd(r) + δ."""
        return beacon_round(_RevealEndSchedule(self.reveal_end, self.beacon), 0)

    @model_validator(mode="after")
    def _as_the_contract_records_it(self) -> RoundRecordV2:
        if not self.start <= self.commit_end <= self.reveal_end <= self.attest_open:
            raise ValueError(
                "the schedule must run start <= commit_end <= reveal_end <= attest_open"
            )
        if not self.attest_open < self.deadline:
            raise ValueError("the attest window must end after it opens")
        if [n.index for n in self.nodes] != list(range(len(self.nodes))):
            raise ValueError("registered nodes must be listed by index, 0 to n-1")
        registered = {n.address for n in self.nodes}
        if len(registered) != len(self.nodes):
            raise ValueError("a node is registered twice")
        for kind, who in (
            ("reveal", [r.node for r in self.reveals]),
            ("beacon post", [p.node for p in self.beacon_posts]),
            ("commitment", list(self.committed)),
        ):
            if len(set(who)) != len(who):
                raise ValueError(f"a node has two {kind}s in round {self.round}")
            strangers = sorted(set(who) - registered)
            if strangers:
                raise ValueError(f"{kind} by {strangers[0]}, not registered before the round")
        for r in self.reveals:
            stale = r.base_digest != self.base.digest
            if stale != (r.outcome == RevealOutcomeV2.REJECTED_STALE_BASE):
                raise ValueError(
                    f"reveal of {r.node}: outcome {r.outcome.name} disagrees with its base "
                    f"0x{r.base_digest.hex()} (the round's base is 0x{self.base.digest.hex()})"
                )
        if len({p.position for p in self.beacon_posts}) != len(self.beacon_posts):
            raise ValueError("two beacon posts at one (block, log index): chain order is unknown")
        expected = self.beacon_round
        for p in self.beacon_posts:
            if p.beacon_round != expected:
                raise ValueError(
                    f"beacon post of {p.node} names beacon round {p.beacon_round}, D(r) = {expected}"
                )
        return self


@dataclass(frozen=True)
class _RevealEndSchedule:
    """The fields `beacon_round` reads, for a round whose reveal window ends at `t0`: D(r)
    depends on revealEnd(r) and the beacon alone."""

    t0: int
    params: BeaconParams
    round_length: int = 0
    commit_window: int = 0
    reveal_window: int = 0

    @property
    def beacon_genesis(self) -> int:
        return self.params.genesis

    @property
    def beacon_period(self) -> int:
        return self.params.period

    @property
    def beacon_delay(self) -> int:
        return self.params.delay
