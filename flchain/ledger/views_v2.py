"""Typed reads of the FLChainV2 contract's storage: `get_*` over a `ContractV2`, one per view.

Each calls one view of the contract (`ContractBinding.call`, refusals by custom error name) and
returns what `flchain.protocol.machine`'s `get_*` of the same name returns — its dataclasses
(`NodeView`, `RoundView`, `Latest`, `Accounts`, `Deployment`, `RulesV2`) and `IntEnum`s — so
the contract and the reference machine compare with `==`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeVar

from eth_utils import to_checksum_address

from flchain.ledger.events_v2 import deployment_from_abi
from flchain.protocol import Address
from flchain.protocol.machine import (
    Accounts,
    CommitState,
    Deployment,
    Latest,
    NodeView,
    Phase,
    RevealOutcome,
    RoundView,
    RulesV2,
    Status,
)

if TYPE_CHECKING:
    from flchain.ledger.contract_v2 import ContractV2

S = TypeVar("S")


def _struct(cls: type[S], values: Sequence[Any], enums: Mapping[str, type[IntEnum]] = {}) -> S:
    """A decoded struct tuple as the machine's dataclass `cls` (bytes as `bytes`, the fields
    named in `enums` as those enums)."""
    kwargs: dict[str, Any] = {}
    for f, v in zip(fields(cls), values, strict=True):  # type: ignore[arg-type]
        if f.name in enums:
            kwargs[f.name] = enums[f.name](int(v))
        elif f.type in ("bytes", bytes):
            kwargs[f.name] = bytes(v)
        else:
            kwargs[f.name] = v
    return cls(**kwargs)


def _address(node: Address) -> str:
    return to_checksum_address(node)


def get_protocol_version(c: ContractV2) -> int:
    return int(c.call("protocolVersion"))


def get_deployment(c: ContractV2) -> Deployment:
    return deployment_from_abi(c.call("deployment"))


def get_phase_at(c: ContractV2, ts: int) -> tuple[int, Phase]:
    round, phase = c.call("phaseAt", ts)
    return int(round), Phase(int(phase))


def get_current_phase(c: ContractV2) -> tuple[int, Phase]:
    round, phase = c.call("currentPhase")
    return int(round), Phase(int(phase))


def get_beacon_round(c: ContractV2, round: int) -> int:
    return int(c.call("beaconRound", round))


def get_rules_for_round(c: ContractV2, round: int) -> RulesV2:
    return RulesV2.from_abi(c.call("rulesForRound", round))


def get_rules_version_count(c: ContractV2) -> int:
    return int(c.call("rulesVersionCount"))


def get_rules_version(c: ContractV2, version: int) -> RulesV2:
    return RulesV2.from_abi(c.call("rulesVersion", version))


def get_governor(c: ContractV2) -> Address:
    return str(c.call("governor"))


def get_pending_governor(c: ContractV2) -> Address:
    return str(c.call("pendingGovernor"))


def get_pause_window(c: ContractV2) -> tuple[int, int]:
    start, until = c.call("pauseWindow")
    return int(start), int(until)


def get_node_count(c: ContractV2) -> int:
    return int(c.call("nodeCount"))


def get_node_at(c: ContractV2, index: int) -> Address:
    return str(c.call("nodeAt", index))


def get_node_view(c: ContractV2, node: Address) -> NodeView:
    return _struct(NodeView, c.call("nodeView", _address(node)), {"status": Status})


def get_stake_of(c: ContractV2, node: Address, round: int) -> int:
    return int(c.call("stakeOf", _address(node), round))


def get_round_view(c: ContractV2, round: int) -> RoundView:
    return _struct(RoundView, c.call("roundView", round))


def get_commitment_of(
    c: ContractV2, round: int, node: Address
) -> tuple[bytes, CommitState, RevealOutcome]:
    """(commitment while Committed else 0, slot state, outcome once Revealed else Accepted)."""
    commitment, state, outcome = c.call("commitmentOf", round, _address(node))
    return bytes(commitment), CommitState(int(state)), RevealOutcome(int(outcome))


def get_tally_of(c: ContractV2, round: int, result_hash: bytes) -> int:
    return int(c.call("tallyOf", round, bytes(result_hash)))


def get_has_posted_beacon(c: ContractV2, round: int, node: Address) -> bool:
    return bool(c.call("hasPostedBeacon", round, _address(node)))


def get_latest(c: ContractV2) -> Latest:
    return _struct(Latest, c.call("latest"))


def get_accounts(c: ContractV2) -> Accounts:
    return _struct(Accounts, c.call("accounts"))


def get_is_eligible(c: ContractV2, node: Address, round: int) -> bool:
    return bool(c.call("isEligible", _address(node), round))
