"""The update binding (protocol v2, docs/protocol.md §5): every update names its reveal.

An update's safetensors metadata carries two entries besides its model config,

    flchain.update.node   = the revealing node's address, lower-case 0x hex
    flchain.update.round  = the round it is revealed in, decimal

and the merge refuses (`unbound_update`, penalised) an accepted reveal whose payload does not
name exactly that node and that round. A node reveals once a round, so no two reveals can both
be bound: a byte-for-byte copy of any earlier update (another node's, the base, genesis, a final
model — global models name no reveal) is the copier's own fault, provable from its calldata.

The rule replaced the contract's seen-mark (a digest revealed once, ever), which cost every
reveal a fresh storage word (22 100 gas) and stopped no more: both refuse the same bytes
twice, and neither stops a copy that changed one byte — that is the similarity cap's and
forward scoring's job (docs/security.md §3). Being the merge's, the rule needs no state.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BINDING_PREFIX",
    "UPDATE_NODE_KEY",
    "UPDATE_ROUND_KEY",
    "compute_binding_metadata",
    "get_binding_fault",
]

#: Every metadata key of the binding starts so; no other key may.
BINDING_PREFIX = "flchain.update."
UPDATE_NODE_KEY = BINDING_PREFIX + "node"
UPDATE_ROUND_KEY = BINDING_PREFIX + "round"


def compute_binding_metadata(node: str, round: int) -> dict[str, str]:
    """The metadata entries that bind an update to `node`'s reveal in `round`."""
    if round < 0:
        raise ValueError(f"a round is never negative, got {round}")
    return {UPDATE_NODE_KEY: node.lower(), UPDATE_ROUND_KEY: str(round)}


def get_binding_fault(metadata: Mapping[str, str], node: str, round: int) -> str | None:
    """None when `metadata` binds the update to exactly `node`'s reveal in `round`; else why not
    (one line, for the manifest)."""
    found = {k: v for k, v in metadata.items() if k.startswith(BINDING_PREFIX)}
    if not found:
        return "the update names no reveal (a global model or a pre-binding update)"
    expected = compute_binding_metadata(node, round)
    if found == expected:
        return None
    named = f"{found.get(UPDATE_NODE_KEY, '?')} in round {found.get(UPDATE_ROUND_KEY, '?')}"
    extra = sorted(set(found) - set(expected))
    if extra:
        return f"the update's binding has an unknown entry {extra[0]!r}"
    return f"the update names the reveal of {named}, not {node.lower()} in round {round}"
