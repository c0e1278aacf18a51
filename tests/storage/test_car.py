"""CARv1 round trips between the local store and the real daemon, byte for byte."""

from __future__ import annotations

import io

import pytest

from flchain.storage import IpfsClient, LocalStore
from flchain.storage.car import read_car
from flchain.storage.errors import BlockNotFoundError, CarFormatError, ContentMismatchError
from flchain.storage.unixfs import CHUNK_SIZE

from .conftest import pseudo_random_bytes


def _car_of(store: LocalStore, cid: str) -> bytes:
    out = io.BytesIO()
    store.export_car(cid, out)
    return out.getvalue()


@pytest.mark.ipfs
def test_local_to_car_to_daemon(local_store: LocalStore, ipfs: IpfsClient) -> None:
    data = pseudo_random_bytes(5 * CHUNK_SIZE + 11, seed=b"local->daemon")
    cid = local_store.put(data)
    roots = ipfs.import_car(io.BytesIO(_car_of(local_store, cid)))
    assert roots == [cid]
    assert ipfs.get(cid) == data


@pytest.mark.ipfs
def test_daemon_to_car_to_local(local_store: LocalStore, ipfs: IpfsClient) -> None:
    data = pseudo_random_bytes(4 * CHUNK_SIZE + 3, seed=b"daemon->local")
    cid = ipfs.put(data)
    car = io.BytesIO()
    ipfs.export_car(cid, car)
    car.seek(0)
    assert local_store.import_car(car) == [cid]
    assert local_store.get(cid) == data
    assert cid in local_store.pins()
    # Same DAG, same blocks: our export is block-for-block what the daemon exported.
    _roots, theirs = read_car(io.BytesIO(car.getvalue()))
    _roots, ours = read_car(io.BytesIO(_car_of(local_store, cid)))
    assert sorted((str(c), b) for c, b in theirs) == sorted((str(c), b) for c, b in ours)


def test_local_car_round_trip_into_fresh_store(local_store: LocalStore, tmp_path: object) -> None:
    from pathlib import Path

    data = pseudo_random_bytes(2 * CHUNK_SIZE + 1, seed=b"roundtrip")
    cid = local_store.put(data)
    other = LocalStore(Path(str(tmp_path)) / "other")
    assert other.import_car(io.BytesIO(_car_of(local_store, cid))) == [cid]
    assert other.get(cid) == data


def test_car_with_corrupt_block_is_refused(local_store: LocalStore, tmp_path: object) -> None:
    from pathlib import Path

    cid = local_store.put(pseudo_random_bytes(CHUNK_SIZE + 1, seed=b"corrupt"))
    car = bytearray(_car_of(local_store, cid))
    car[-10] ^= 0xFF
    with pytest.raises(ContentMismatchError):
        LocalStore(Path(str(tmp_path)) / "x").import_car(io.BytesIO(bytes(car)))


def test_car_missing_blocks_cannot_pin(local_store: LocalStore, tmp_path: object) -> None:
    from pathlib import Path

    cid = local_store.put(pseudo_random_bytes(CHUNK_SIZE + 1, seed=b"partial"))
    car = _car_of(local_store, cid)
    cut = car[:-38]  # drop the last section: varint 37, a 36-byte CID, the 1-byte leaf
    with pytest.raises(BlockNotFoundError):
        LocalStore(Path(str(tmp_path)) / "y").import_car(io.BytesIO(cut))


@pytest.mark.parametrize(
    "payload", [b"", b"\x05hello", b"\x0a" + b"\xa1" + b"\x67version" + b"\x02" + b"\0" * 0]
)
def test_malformed_car_is_car_format_error(payload: bytes) -> None:
    with pytest.raises(CarFormatError):
        _roots, sections = read_car(io.BytesIO(payload))
        list(sections)
