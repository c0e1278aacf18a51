"""A log the contract cannot have emitted is named, not a crash: an RPC that lies about a log
(or a deployment of another artifact, whose `Revealed.outcome` counts five outcomes where
FLChainV2 now has four) gets one `MalformedLog` line, never "a bug in flchain"."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_hash.auto import keccak
from web3 import Web3

from flchain.ledger import MalformedLog, load_artifact
from flchain.ledger.events import EventCodec, EventDecoder
from flchain.ledger.events_v2 import EVENT_TYPES_V2, Revealed

CONTRACT = "0x" + "11" * 20
NODE = "0x" + "22" * 20


def decoder() -> EventDecoder:
    return EventDecoder(load_artifact(2)["abi"], CONTRACT, Web3().codec, EVENT_TYPES_V2)


def revealed_log(outcome: int, truncate: int = 0) -> dict[str, Any]:
    (item,) = [i for i in load_artifact(2)["abi"] if i.get("name") == "Revealed"]
    event = EventCodec(item)
    values = {
        "round": 3,
        "node": NODE,
        "updateDigest": b"\x01" * 32,
        "baseDigest": b"\x02" * 32,
        "roiBps": -25,
        "salt": b"\x03" * 32,
        "outcome": outcome,
        "payloadLength": 1_244,
    }
    topics = [keccak(event.signature.encode())]
    topics += [encode([t], [values[n]]) for n, t in event.indexed]
    data = encode(event.data_types, [values[str(p["name"])] for p in event.data])
    return {
        "address": CONTRACT,
        "topics": topics,
        "data": data[: len(data) - truncate],
        "blockNumber": 7,
        "logIndex": 2,
        "transactionHash": b"\x04" * 32,
    }


def test_a_revealed_log_decodes_while_its_values_fit() -> None:
    (event,) = decoder().decode([revealed_log(outcome=3)])
    assert isinstance(event, Revealed) and event.outcome == 3 and event.roi_bps == -25


def test_an_outcome_the_contract_has_not_is_a_malformed_log() -> None:
    with pytest.raises(MalformedLog, match=r"Revealed log at block 7, log 2 .* outcome") as err:
        decoder().decode([revealed_log(outcome=4)])  # the old RejectedDuplicate
    assert err.value.exit_code == 2 and "\n" not in str(err.value)


def test_data_that_does_not_decode_is_a_malformed_log() -> None:
    with pytest.raises(MalformedLog, match="does not decode with the contract's ABI"):
        decoder().decode([revealed_log(outcome=0, truncate=32)])
