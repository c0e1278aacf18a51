"""The pieces the v2 audit trusts nothing without: the deployed code against the artifact
(`flchain.audit.code_v2`) and Merkle-Patricia state proofs verified in Python
(`flchain.audit.proof`), on the embedded chain and on anvil."""

from __future__ import annotations

from dataclasses import replace

import pytest
from _federation import make_update
from _twin import ETHER, deployment, rules, wallet
from eth_utils import keccak

from flchain.audit.code_v2 import (
    SATELLITES,
    compare_creation,
    compare_runtime,
    compute_create_address,
    compute_expected_runtime,
    get_immutable_values,
    get_satellite_addresses,
)
from flchain.audit.core_v2 import rounds_slot
from flchain.audit.judge_v2 import accumulator_word
from flchain.audit.proof import ProofError, StateProof, fetch_proof, verify_proof
from flchain.ledger import Backend, LedgerV2
from flchain.ledger.deployment import load_artifact
from flchain.protocol import digests as dg
from flchain.protocol.machine import Phase

ARTIFACT = load_artifact(2)


@pytest.fixture(scope="module")
def deployed(backend: Backend) -> LedgerV2:
    """A deployment with one revealed update (so round 0's accumulator word is not zero)."""
    g = LedgerV2.deploy(
        backend, wallet(backend, 10**22), deployment(backend.latest_timestamp()), rules()
    )
    node = g.with_account(wallet(backend))
    node.register(ETHER)
    u = make_update(0, seed=1, node=node._me())
    g.goto(0, Phase.COMMIT, 5)
    node.commit(0, node.commitment(0, u.digest, u.base_digest, u.roi_bps, u.salt))
    g.goto(0, Phase.REVEAL, 5)
    node.reveal(*u.reveal_args())
    return g


def test_every_immutable_of_the_artifact_is_filled_by_the_audit() -> None:
    immutables = ARTIFACT["immutables"]
    d = deployment(1_000_000)
    contract = "0x" + "ab" * 20
    assert [i["name"] for i in immutables] == list(get_immutable_values(d, contract))
    assert all(i["positions"] for i in immutables)  # each is read by the runtime code
    for name in SATELLITES:
        entry = ARTIFACT["satellites"][name]["immutables"]
        assert [i["name"] for i in entry] == list(get_immutable_values(d, contract, name))
        assert all(i["positions"] for i in entry)


def test_the_deployed_code_is_the_artifact_with_genesis_immutables(deployed: LedgerV2) -> None:
    code = bytes(deployed.w3.eth.get_code(deployed.address))  # type: ignore[arg-type]
    d = deployed.deployment_from_events()
    at = deployed.address
    assert code == compute_expected_runtime(ARTIFACT, d, at)
    assert compare_runtime(ARTIFACT, d, at, code) == []
    # the same code against a Genesis that says another minBond names that immutable
    (problem,) = compare_runtime(ARTIFACT, replace(d, min_bond=d.min_bond + 1), at, code)
    assert problem.startswith("immutable _minBond holds")


def test_the_satellites_sit_at_the_constructors_creates_with_the_artifacts_code(
    deployed: LedgerV2,
) -> None:
    """RulesCheckV2 is the first CREATE (nonce 1), the forward box the second (nonce 2): the
    addresses the audit computes are those the contract reads, and the code at each is the
    artifact's satellite with its immutables filled."""
    d, at = deployed.deployment_from_events(), deployed.address
    addresses = get_satellite_addresses(at)
    assert addresses["FLChainV2Forward"] == deployed.forward_box.address
    assert addresses["RulesCheckV2"] == compute_create_address(at, 1)
    for name, address in addresses.items():
        code = bytes(deployed.w3.eth.get_code(address))  # type: ignore[arg-type]
        assert code == compute_expected_runtime(ARTIFACT, d, at, name)
        assert compare_runtime(ARTIFACT, d, at, code, name) == []
    # the box's code read as if it were another deployment's: its _ledger names the ledger
    box = bytes(deployed.w3.eth.get_code(addresses["FLChainV2Forward"]))  # type: ignore[arg-type]
    other = compute_create_address(at, 7)
    (problem,) = compare_runtime(ARTIFACT, d, other, box, "FLChainV2Forward")
    assert problem.startswith(
        f"FLChainV2Forward at {get_satellite_addresses(other)['FLChainV2Forward']}: immutable _ledger holds"
    )
    # one satellite's code where the other should be: named, by size
    rules_check = bytes(deployed.w3.eth.get_code(addresses["RulesCheckV2"]))  # type: ignore[arg-type]
    (problem,) = compare_runtime(ARTIFACT, d, at, rules_check, "FLChainV2Forward")
    assert problem.startswith(
        f"FLChainV2Forward at {addresses['FLChainV2Forward']}: the deployed code is"
    )
    assert compare_runtime(ARTIFACT, d, at, b"", "RulesCheckV2") == [
        f"RulesCheckV2 at {addresses['RulesCheckV2']}: no code at the address the constructor's CREATE gives"
    ]


def test_code_compiled_from_other_source_is_named_by_offset() -> None:
    d = deployment(1_000_000)
    at = "0x" + "ab" * 20
    code = bytearray(compute_expected_runtime(ARTIFACT, d, at))
    code[10] ^= 0xFF
    problems = compare_runtime(ARTIFACT, d, at, bytes(code))
    assert problems == [
        "the deployed code differs from the artifact at byte 10 (outside every immutable): it "
        "was compiled from other source or settings"
    ]
    assert compare_runtime(ARTIFACT, d, at, bytes(code[:-1]))[0].startswith("the deployed code is")


def test_the_creation_transaction_ran_the_artifact_with_genesis_arguments(
    deployed: LedgerV2,
) -> None:
    creation = bytes(deployed.w3.eth.get_transaction(deployed.events()[0].tx_hash)["input"])  # type: ignore[arg-type]
    d, r = deployed.deployment_from_events(), deployed.rules_from_events(0)
    assert compare_creation(ARTIFACT, creation, d, r) == []
    assert compare_creation(ARTIFACT, creation, d, replace(r, fee_ppm=r.fee_ppm + 1)) == [
        "the constructor's rules differ from RulesScheduled(0, 0)"
    ]
    assert compare_creation(ARTIFACT, creation[1:], d, r) == [
        "the deployment transaction did not run the artifact's creation code"
    ]


def _proof(ledger: LedgerV2, block: int | None = None) -> StateProof:
    head = ledger.backend.w3.eth.block_number if block is None else block
    return fetch_proof(ledger.backend, ledger.address, [rounds_slot(ARTIFACT, 0)], head)


def test_an_opened_round_carries_the_mark_in_its_proven_word(backend: Backend) -> None:
    """openRound leaves bit 31 set in the round's accumulator word (so its first reveal rewrites
    the word rather than creating it): the proven word has it, no count shows it, and the
    audit's `accumulator_word` packs it from `opened` — with or without entries after it."""
    g = LedgerV2.deploy(
        backend, wallet(backend, 10**22), deployment(backend.latest_timestamp()), rules()
    )
    node = g.with_account(wallet(backend))
    node.register(ETHER)
    g.goto(0, Phase.COMMIT, 5)
    node.open_round(0)
    for entries in (0, 1):
        if entries:
            u = make_update(0, seed=2, node=node._me())
            node.commit(0, node.commitment(0, u.digest, u.base_digest, u.roi_bps, u.salt))
            g.goto(0, Phase.REVEAL, 5)
            node.reveal(*u.reveal_args())
        view = g.round_view(0)
        word = verify_proof(_proof(g)).words[rounds_slot(ARTIFACT, 0)]
        assert view.opened and (view.reveals, view.others) == (entries, 0)
        assert int.from_bytes(word, "big") & dg.ACCUMULATOR_OPENED_MARK
        assert word == accumulator_word(view)


def test_a_state_proof_proves_the_accumulator_and_the_balance(deployed: LedgerV2) -> None:
    proven = verify_proof(_proof(deployed))
    assert proven.words[rounds_slot(ARTIFACT, 0)] == accumulator_word(deployed.round_view(0))
    assert proven.balance == deployed.w3.eth.get_balance(deployed.address)  # type: ignore[arg-type]
    code = bytes(deployed.w3.eth.get_code(deployed.address))  # type: ignore[arg-type]
    assert proven.code_hash == keccak(code)


def test_a_proof_of_a_short_slot_key_proves_its_word(deployed: LedgerV2) -> None:
    """Slot 1 (`_governor`, an odd number of hex digits as `hex(1)`) is asked for as a full
    32-byte key, and its word is the governor, proven."""
    block = deployed.backend.w3.eth.block_number
    proven = verify_proof(fetch_proof(deployed.backend, deployed.address, [1], block))
    assert proven.words[1][12:].hex() == deployed.governor()[2:].lower()


def test_an_altered_or_misplaced_proof_does_not_verify(deployed: LedgerV2) -> None:
    proof = _proof(deployed)
    leaf = bytearray(proof.storage_nodes[0][-1])
    leaf[-1] ^= 1  # the accumulator word's last byte, as a lying RPC would rewrite it
    forged = replace(proof, storage_nodes=((*proof.storage_nodes[0][:-1], bytes(leaf)),))
    with pytest.raises(ProofError):
        verify_proof(forged)
    account = bytearray(proof.account_nodes[-1])
    account[-40] ^= 1
    with pytest.raises(ProofError):
        verify_proof(replace(proof, account_nodes=(*proof.account_nodes[:-1], bytes(account))))
    # today's nodes against the state root of the block before the reveal
    earlier = _proof(deployed, deployed.backend.w3.eth.block_number - 2)
    with pytest.raises(ProofError):
        verify_proof(replace(proof, state_root=earlier.state_root))
