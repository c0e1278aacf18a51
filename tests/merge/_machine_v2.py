"""Rounds on the protocol-v2 reference machine with real model updates: what the ledger will do
(record the round from events and calldata), then the merge, attestation, finality and
settlement — so tests can check that the contract accepts what the merge computes.

`Chain.round(r, updates)` commits and reveals each update, posts beacons, and returns the
`RoundRecordV2` built from the machine's events the way a ledger builds it from logs: one
"block" per event, payloads taken from the reveal calls (None for the nodes that revealed
"through another contract"). `Chain.finish(r, result)` has every node attest and finalizes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _scenario import FEE_PPM, benchmark, honest_roi

from flchain.model import ModelConfig, config_from_metadata, config_to_metadata, perturb_weights
from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.binding import compute_binding_metadata
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import (
    BaseModelV2,
    BeaconParams,
    BeaconPost,
    RegisteredNode,
    RevealV2,
)
from flchain.storage.weights import decode_weights, encode_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))

import machine_world as mw

ETH = mw.ETH


@dataclass
class Contribution:
    """One node's update for a round: perturbed from the round's base model."""

    node: str
    seed: int
    scale_ppm: int = 200_000
    claim_offset: int = 0
    through_contract: bool = False  # the reveal is a call from another contract: unreadable


@dataclass
class Chain:
    world: mw.World
    payloads: dict[tuple[int, str], bytes] = field(default_factory=dict)

    @property
    def state(self) -> m.State:
        return self.world.state

    def payload(self, base: bytes, c: Contribution, round: int) -> tuple[bytes, int]:
        tensors, metadata = decode_weights(base)
        config: ModelConfig = config_from_metadata(metadata)
        updated = perturb_weights(tensors, c.seed, c.scale_ppm)
        binding = compute_binding_metadata(c.node, round)
        data = encode_weights(updated, config_to_metadata(config) | binding)
        return data, honest_roi(updated, config) + c.claim_offset

    def round(
        self,
        r: int,
        base: bytes,
        contributions: Sequence[Contribution],
        posts: Sequence[tuple[str, int]] = (),
    ) -> RoundRecordV2:
        """Commit, reveal and post beacons for round `r`; the record at attest time.

        @param posts (node, beacon round it signs): the signatures posted, in order
        """
        w = self.world
        w.goto(r, m.Phase.COMMIT)
        for c in contributions:
            if m.node_lags(self.state, self.state.nodes[c.node], w.now):
                raise AssertionError(f"{c.node} must settle before round {r}")
        if not self.state.rounds.get(r, m.RoundState()).opened:
            w.call(m.process_open_round, w.gov, r)
        updates = []
        for c in contributions:
            data, claim = self.payload(base, c, r)
            u = w.update(c.node, r, roi_bps=claim, payload=data)
            w.commit(u)
            updates.append((c, u))
        w.goto(r, m.Phase.REVEAL)
        for c, u in updates:
            w.reveal(u)
            if not c.through_contract:
                self.payloads[(r, c.node)] = u.payload
        w.goto(r, m.Phase.BEACON)
        for node, beacon_round in posts:
            w.call(m.process_post_beacon, node, r, mw.BEACON.sign(beacon_round))
        w.goto(r, m.Phase.ATTEST)
        return self.record(r)

    def record(self, r: int) -> RoundRecordV2:
        """Round `r` as a ledger reads it from logs and calldata."""
        s, d = self.state, self.state.deployment
        reveals, posts = [], []
        for position, (_, ev) in enumerate(self.world.events):
            if ev.name == "Revealed" and ev["round"] == r:
                reveals.append(
                    RevealV2(
                        node=ev["node"],
                        update_digest=ev["updateDigest"],
                        base_digest=ev["baseDigest"],
                        roi_bps=ev["roiBps"],
                        salt=ev["salt"],
                        outcome=ev["outcome"],
                        block_number=position,
                        log_index=0,
                        payload=self.payloads.get((r, ev["node"])),
                    )
                )
            if ev.name == "BeaconPosted" and ev["round"] == r:
                posts.append(
                    BeaconPost(
                        node=ev["node"],
                        beacon_round=ev["beaconRound"],
                        signature=ev["signature"],
                        block_number=position,
                        log_index=0,
                    )
                )
        latest = s.latest
        start = d.start(r)
        return RoundRecordV2(
            round=r,
            chain_id=s.chain_id,
            contract=s.contract,
            start=start,
            commit_end=d.commit_end(r),
            reveal_end=d.reveal_end(r),
            attest_open=d.attest_open(r),
            deadline=d.deadline(r),
            rules=m.get_rules_for_round(s, r),
            beacon=BeaconParams(
                genesis=d.beacon_genesis,
                period=d.beacon_period,
                delay=d.beacon_delay,
                public_key=d.beacon_public_key,
            ),
            reserved=m.get_round_view(s, r).reserved,
            nodes=tuple(
                RegisteredNode(address=n, index=s.nodes[n].index)
                for n in s.node_at
                if self.world.registered_at[n] < start
            ),
            base=BaseModelV2(
                round=latest.round_plus_one - 1,
                digest=latest.merged_digest,
                cid=latest.merged_cid,  # binary, as the contract keeps it
                manifest_cid=latest.manifest_cid or None,
                settlement_root=latest.settlement_root,
            ),
            reveals=tuple(reveals),
            beacon_posts=tuple(posts),
        )

    def finish(self, r: int, result: m.Result) -> None:
        """Every frozen-set node attests `result`; the governor's wallet finalizes."""
        for n in self.world.active(r):
            self.world.call(m.process_attest, n, r, result)
        self.world.call(m.process_finalize, self.world.gov, r, result)


def chain(base: bytes, nodes: int, emission: int = ETH, pool: int = 10 * ETH) -> Chain:
    """A deployment whose genesis model is `base`, `nodes` registered before round 0, a funded
    pool and rules that reserve `emission` a round (fee and benchmark as the merge scenario's)."""
    digest = dg.sha256(base)
    rules = m.RulesV2(emission_wei=emission, fee_ppm=FEE_PPM)
    world = mw.make_world(
        n_nodes=nodes,
        rules=rules,
        pool=pool,
        genesis_digest=digest,
        genesis_cid=dg.raw_leaf_cid(digest),
    )
    assert benchmark()  # the merge scores on the scenario's benchmark (rule id unset)
    return Chain(world)


def beacon_round(c: Chain, r: int) -> int:
    return m.beacon_round(c.state.deployment, r)
