"""A whole protocol v2 federation through `LedgerV2`, on the embedded chain and on anvil, with
the reference machine in lockstep (`_twin.Twin`): every call's events equal the machine's, the
views equal the machine's, and the round record built from events and calldata equals the
machine's view of the round.

The merge is the real v2 merge run on `round_record_v2(r)`: the result the nodes attest and the
contract finalizes is what `merge_v2` computed from the record the ledger built, and each node
settles with the leaf and proof of that result's manifest.
"""

from __future__ import annotations

from _twin import BEACON, ETHER, Twin, base_weights, benchmark, make_update

from flchain.ledger import Backend
from flchain.ledger.events_v2 import Finalized, Settled, Slashed, Withdrawn
from flchain.merge.settlement import settlement_proof
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest
from flchain.protocol import machine as m
from flchain.protocol.machine import Phase, RevealOutcome


def merge_round(twin: Twin, round: int, base: bytes, prior: PriorRound) -> MergeResultV2:
    record = twin.gov.round_record_v2(round)
    assert record == twin.expected_record(round)
    return merge_v2(record, base, benchmark(), prior)


def test_a_federation_round_by_round(backend: Backend) -> None:
    """Round 0: three nodes reveal real updates, a fourth withholds; a beacon post; the merge of
    the ledger's record is attested and finalized; the withholder is slashed by a third party.
    Round 1: every participant settles from round 0's manifest and collects; the rounds go on
    on round 0's model; the withholder exits and withdraws what is left of its bond."""
    twin = Twin.deploy(backend)
    g = twin.gov
    a, b, c, d = (twin.node() for _ in range(4))
    keeper = twin.stranger()
    twin.send(keeper, "fund_pool", 5 * ETHER)
    nodes = [n.account.address for n in (a, b, c, d) if n.account is not None]

    # round 0
    twin.goto(0, Phase.COMMIT)
    twin.send(keeper, "open_round", 0)
    updates = {n: make_update(0, seed=10 + i, node=n._me()) for i, n in enumerate((a, b, c, d))}
    for n, u in updates.items():
        twin.commit(n, u)
    twin.check_views(nodes, [0])
    twin.goto(0, Phase.REVEAL)
    for n in (a, b, c):
        assert twin.reveal(n, updates[n]) == RevealOutcome.ACCEPTED
    twin.goto(0, Phase.BEACON)
    twin.send(a, "post_beacon", 0, BEACON.sign(g.beacon_round(0)))
    twin.goto(0, Phase.ATTEST)
    merged = merge_round(twin, 0, base_weights(), PriorRound.genesis())
    assert merged.seed.post is not None  # the beacon post seeds it
    assert {x.node for x in merged.decisions} == set(nodes[:3])
    assert not merged.kept_base and merged.penalised == ()
    assert all(r.payload is not None for r in g.round_record_v2(0).reveals)
    for n in (a, b, c):
        twin.send(n, "attest", 0, merged.result)
    twin.send(keeper, "finalize", 0, merged.result)
    twin.send(d, "attest", 0, merged.result)  # after finality: counted, changes nothing
    record = g.round_record_v2(0)
    assert record == twin.expected_record(0)
    assert record.finalized is not None and record.finalized.result_hash == merged.result_hash
    assert g.latest().merged_digest == merged.result.merged_digest
    slash = twin.send(keeper, "slash_no_reveal", 0, nodes[3])
    assert [e.fault for e in slash.events if isinstance(e, Slashed)] == [m.Fault.NO_REVEAL]
    twin.check_views(nodes, [0])

    # round 1: settle round 0 first (the lag rule), then take part
    twin.goto(1, Phase.COMMIT)
    twin.send(keeper, "open_round", 1)
    for i, n in enumerate((a, b, c, d)):
        leaf, proof = settlement_proof(merged.manifest, nodes[i])
        sender = n if i % 2 == 0 else keeper  # the node itself, or anyone
        settled = twin.send(sender, "settle", leaf, proof)
        done = next(e for e in settled.events if isinstance(e, Settled))
        earned = merged.settlement.earned.get(nodes[i], 0)
        assert done.cum_earned == earned
        if earned:  # collect pays the node what its settled leaf says it earned
            (collected,) = twin.send(n, "collect").events
            assert (collected.node, collected.amount) == (nodes[i], earned)
    assert all(twin.state.nodes[n].settled_round == 1 for n in nodes)
    updates1 = {
        n: make_update(1, seed=20 + i, base=merged.merged_weights, node=n._me())
        for i, n in enumerate((a, b))
    }
    for n, u in updates1.items():
        twin.commit(n, u)
    twin.send(d, "request_exit")
    twin.goto(1, Phase.REVEAL)
    for n, u in updates1.items():
        assert twin.reveal(n, u) == RevealOutcome.ACCEPTED
    twin.goto(1, Phase.ATTEST)
    prior = prior_from_manifest(merged.manifest)
    merged1 = merge_round(twin, 1, merged.merged_weights, prior)
    assert merged1.seed.post is None  # no beacon post: the salts alone
    for n in (a, b, c):
        twin.send(n, "attest", 1, merged1.result)
    twin.send(keeper, "finalize", 1, merged1.result)
    assert [e.round for e in g.events(Finalized)] == [0, 1]
    assert g.base_for_round(2).digest == merged1.result.merged_digest
    twin.check_views(nodes, [0, 1])

    # the withholder waits out its exit delay and withdraws the slashed bond's rest
    twin.goto(2, Phase.COMMIT)
    twin.refuse(d, "withdraw", error="WithdrawalTooEarly")
    twin.goto(3, Phase.REVEAL)
    out = twin.send(d, "withdraw")
    withdrawn = next(e for e in out.events if isinstance(e, Withdrawn))
    assert withdrawn.amount == ETHER - twin.state.rules[0].no_reveal_slash_wei
    assert g.node_view(nodes[3]).status == m.Status.WITHDRAWN
    twin.check_views(nodes, [0, 1, 2, 3])
    assert g.round_record_v2(2) == twin.expected_record(2)  # a round nobody opened
