"""The ContentStore contract, run against the local blockstore and the real js-ipfs daemon."""

from __future__ import annotations

import io

import pytest

from flchain.storage import ContentStore, IpfsClient, LocalStore, cid_for_bytes
from flchain.storage.errors import BlockNotFoundError, InvalidCidError
from flchain.storage.unixfs import CHUNK_SIZE

from .conftest import pseudo_random_bytes

pytestmark = pytest.mark.ipfs


def test_both_backends_implement_the_protocol(store: LocalStore | IpfsClient) -> None:
    assert isinstance(store, ContentStore)


@pytest.mark.parametrize("size", [0, 12, CHUNK_SIZE, 3 * CHUNK_SIZE + 17])
def test_put_get_round_trip_returns_the_computed_cid(
    store: LocalStore | IpfsClient, size: int
) -> None:
    data = pseudo_random_bytes(size, seed=b"store")
    cid = store.put(data)
    assert cid == cid_for_bytes(data)
    assert store.has(cid)
    assert store.get(cid) == data
    assert b"".join(store.iter_content(cid)) == data


def test_put_stream_equals_put(store: LocalStore | IpfsClient) -> None:
    data = pseudo_random_bytes(2 * CHUNK_SIZE + 3, seed=b"stream")
    assert store.put_stream(io.BytesIO(data)) == cid_for_bytes(data)


def test_absent_content(store: LocalStore | IpfsClient) -> None:
    absent = cid_for_bytes(b"never stored " + pseudo_random_bytes(16, seed=b"absent"))
    assert not store.has(absent)
    with pytest.raises(BlockNotFoundError):
        store.get(absent)


def test_pin_keeps_content_listed(store: LocalStore | IpfsClient) -> None:
    cid = store.put_stream(io.BytesIO(b"pin me " + pseudo_random_bytes(40)), pin=False)
    store.pin(cid)
    assert cid in store.pins()


def test_bad_cid_string(store: LocalStore | IpfsClient) -> None:
    with pytest.raises(InvalidCidError):
        store.get("not-a-cid")
