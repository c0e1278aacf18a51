"""flchain.protocol.digests: the committed vectors are a fresh build, and Solidity agrees.

Every vector of tests/protocol/vectors/digests.json is recomputed by Python (so the file pins the
encoding) and by `Probe.sol` in py-evm (so the encoding is Solidity's `abi.encode`, not only
eth_abi's). The contract's forge tests read the same file.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from web3 import Web3

from flchain.protocol import digests as dg
from flchain.storage.cid import cid_for_bytes

VECTORS = Path(__file__).resolve().parent / "vectors"
if str(VECTORS) not in sys.path:
    sys.path.insert(0, str(VECTORS))  # the builders and the probe are shared, not a package

import protocol_vectors  # noqa: E402
from evm_probe import probe  # noqa: E402

DOC: dict[str, Any] = json.loads((VECTORS / "digests.json").read_text())


def b(x: str) -> bytes:
    return bytes.fromhex(x[2:])


def n(x: str) -> int:
    return int(x)


def test_committed_vectors_are_a_fresh_build() -> None:
    fresh = protocol_vectors.text(protocol_vectors.build_digests())
    assert (VECTORS / "digests.json").read_text() == fresh, (
        "digests.json differs from flchain.protocol.digests: an encoding changed — "
        "run tests/protocol/vectors/protocol_vectors.py and review the diff"
    )


def test_tags_are_the_keccak_of_their_names_in_python_and_solidity() -> None:
    names = [
        "COMMIT_TAG",
        "RESULT_TAG",
        "LEAF_TAG",
        "SEED_TAG",
        "ACC_REVEALED_TAG",
        "ACC_BEACON_TAG",
        "ACC_ATTESTED_TAG",
        "ACC_FINALIZED_TAG",
        "ACC_NO_REVEAL_TAG",
    ]
    evm = probe().functions.tags().call()
    for name, from_evm in zip(names, evm, strict=True):
        tag = DOC["tags"][name]
        assert b(tag["value"]) == bytes(Web3.keccak(text=tag["preimage"])) == from_evm
        assert getattr(dg, name) == from_evm
    assert len(set(evm)) == len(evm)


def test_commitments_are_solidity_abi_encode() -> None:
    for v in DOC["commitment"]:
        args = (
            n(v["chainId"]),
            v["contract"],
            n(v["round"]),
            v["node"],
            b(v["updateDigest"]),
            b(v["baseDigest"]),
            n(v["roiBps"]),
            b(v["salt"]),
        )
        assert probe().functions.commitment(*args).call() == b(v["commitment"])
        assert dg.commitment_hash_v2(*args) == b(v["commitment"])


def test_result_hashes_are_solidity_abi_encode() -> None:
    for v in DOC["result"]:
        args = (
            n(v["chainId"]),
            v["contract"],
            n(v["round"]),
            b(v["mergedDigest"]),
            b(v["mergedCid"]),
            b(v["manifestCid"]),
            b(v["settlementRoot"]),
            n(v["roundEarned"]),
        )
        assert probe().functions.resultHash(*args).call() == b(v["resultHash"])
        assert dg.result_hash_v2(*args) == b(v["resultHash"])


def test_leaf_hashes_are_solidity_abi_encode_hashed_twice() -> None:
    for v in DOC["leaf"]:
        args = (
            n(v["chainId"]),
            v["contract"],
            v["node"],
            n(v["index"]),
            n(v["cumEarned"]),
            n(v["cumPenalties"]),
            n(v["mergedRounds"]),
            n(v["lastPenaltyRound"]),
            n(v["scoreBps"]),
        )
        assert probe().functions.leafHash(*args).call() == b(v["leafHash"])
        assert dg.leaf_hash(*args) == b(v["leafHash"])


def test_raw_leaf_cid_is_the_cid_ipfs_gives_the_payload() -> None:
    for v in DOC["rawLeafCid"]:
        payload = b(v["payload"])
        digest, cid = probe().functions.rawLeafCid(payload).call()
        assert digest == dg.sha256(payload) == b(v["digest"])
        assert cid == dg.raw_leaf_cid(digest) == b(v["cid"])
        assert cid_for_bytes(payload) == v["cidString"]


def test_salts_hash_is_packed_salts_in_address_order() -> None:
    for v in DOC["saltsHash"]:
        salts = {s["node"]: b(s["salt"]) for s in v["salts"]}
        assert [int(s["node"], 16) for s in v["salts"]] == sorted(int(a, 16) for a in salts)
        packed = [b(s["salt"]) for s in v["salts"]]
        assert probe().functions.saltsHash(packed).call() == b(v["saltsHash"])
        shuffled = list(salts.items())
        random.Random(7).shuffle(shuffled)
        lower_case = {a.lower(): salt for a, salt in shuffled}
        assert dg.salts_hash(dict(shuffled)) == dg.salts_hash(lower_case) == b(v["saltsHash"])


def test_seed_and_tie_keys_are_solidity() -> None:
    for v in DOC["seed"]:
        args = (
            n(v["chainId"]),
            v["contract"],
            n(v["round"]),
            b(v["saltsHash"]),
            b(v["randomness"]),
        )
        assert probe().functions.seed(*args).call() == dg.seed(*args) == b(v["seed"])
    for v in DOC["tieKey"]:
        got = probe().functions.tieKey(b(v["seed"]), v["node"]).call()
        assert got == dg.tie_key(b(v["seed"]), v["node"]) == b(v["tieKey"])


def test_accumulator_chain_is_solidity() -> None:
    p = probe().functions
    acc = b(DOC["accumulator"]["initial"])
    assert acc == dg.EMPTY_ACCUMULATOR
    for step in DOC["accumulator"]["steps"]:
        kind = step["kind"]
        if kind == "revealed":
            args: tuple[Any, ...] = (
                step["node"],
                b(step["updateDigest"]),
                b(step["baseDigest"]),
                n(step["roiBps"]),
                b(step["salt"]),
                n(step["outcome"]),
                n(step["payloadLength"]),
            )
            evm, py = p.revealedEntry(*args).call(), dg.revealed_entry(*args)
        elif kind == "beacon":
            args = (step["node"], b(step["signature"]))
            evm, py = p.beaconEntry(*args).call(), dg.beacon_entry(*args)
        elif kind == "attested":
            args = (step["node"], b(step["resultHash"]), n(step["weight"]))
            evm, py = p.attestedEntry(*args).call(), dg.attested_entry(*args)
        elif kind == "finalized":
            args = (b(step["resultHash"]), n(step["tally"]), n(step["totalStake"]))
            evm, py = p.finalizedEntry(*args).call(), dg.finalized_entry(*args)
        else:
            assert kind == "noReveal"
            args = (step["node"], n(step["amount"]), n(step["bounty"]), step["beneficiary"])
            evm, py = p.noRevealEntry(*args).call(), dg.no_reveal_entry(*args)
        assert evm == py == b(step["entry"])
        acc_evm = p.accumulate(acc, py).call()
        acc = dg.accumulate(acc, py)
        assert acc_evm == acc == b(step["accumulator"])
    assert {s["kind"] for s in DOC["accumulator"]["steps"]} == {
        "revealed",
        "beacon",
        "attested",
        "finalized",
        "noReveal",
    }


FIELDS = st.tuples(
    st.integers(1, 2**64),
    st.integers(0, 2**32),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.integers(-(2**31), 2**31 - 1),
    st.binary(min_size=32, max_size=32),
)


@given(FIELDS, st.integers(0, 5))
def test_a_commitment_binds_every_field(fields: tuple[Any, ...], which: int) -> None:
    chain_id, rnd, upd, base, roi, salt = fields
    node = "0x" + "11" * 20
    c = dg.commitment_hash_v2(chain_id, protocol_vectors.CONTRACT, rnd, node, upd, base, roi, salt)
    changed = list(fields)
    changed[which] = (
        changed[which] + 1
        if isinstance(changed[which], int)
        else bytes([changed[which][0] ^ 1]) + changed[which][1:]
    )
    if which == 4 and changed[4] > 2**31 - 1:
        changed[4] = -(2**31)
    chain_id2, rnd2, upd2, base2, roi2, salt2 = changed
    other = dg.commitment_hash_v2(
        chain_id2, protocol_vectors.CONTRACT, rnd2, node, upd2, base2, roi2, salt2
    )
    assert other != c
    assert (
        dg.commitment_hash_v2(
            chain_id, protocol_vectors.CONTRACT, rnd, "0x" + "12" * 20, upd, base, roi, salt
        )
        != c
    )


def test_wrong_lengths_are_refused_not_padded() -> None:
    with pytest.raises(ValueError, match="update_digest"):
        dg.commitment_hash_v2(
            1,
            protocol_vectors.CONTRACT,
            0,
            protocol_vectors.CONTRACT,
            b"\x00" * 31,
            dg.ZERO32,
            0,
            dg.ZERO32,
        )
    with pytest.raises(ValueError, match="accumulator"):
        dg.accumulate(bytes(32), dg.ZERO32)
    with pytest.raises(ValueError, match="digest"):
        dg.raw_leaf_cid(b"\x01" * 33)
