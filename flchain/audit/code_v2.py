"""The deployed code of a v2 deployment against the committed artifact (pure).

    get_satellite_addresses(contract) -> {name: address}            (the constructor's CREATEs)
    compute_expected_runtime(artifact, deployment, contract, part) -> bytes
    compare_runtime(artifact, deployment, contract, code, part) -> list[str]   (named)
    compare_creation(artifact, creation_input, deployment, rules) -> list[str]

solc leaves each immutable's bytes zero in `deployedBytecode` and the constructor writes the
value into every position where the runtime code reads it; the artifact lists those positions
by immutable (`immutables`: name, type, `[start, length]` ranges). Filled from the `Genesis`
event's `Deployment` — the genesis CID split into codec and digest, the beacon key into its
head and tail words as the constructor does — the runtime code must equal what is at the
address byte for byte. A contract compiled from other source differs outside the immutables
(named by offset); one deployed with other values than `Genesis` says differs inside one
(named by immutable).

FLChainV2's constructor creates two contracts (docs/protocol.md §15): `RulesCheckV2` by its
first CREATE (nonce 1: a contract's nonce starts at 1, EIP-161) and the forward box
`FLChainV2Forward` by its second (nonce 2). Their addresses are computed here from the
contract's address, never read from the contract: they fill FLChainV2's `_rulesCheck` and
`_forwardBox`, and the code at each is compared in the same way with the artifact's
`satellites` (the box's immutables are the ledger's address and four Deployment fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import rlp
from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from flchain.protocol.machine import Deployment, RulesV2

__all__ = [
    "LEDGER",
    "SATELLITES",
    "abi_type",
    "compare_creation",
    "compare_runtime",
    "compute_create_address",
    "compute_expected_runtime",
    "get_immutable_values",
    "get_satellite_addresses",
]

#: The part of a deployment that is FLChainV2 itself.
LEDGER: Final = "FLChainV2"
#: The contracts FLChainV2's constructor creates, in the order of its CREATEs (nonce 1, 2).
SATELLITES: Final = ("RulesCheckV2", "FLChainV2Forward")


def compute_create_address(deployer: str, nonce: int) -> str:
    """The address a CREATE by `deployer` at `nonce` gives: keccak256(rlp([deployer, nonce]))[12:]."""
    return str(to_checksum_address(keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[12:]))


def get_satellite_addresses(contract: str) -> dict[str, str]:
    """Each contract FLChainV2's constructor created at `contract`, by name."""
    return {name: compute_create_address(contract, n + 1) for n, name in enumerate(SATELLITES)}


def get_immutable_values(
    deployment: Deployment, contract: str, part: str = LEDGER
) -> dict[str, Any]:
    """The value of each immutable of `part` (FLChainV2 or one of its satellites) as the
    constructors set it from `deployment`, FLChainV2 deployed at `contract`."""
    d, cid, key = deployment, deployment.genesis_cid, deployment.beacon_public_key
    if part == "RulesCheckV2":
        return {}
    if part == "FLChainV2Forward":
        return {
            "_ledger": to_checksum_address(contract),
            "_t0": d.t0,
            "_roundLength": d.round_length,
            "_commitWindow": d.commit_window,
            "_revealWindow": d.reveal_window,
        }
    satellites = get_satellite_addresses(contract)
    return {
        "_t0": d.t0,
        "_roundLength": d.round_length,
        "_commitWindow": d.commit_window,
        "_revealWindow": d.reveal_window,
        "_beaconWindow": d.beacon_window,
        "_exitDelay": d.exit_delay,
        "_minNoticeRounds": d.min_notice_rounds,
        "_minBond": d.min_bond,
        "_genesisDigest": d.genesis_digest,
        # CidLibV2.parseMemory: 0x01 codec 0x12 0x20 digest (the constructor refused any other)
        "_genesisCidCodec": cid[1] if len(cid) == 36 else 0,
        "_genesisCidDigest": cid[4:36] if len(cid) == 36 else b"\0" * 32,
        "_beaconGenesis": d.beacon_genesis,
        "_beaconPeriod": d.beacon_period,
        "_beaconDelay": d.beacon_delay,
        "_beaconKeyHead": key[:32].ljust(32, b"\0"),
        "_beaconKeyTail": key[32:48].ljust(16, b"\0"),
        "_sourceChainId": d.source_chain_id,
        "_sourceContract": d.source_contract,
        "_sourceRound": d.source_round,
        "_rulesCheck": satellites["RulesCheckV2"],
        "_forwardBox": satellites["FLChainV2Forward"],
    }


def _word(kind: str, value: Any) -> bytes:
    # An immutable holds its value as the stack word: what abi.encode of the type gives (a
    # contract-typed immutable is its address).
    return encode(["address" if kind.startswith("contract ") else kind], [value])


def _part(artifact: Mapping[str, Any], part: str) -> Mapping[str, Any]:
    """FLChainV2's artifact itself, or one satellite's entry in it."""
    if part == LEDGER:
        return artifact
    satellites = artifact.get("satellites")
    if not isinstance(satellites, Mapping) or part not in satellites:
        raise ValueError(
            f"the artifact carries no {part} (rebuild it: python -m flchain.ledger.compile)"
        )
    found: Mapping[str, Any] = satellites[part]
    return found


def _immutables(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = entry.get("immutables")
    if not isinstance(found, list):
        raise ValueError(
            "the artifact lists no immutables (rebuild it: python -m flchain.ledger.compile)"
        )
    return found


def compute_expected_runtime(
    artifact: Mapping[str, Any], deployment: Deployment, contract: str, part: str = LEDGER
) -> bytes:
    """`part`'s runtime code in the artifact with every immutable filled from `deployment`
    (FLChainV2 at `contract`)."""
    entry = _part(artifact, part)
    code = bytearray.fromhex(str(entry["deployedBytecode"])[2:])
    values = get_immutable_values(deployment, contract, part)
    for imm in _immutables(entry):
        word = _word(imm["type"], values[imm["name"]])
        for start, length in imm["positions"]:
            code[start : start + length] = word[32 - length :]
    return bytes(code)


def _first_difference(a: bytes, b: bytes, skip: Sequence[tuple[int, int]]) -> int | None:
    masked: set[int] = set()
    for start, length in skip:
        masked.update(range(start, start + length))
    for i in range(min(len(a), len(b))):
        if a[i] != b[i] and i not in masked:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compare_runtime(
    artifact: Mapping[str, Any],
    deployment: Deployment,
    contract: str,
    code: bytes,
    part: str = LEDGER,
) -> list[str]:
    """Each way `code` (at `part`'s address) differs from the artifact filled from
    `deployment`: bytes outside the immutables first, then each immutable whose value is not
    the one Genesis (and the CREATE addresses) give. A satellite's differences name it."""
    expected = compute_expected_runtime(artifact, deployment, contract, part)
    if code == expected:
        return []
    where = "" if part == LEDGER else f"{part} at {get_satellite_addresses(contract)[part]}: "
    out: list[str] = []
    immutables = _immutables(_part(artifact, part))
    positions = [(s, n) for imm in immutables for s, n in imm["positions"]]
    at = _first_difference(code, expected, positions)
    if not code:
        out.append(f"{where}no code at the address the constructor's CREATE gives")
    elif len(code) != len(expected):
        out.append(
            f"{where}the deployed code is {len(code)} bytes, the artifact's {len(expected)} "
            f"(first difference at byte {at}): it was compiled from other source or settings"
        )
    elif at is not None:
        out.append(
            f"{where}the deployed code differs from the artifact at byte {at} (outside every "
            "immutable): it was compiled from other source or settings"
        )
    if len(code) == len(expected):
        values = get_immutable_values(deployment, contract, part)
        for imm in immutables:
            for start, length in imm["positions"]:
                held, wanted = code[start : start + length], expected[start : start + length]
                if held != wanted:
                    out.append(
                        f"{where}immutable {imm['name']} holds 0x{held.hex()}, Genesis and "
                        f"the CREATE addresses give {values[imm['name']]!r}"
                    )
                    break
    return out


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of a parameter (tuples spelled out), as selectors hash it."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return f"({','.join(abi_type(c) for c in param['components'])}){kind[5:]}"
    return kind


def compare_creation(
    artifact: Mapping[str, Any], creation_input: bytes, deployment: Deployment, rules: RulesV2
) -> list[str]:
    """The deployment transaction ran the artifact's creation code with the arguments that the
    `Genesis` and first `RulesScheduled` events repeat."""
    creation = bytes.fromhex(str(artifact["bytecode"])[2:])
    if not creation_input.startswith(creation):
        return ["the deployment transaction did not run the artifact's creation code"]
    (constructor,) = [e for e in artifact["abi"] if e["type"] == "constructor"]
    types = [abi_type(p) for p in constructor["inputs"]]
    try:
        d_args, r_args = decode(types, creation_input[len(creation) :])
    except DecodingError as exc:
        return [f"the constructor arguments do not decode: {type(exc).__name__}"]
    out = []
    if tuple(d_args) != deployment.to_abi():
        out.append("the constructor's Deployment differs from the Genesis event")
    if tuple(r_args) != rules.to_abi():
        out.append("the constructor's rules differ from RulesScheduled(0, 0)")
    return out
