"""Canonical safetensors: same tensors → same bytes; hostile payloads refused, never unpickled."""

from __future__ import annotations

import io
import json
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from flchain.storage.errors import (
    HeaderTooLargeError,
    NonCanonicalWeightsError,
    NonFiniteWeightsError,
    NotSafetensorsError,
    PickleRefusedError,
    TorchZipRefusedError,
    WeightsDtypeError,
    WeightsLayoutError,
)
from flchain.storage.weights import decode_weights, encode_weights, is_canonical


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "layer2.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "layer1.bias": rng.standard_normal(5).astype(np.float32),
        "scalar": np.array(1.25, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def _raw_safetensors(header: dict[str, object], body: bytes) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + body


def test_round_trip_keeps_values_shapes_and_metadata() -> None:
    tensors = _tensors()
    data = encode_weights(tensors, {"model": "mlp", "round": "3"})
    decoded, metadata = decode_weights(data, require_canonical=True)
    assert metadata == {"model": "mlp", "round": "3"}
    assert sorted(decoded) == sorted(tensors)
    for name, arr in tensors.items():
        assert decoded[name].dtype == np.float32
        assert decoded[name].shape == arr.shape
        assert np.array_equal(decoded[name], arr)


def test_bytes_do_not_depend_on_insertion_order_layout_or_byte_order() -> None:
    tensors = _tensors()
    reordered = {k: tensors[k] for k in reversed(list(tensors))}
    fortran_big_endian = {k: v.astype(">f4", order="F") for k, v in tensors.items()}
    a = encode_weights(tensors, {"x": "1", "a": "2"})
    assert a == encode_weights(reordered, {"a": "2", "x": "1"})
    assert a == encode_weights(fortran_big_endian, {"x": "1", "a": "2"})
    assert is_canonical(a)


def test_output_is_standard_safetensors_and_data_is_name_ordered() -> None:
    tensors = _tensors()
    data = encode_weights(tensors)
    loaded = st_load(data)
    for name, arr in tensors.items():
        assert np.array_equal(loaded[name], arr)
    (n,) = struct.unpack_from("<Q", data)
    assert n % 8 == 0
    header = json.loads(data[8 : 8 + n])
    starts = [header[name]["data_offsets"][0] for name in sorted(tensors)]
    assert starts == sorted(starts)


def test_library_written_file_decodes_but_is_flagged_non_canonical() -> None:
    data = st_save({"w": np.ones(3, np.float32)}, metadata={"k": "v"})
    tensors, metadata = decode_weights(data)
    assert np.array_equal(tensors["w"], np.ones(3, np.float32)) and metadata == {"k": "v"}
    if data != encode_weights(tensors, metadata):
        with pytest.raises(NonCanonicalWeightsError):
            decode_weights(data, require_canonical=True)
        assert not is_canonical(data)


def test_torch_save_zip_is_refused_by_name() -> None:
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    with pytest.raises(TorchZipRefusedError, match="zip"):
        decode_weights(buf.getvalue())


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pickle_is_refused_and_never_loaded(protocol: int) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (pytest.fail, ("the payload was unpickled",))

    payload = pickle.dumps(Boom(), protocol=protocol)
    with pytest.raises(PickleRefusedError, match="pickle"):
        decode_weights(payload)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_on_decode_and_encode(bad: float) -> None:
    arr = np.array([1.0, bad], dtype=np.float32)
    with pytest.raises(NonFiniteWeightsError, match="'w'"):
        encode_weights({"w": arr})
    forged = _raw_safetensors(
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, arr.astype("<f4").tobytes()
    )
    with pytest.raises(NonFiniteWeightsError):
        decode_weights(forged)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32])
def test_non_float32_is_refused_without_casting(dtype: type) -> None:
    with pytest.raises(WeightsDtypeError, match="float32"):
        encode_weights({"w": np.ones(2, dtype=dtype)})


def test_foreign_dtype_in_header_is_refused() -> None:
    data = st_save({"w": np.ones(2, np.float64)})
    with pytest.raises(WeightsDtypeError, match="F64"):
        decode_weights(data)


def test_overlapping_offsets_are_refused() -> None:
    forged = _raw_safetensors(
        {
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        },
        bytes(12),
    )
    with pytest.raises(WeightsLayoutError, match="overlaps"):
        decode_weights(forged)


def test_out_of_bounds_offsets_are_refused() -> None:
    forged = _raw_safetensors(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8)
    )
    with pytest.raises(WeightsLayoutError, match="beyond"):
        decode_weights(forged)


def test_offsets_that_disagree_with_shape_are_refused() -> None:
    forged = _raw_safetensors(
        {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)
    )
    with pytest.raises(WeightsLayoutError, match="shape"):
        decode_weights(forged)


def test_oversized_header_is_refused_before_parsing() -> None:
    with pytest.raises(HeaderTooLargeError):
        decode_weights(struct.pack("<Q", 1 << 40) + b"{}")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"abc",
        struct.pack("<Q", 100) + b"{}",
        struct.pack("<Q", 2) + b"[]",
        b"\x02\0\0\0\0\0\0\0{x",
    ],
)
def test_garbage_is_not_safetensors(payload: bytes) -> None:
    with pytest.raises(NotSafetensorsError):
        decode_weights(payload)
