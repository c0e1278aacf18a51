"""Validate refuses safetensors that parse but are not the canonical bytes (digests must repeat)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from _scenario import Update, build, node, standard_rules

from flchain.merge import PENALISED_REASONS, Reason, merge
from flchain.storage.weights import decode_weights


def _reorder_header(payload: bytes, _: dict[str, np.ndarray]) -> bytes:
    """Same tensors, same data bytes, same metadata; only the JSON header is laid out otherwise
    (names in reverse order, a space after each separator, padded to 8 like the canonical one)."""
    (n,) = struct.unpack_from("<Q", payload, 0)
    header = json.loads(payload[8 : 8 + n])
    reordered = dict(sorted(header.items(), reverse=True))
    text = json.dumps(reordered, separators=(", ", ": ")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + payload[8 + n :]


def test_valid_but_non_canonical_update_is_not_safetensors() -> None:
    good = Update(2, seed=102)
    _, canonical = good.build()
    assert canonical is not None
    spoiled = _reorder_header(canonical, {})
    # the spoiled file is a valid safetensors file with exactly the same tensors and metadata
    tensors, metadata = decode_weights(spoiled)
    ref_tensors, ref_metadata = decode_weights(canonical)
    assert spoiled != canonical and metadata == ref_metadata
    assert sorted(tensors) == sorted(ref_tensors)
    assert all(np.array_equal(tensors[k], ref_tensors[k]) for k in ref_tensors)

    updates = [
        Update(1, seed=101),
        Update(2, seed=102, spoil_payload=_reorder_header),
        Update(3, seed=103),
    ]
    record, payloads, base, bench = build(updates, standard_rules(norm_bound_micro=5_000_000))
    result = merge(record, payloads, base, bench, [])
    reasons = {d.node: d.reason for d in result.decisions}
    assert reasons[node(2)] == Reason.NOT_SAFETENSORS
    assert reasons[node(1)] == reasons[node(3)] == Reason.ACCEPTED
    assert node(2) in result.penalised and Reason.NOT_SAFETENSORS in PENALISED_REASONS


@pytest.mark.parametrize("pad", [b" " * 8, b"\t" * 8])
def test_extra_header_whitespace_is_rejected(pad: bytes) -> None:
    def padded(payload: bytes, _: dict[str, np.ndarray]) -> bytes:
        (n,) = struct.unpack_from("<Q", payload, 0)
        return struct.pack("<Q", n + len(pad)) + payload[8 : 8 + n] + pad + payload[8 + n :]

    updates = [Update(1, seed=101), Update(2, seed=102, spoil_payload=padded)]
    record, payloads, base, bench = build(updates, standard_rules(norm_bound_micro=5_000_000))
    reasons = {d.node: d.reason for d in merge(record, payloads, base, bench, []).decisions}
    assert reasons[node(2)] == Reason.NOT_SAFETENSORS
    assert reasons[node(1)] == Reason.ACCEPTED
