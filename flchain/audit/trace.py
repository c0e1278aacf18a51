"""The calls a transaction made into the contract, read from its call trace (pure).

    get_entry_frames(trace, sender, to, input, targets) -> list[Frame]   (TraceProblem)

A transaction sent to another contract (a contract wallet, a multisig, a batcher) reaches
FLChainV2 or its forward box (the `targets`) through internal call frames. An **entry frame** is
a `CALL` whose target is one of them and whose caller is not: what the reference machine
processes as one call, with the caller as its sender. Frames the targets make themselves (the
ledger's call into the box, a payout to a wallet) are the machine's to model and are not entry
frames. `STATICCALL` cannot change state and `DELEGATECALL` / `CALLCODE` run the target's code
on the caller's storage: neither is an entry.

Entry frames come in execution order (a pre-order walk: a frame's effects are complete before
its next sibling starts), each with whether it reverted (`revert`: its revert data) and whether
it is `undone` (it succeeded but a frame above it reverted, so nothing it did remains).

The trace is untrusted input from the RPC. It is walked without recursion, bounded in frames
and depth, and every field an entry frame needs is checked for shape: anything else is a
`TraceProblem`, which the audit reports `unverifiable`. What the trace *claims* is not believed
either: the machine's events for the entry frames must be the transaction's logs and its
accumulators the proven storage (`flchain.audit.judge_v2.replay_calls`), so a dropped, added or
altered frame is caught there. A re-entrant entry (a target's frame calling out to a contract
that calls a target again) is a `TraceProblem` too: the machine processes one call at a time.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from eth_utils import to_checksum_address

from flchain.audit.errors import TraceProblem

__all__ = ["MAX_DEPTH", "MAX_FRAMES", "Frame", "TraceProblem", "get_entry_frames"]

#: Frames read from one trace (a batch of thousands of calls is not audited, it is refused).
MAX_FRAMES: Final = 4096
#: The EVM's call depth limit, and a little room for the top frame.
MAX_DEPTH: Final = 1026
_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX: Final = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_QUANTITY: Final = re.compile(r"0x[0-9a-fA-F]{1,64}")
_KINDS: Final = frozenset(
    {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE", "CREATE", "CREATE2", "SELFDESTRUCT"}
)


@dataclass(frozen=True)
class Frame:
    """One entry frame: a call into a target by another contract (or the transaction)."""

    position: int  # its place among all the trace's frames, in execution order (0: the top)
    sender: str
    to: str
    value: int
    input: bytes
    revert: bytes | None  # None: it returned; else its revert data (b"": none)
    undone: bool  # it returned, but a frame above it reverted: it changed nothing


def _field(frame: dict[str, Any], key: str, pattern: re.Pattern[str], where: str) -> str:
    value = frame.get(key)
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise TraceProblem(f"the trace's frame {where} has no valid {key!r}")
    return value


def _address(frame: dict[str, Any], key: str, where: str) -> str:
    return str(to_checksum_address(_field(frame, key, _ADDRESS, where)))


def _bytes(frame: dict[str, Any], key: str, where: str) -> bytes:
    if key not in frame:
        return b""
    return bytes.fromhex(_field(frame, key, _HEX, where)[2:])


def get_entry_frames(
    trace: Any, sender: str, to: str | None, input: bytes, targets: Collection[str]
) -> list[Frame]:
    """The entry frames of `trace` into `targets`, in execution order; the top frame must be
    the signed transaction's (`sender`, `to`, `input`), else it is another transaction's."""
    wanted = {t.lower() for t in targets}
    if not isinstance(trace, dict):
        raise TraceProblem("the trace is not a call frame")
    top_from = _address(trace, "from", "0").lower()
    top_to = trace.get("to")
    if (
        top_from != sender.lower()
        or not isinstance(top_to, str)
        or top_to.lower() != (to or "").lower()
        or _bytes(trace, "input", "0") != input
    ):
        raise TraceProblem("the trace's top frame is not the signed transaction")
    out: list[Frame] = []
    # (frame, depth, inside a target's frame, a frame above reverted)
    stack: list[tuple[Any, int, bool, bool]] = [(trace, 0, False, False)]
    seen = 0
    while stack:
        frame, depth, inside, undone = stack.pop()
        where = str(seen)
        seen += 1
        if seen > MAX_FRAMES or depth > MAX_DEPTH:
            raise TraceProblem(f"the trace has more than {MAX_FRAMES} frames or is too deep")
        if not isinstance(frame, dict):
            raise TraceProblem(f"the trace's frame {where} is not an object")
        kind = frame.get("type")
        if kind not in _KINDS:
            raise TraceProblem(f"the trace's frame {where} has an unknown type {kind!r}")
        error = frame.get("error")
        if error is not None and not isinstance(error, str):
            raise TraceProblem(f"the trace's frame {where} has a malformed 'error'")
        reverted = error is not None
        target = frame.get("to")
        into = isinstance(target, str) and target.lower() in wanted
        caller = _address(frame, "from", where)
        if into and kind == "CALL" and caller.lower() not in wanted:
            if inside:
                raise TraceProblem(
                    f"frame {where} re-enters the contract from inside one of its calls "
                    "(the machine replays one call at a time)"
                )
            out.append(
                Frame(
                    position=seen - 1,
                    sender=caller,
                    to=_address(frame, "to", where),
                    value=int(_field(frame, "value", _QUANTITY, where), 16),
                    input=_bytes(frame, "input", where),
                    revert=_bytes(frame, "output", where) if reverted else None,
                    undone=undone and not reverted,
                )
            )
        children = frame.get("calls", [])
        if not isinstance(children, list):
            raise TraceProblem(f"the trace's frame {where} has malformed 'calls'")
        if seen + len(stack) + len(children) > MAX_FRAMES:
            raise TraceProblem(f"the trace has more than {MAX_FRAMES} frames or is too deep")
        state = (inside or (into and kind == "CALL"), undone or reverted)
        stack.extend((child, depth + 1, *state) for child in reversed(children))
    return out
