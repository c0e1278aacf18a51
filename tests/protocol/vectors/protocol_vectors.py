"""The protocol v2 vectors: fixed inputs, and the outputs flchain.protocol computes for them.

    .venv/bin/python tests/protocol/vectors/protocol_vectors.py           rewrite the JSON files
    .venv/bin/python tests/protocol/vectors/protocol_vectors.py --check   compare only, exit 1

`digests.json`, `merkle.json` and `beacon.json` are what the Solidity contract's forge tests read
to agree with Python byte for byte; `tests/protocol/test_digests.py`, `test_merkle.py` and
`test_beacon.py` require the committed files to equal a fresh build (so an encoding change is
a deliberate, reviewed rewrite) and check them independently (the EVM, real drand rounds).

Format: every integer is a decimal string (uint256 values do not fit a JSON number's 53 bits),
every byte string 0x-prefixed lower-case hex, every address checksummed. Inputs are derived
from labels by keccak, so the file is reproducible without randomness.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from flchain.protocol import beacon as bc
from flchain.protocol import digests as dg
from flchain.protocol import merkle as mk

HERE = Path(__file__).resolve().parent
FILES = ("digests.json", "merkle.json", "beacon.json")

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_CHAIN_ID = 8453
OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
UINT32_MAX = 2**32 - 1
UINT128_MAX = 2**128 - 1

# drand's public "testnet-unchained-3s" chain (scheme pedersen-bls-unchained): public key,
# genesis and period from its /info, and two of its rounds as drand served them.
DRAND_TESTNET_UNCHAINED: dict[str, Any] = {
    "chainHash": "0x7672797f548f3f4748ac4bf3352fc6c6b6468c9ad40ad456a397545c6e2df5bf",
    "publicKey": "0x8200fc249deb0148eb918d6e213980c5d01acd7fc251900d9260136da3b54836ce12517"
    "2399ddc69c4e3e11429b62c11",
    "genesisTime": "1651677099",
    "period": "3",
    "rounds": [
        (
            1000,
            "0xa4721e6c3eafcd823f138cd29c6c82e8c5149101d0bb4bafddbac1c2d1fe3738895e4e21dd4b8b41"
            "bf007046440220910bb1cdb91f50a84a0d7f33ff2e8577aa62ac64b35a291a728a9db5ac91e06d1312"
            "b48a376138d77b4d6ad27c24221afe",
        ),
        (
            7601003,
            "0xaf7eac5897b72401c0f248a26b612c5ef68e0ff830b4d78927988c89b5db3e997bfcdb7c24cb19f5"
            "49830cd02cb854a1143fd53a1d4e0713ded471260869439060d170a77187eb6371742840e43eccfa22"
            "5657c4cc2d9619f7c3d680470c9743",
        ),
    ],
}
DEVNET_SEED = b"flchain vectors devnet beacon"


def h(label: str) -> bytes:
    return dg.keccak(label.encode())


def addr(label: str) -> str:
    return to_checksum_address(h(label)[12:])


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def s(n: int) -> str:
    return str(n)


# ---------------------------------------------------------------- digests.json


def _commitments() -> list[dict[str, Any]]:
    cases = [
        (CHAIN_ID, CONTRACT, 0, addr("node a"), h("update a"), h("genesis"), 250, h("salt a")),
        (CHAIN_ID, CONTRACT, 7, addr("node b"), h("update b"), h("base 6"), -9_999, h("salt b")),
        (CHAIN_ID, CONTRACT, 7, addr("node b"), h("update b"), h("base 6"), INT32_MIN, h("salt b")),
        (CHAIN_ID, CONTRACT, 2**32, addr("node c"), h("update c"), h("base"), INT32_MAX, dg.ZERO32),
        (
            OTHER_CHAIN_ID,
            OTHER_CONTRACT,
            7,
            addr("node b"),
            h("update b"),
            h("base 6"),
            -9_999,
            h("salt b"),
        ),
    ]
    out = []
    for chain_id, contract, rnd, node, upd, base, roi, salt in cases:
        out.append(
            {
                "chainId": s(chain_id),
                "contract": contract,
                "round": s(rnd),
                "node": node,
                "updateDigest": hx(upd),
                "baseDigest": hx(base),
                "roiBps": s(roi),
                "salt": hx(salt),
                "commitment": hx(
                    dg.commitment_hash_v2(chain_id, contract, rnd, node, upd, base, roi, salt)
                ),
            }
        )
    return out


def _results() -> list[dict[str, Any]]:
    raw = dg.raw_leaf_cid(h("merged 3"))
    dag_pb = bytes([0x01, 0x70, 0x12, 0x20]) + h("manifest 3 root")
    cases = [
        (CHAIN_ID, CONTRACT, 3, h("merged 3"), raw, dag_pb, h("root 3"), 123_456_789),
        (CHAIN_ID, CONTRACT, 3, h("merged 3"), raw, dag_pb, h("root 3"), 0),
        (
            CHAIN_ID,
            CONTRACT,
            4,
            h("merged 4"),
            dg.raw_leaf_cid(h("merged 4")),
            raw,
            dg.ZERO32,
            UINT128_MAX,
        ),
    ]
    out = []
    for chain_id, contract, rnd, merged, mcid, man, root, earned in cases:
        out.append(
            {
                "chainId": s(chain_id),
                "contract": contract,
                "round": s(rnd),
                "mergedDigest": hx(merged),
                "mergedCid": hx(mcid),
                "manifestCid": hx(man),
                "settlementRoot": hx(root),
                "roundEarned": s(earned),
                "resultHash": hx(
                    dg.result_hash_v2(chain_id, contract, rnd, merged, mcid, man, root, earned)
                ),
            }
        )
    return out


LEAF_CASES: list[tuple[str, int, int, int, int, int, int]] = [
    # (node label, index, cumEarned, cumPenalties, mergedRounds, lastPenaltyRound, scoreBps)
    ("node a", 0, 0, 0, 0, 0, 0),
    ("node b", 1, 10**18, 1, 5, 4, -250),
    ("node c", 2, 333, 0, 12, 0, 1_234),
    ("node d", 7, UINT128_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, INT32_MIN),
    ("node e", 65_535, 5, 2, 9, 8, INT32_MAX),
]


def leaf_of(case: tuple[str, int, int, int, int, int, int]) -> tuple[str, bytes]:
    label, index, earned, pens, merged, last_pen, score = case
    node = addr(label)
    return node, dg.leaf_hash(
        CHAIN_ID, CONTRACT, node, index, earned, pens, merged, last_pen, score
    )


def _leaves() -> list[dict[str, Any]]:
    out = []
    for case in LEAF_CASES:
        node, leaf = leaf_of(case)
        _, index, earned, pens, merged, last_pen, score = case
        out.append(
            {
                "chainId": s(CHAIN_ID),
                "contract": CONTRACT,
                "node": node,
                "index": s(index),
                "cumEarned": s(earned),
                "cumPenalties": s(pens),
                "mergedRounds": s(merged),
                "lastPenaltyRound": s(last_pen),
                "scoreBps": s(score),
                "leafHash": hx(leaf),
            }
        )
    return out


def _raw_cids() -> list[dict[str, Any]]:
    from flchain.storage.cid import cid_from_bytes

    out = []
    for payload in (b"", b"hello world\n", bytes(range(256)) + b"\xff" * 44):
        digest = dg.sha256(payload)
        cid = dg.raw_leaf_cid(digest)
        out.append(
            {
                "payload": hx(payload),
                "digest": hx(digest),
                "cid": hx(cid),
                "cidString": str(cid_from_bytes(cid)),
            }
        )
    return out


def _salts_and_seeds() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    salt_sets = [
        {},
        {addr("node a"): h("salt a")},
        {addr("node c"): h("salt c"), addr("node a"): h("salt a"), addr("node b"): h("salt b")},
    ]
    salts_out = []
    for salts in salt_sets:
        ordered = sorted(salts, key=lambda a: int(a, 16))
        salts_out.append(
            {
                "salts": [{"node": n, "salt": hx(salts[n])} for n in ordered],
                "saltsHash": hx(dg.salts_hash(salts)),
            }
        )
    seeds_out = []
    ties_out = []
    for rnd, salts, randomness in (
        (0, salt_sets[0], dg.ZERO32),
        (5, salt_sets[2], bc.beacon_randomness(h("signature 5") + h("x") + h("y"))),
    ):
        sh = dg.salts_hash(salts)
        value = dg.seed(CHAIN_ID, CONTRACT, rnd, sh, randomness)
        seeds_out.append(
            {
                "chainId": s(CHAIN_ID),
                "contract": CONTRACT,
                "round": s(rnd),
                "saltsHash": hx(sh),
                "randomness": hx(randomness),
                "seed": hx(value),
            }
        )
        for label in ("node a", "node b"):
            ties_out.append(
                {
                    "seed": hx(value),
                    "node": addr(label),
                    "tieKey": hx(dg.tie_key(value, addr(label))),
                }
            )
    return salts_out, seeds_out, ties_out


def _accumulator() -> dict[str, Any]:
    acc = dg.EMPTY_ACCUMULATOR
    steps: list[dict[str, Any]] = []

    def push(kind: str, fields: dict[str, Any], entry: bytes) -> None:
        nonlocal acc
        acc = dg.accumulate(acc, entry)
        steps.append({"kind": kind, **fields, "entry": hx(entry), "accumulator": hx(acc)})

    a, b = addr("node a"), addr("node b")
    for node, upd, roi, outcome, length in (
        (a, h("update a"), 250, 0, 1_536),
        (b, h("update b"), -20_000, 1, 16_384),
    ):
        push(
            "revealed",
            {
                "node": node,
                "updateDigest": hx(upd),
                "baseDigest": hx(h("genesis")),
                "roiBps": s(roi),
                "salt": hx(h("salt " + node)),
                "outcome": s(outcome),
                "payloadLength": s(length),
            },
            dg.revealed_entry(node, upd, h("genesis"), roi, h("salt " + node), outcome, length),
        )
    sig = h("sig 1") + h("sig 2") + h("sig 3")
    push("beacon", {"node": a, "signature": hx(sig)}, dg.beacon_entry(a, sig))
    push(
        "attested",
        {"node": b, "resultHash": hx(h("result")), "weight": s(3 * 10**18)},
        dg.attested_entry(b, h("result"), 3 * 10**18),
    )
    push(
        "finalized",
        {"resultHash": hx(h("result")), "tally": s(3 * 10**18), "totalStake": s(4 * 10**18)},
        dg.finalized_entry(h("result"), 3 * 10**18, 4 * 10**18),
    )
    push(
        "noReveal",
        {"node": a, "amount": s(5 * 10**16), "bounty": s(5 * 10**15), "beneficiary": b},
        dg.no_reveal_entry(a, 5 * 10**16, 5 * 10**15, b),
    )
    return {"initial": hx(dg.EMPTY_ACCUMULATOR), "steps": steps}


def build_digests() -> dict[str, Any]:
    salts, seeds, ties = _salts_and_seeds()
    return {
        "tags": {
            "COMMIT_TAG": {"preimage": "flchain.v2.commit", "value": hx(dg.COMMIT_TAG)},
            "RESULT_TAG": {"preimage": "flchain.v2.result", "value": hx(dg.RESULT_TAG)},
            "LEAF_TAG": {"preimage": "flchain.v2.leaf", "value": hx(dg.LEAF_TAG)},
            "SEED_TAG": {"preimage": "flchain.v2.seed", "value": hx(dg.SEED_TAG)},
            "ACC_REVEALED_TAG": {
                "preimage": "flchain.v2.acc.revealed",
                "value": hx(dg.ACC_REVEALED_TAG),
            },
            "ACC_BEACON_TAG": {"preimage": "flchain.v2.acc.beacon", "value": hx(dg.ACC_BEACON_TAG)},
            "ACC_ATTESTED_TAG": {
                "preimage": "flchain.v2.acc.attested",
                "value": hx(dg.ACC_ATTESTED_TAG),
            },
            "ACC_FINALIZED_TAG": {
                "preimage": "flchain.v2.acc.finalized",
                "value": hx(dg.ACC_FINALIZED_TAG),
            },
            "ACC_NO_REVEAL_TAG": {
                "preimage": "flchain.v2.acc.noreveal",
                "value": hx(dg.ACC_NO_REVEAL_TAG),
            },
        },
        "commitment": _commitments(),
        "result": _results(),
        "leaf": _leaves(),
        "rawLeafCid": _raw_cids(),
        "saltsHash": salts,
        "seed": seeds,
        "tieKey": ties,
        "accumulator": _accumulator(),
    }


# ---------------------------------------------------------------- merkle.json


def build_merkle() -> dict[str, Any]:
    leaves = dict((LEAF_CASES[i][1], leaf_of(LEAF_CASES[i])[1]) for i in range(len(LEAF_CASES)))
    trees = [
        {},
        {0: leaves[0]},
        {65_535: leaves[65_535]},
        {0: leaves[0], 1: leaves[1]},
        leaves,
    ]
    out = []
    for tree_leaves in trees:
        tree = mk.SettlementTree(tree_leaves)
        out.append(
            {
                "leaves": [
                    {"index": s(i), "leaf": hx(tree_leaves[i])} for i in sorted(tree_leaves)
                ],
                "root": hx(tree.root),
                "proofs": [
                    {
                        "index": s(i),
                        "leaf": hx(tree_leaves[i]),
                        "proof": [hx(p) for p in tree.proof(i)],
                    }
                    for i in sorted(tree_leaves)
                ],
            }
        )
    return {
        "depth": s(mk.TREE_DEPTH),
        "empty": hx(mk.EMPTY),
        "trees": out,
    }


# ---------------------------------------------------------------- beacon.json


@dataclass(frozen=True)
class _Schedule:
    t0: int
    round_length: int
    commit_window: int
    reveal_window: int
    beacon_genesis: int
    beacon_period: int
    beacon_delay: int


def _beacon_rounds() -> list[dict[str, Any]]:
    drand_genesis = int(DRAND_TESTNET_UNCHAINED["genesisTime"])
    schedules = [
        # revealEnd(r) + δ lands: before the beacon's genesis, on it, one second after it, on a
        # period boundary, one second past one (drand's 3 s testnet and a 30 s chain)
        _Schedule(1_000, 100, 40, 30, 10_000, 3, 5),
        _Schedule(1_000, 100, 40, 30, 1_075, 3, 5),
        _Schedule(1_000, 100, 40, 30, 1_074, 3, 5),
        _Schedule(1_000, 100, 40, 30, 1_045, 30, 0),
        _Schedule(1_000, 100, 40, 30, 1_044, 30, 1),
        _Schedule(drand_genesis + 7, 86_400, 43_200, 21_600, drand_genesis, 3, 30),
    ]
    out = []
    for sch in schedules:
        for rnd in (0, 1, 365):
            out.append(
                {
                    "t0": s(sch.t0),
                    "roundLength": s(sch.round_length),
                    "commitWindow": s(sch.commit_window),
                    "revealWindow": s(sch.reveal_window),
                    "beaconGenesis": s(sch.beacon_genesis),
                    "beaconPeriod": s(sch.beacon_period),
                    "beaconDelay": s(sch.beacon_delay),
                    "round": s(rnd),
                    "beaconRound": s(bc.beacon_round(sch, rnd)),
                }
            )
    return out


def build_beacon() -> dict[str, Any]:
    devnet = bc.DevnetBeacon(DEVNET_SEED)
    devnet_rounds = []
    for rnd in (1, 2, 1_000, 2**40):
        sig = devnet.sign(rnd)
        devnet_rounds.append(
            {
                "round": s(rnd),
                "message": hx(bc.beacon_message(rnd)),
                "signature": hx(sig),
                "randomness": hx(bc.beacon_randomness(sig)),
            }
        )
    drand = dict(DRAND_TESTNET_UNCHAINED)
    drand["rounds"] = [
        {
            "round": s(rnd),
            "message": hx(bc.beacon_message(rnd)),
            "signature": sig,
            "randomness": hx(bc.beacon_randomness(bytes.fromhex(sig[2:]))),
        }
        for rnd, sig in DRAND_TESTNET_UNCHAINED["rounds"]
    ]
    return {
        "beaconRound": _beacon_rounds(),
        "scheme": "pedersen-bls-unchained: public key G1 (48 B), signature G2 (96 B), message sha256(uint64_be(round))",
        "dst": bc.BEACON_DST.decode(),
        "devnet": {
            "seed": hx(DEVNET_SEED),
            "publicKey": hx(devnet.public_key),
            "rounds": devnet_rounds,
        },
        "drandTestnetUnchained": drand,
    }


BUILDERS = {"digests.json": build_digests, "merkle.json": build_merkle, "beacon.json": build_beacon}


def text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="protocol_vectors.py")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a change")
    opts = parser.parse_args(argv)
    changed = 0
    for name, build in BUILDERS.items():
        path = HERE / name
        fresh = text(build())
        same = path.exists() and path.read_text() == fresh
        print(f"{name}: {'unchanged' if same else 'CHANGED'}")
        if not same:
            changed += 1
            if not opts.check:
                path.write_text(fresh)
    return 1 if (changed and opts.check) else 0


if __name__ == "__main__":
    sys.exit(main())
