"""Reveal payloads read from calldata (docs/protocol.md §5): bounded, batched, cached.

A v2 reveal's update bytes are not in its `Revealed` event but in the input of the transaction
that emitted it. A payload is **readable** — `read` gives the bytes, else None, which the merge
calls `payload_unreadable` — exactly when, for the transaction `tx_hash` of the event:

1. its signed (raw) encoding is at most `MAX_REVEAL_TX_BYTES` (an honest reveal of the largest
   payload, 16 KiB, is about 16.7 KB);
2. it calls this contract directly (`to` is the contract: a call forwarded by another
   contract, whose input is the other contract's, is not read — the node chose to send it so);
3. its input is byte for byte the canonical ABI encoding of `reveal(round, payload,
   baseDigest, roiBps, salt)` with the event's round, digest, claim and salt and
   `payloadLength` bytes of payload;
4. `sha256(payload) == updateDigest`.

Every rule reads consensus data only (the signed transaction), so every reader decides the same;
the first also bounds what a reader ever takes in: an unreadable transaction may be megabytes,
and nothing here reads more than the bound of a transaction before giving up on it.

Fetching: the embedded chain's transactions are read from py-evm in-process; a JSON-RPC
endpoint is asked `eth_getRawTransactionByHash` in batches of `BATCH` (one HTTP request each,
the response streamed and cut off at the batch's bound; a batch over it is halved until the
oversized transactions are alone), the raw bytes checked to hash to the transaction hash.
Endpoints without that method (hardhat's) answer `eth_getTransactionByHash` instead, from whose
fields the signed encoding is rebuilt (and checked against the hash the same way). Decisions
are cached per transaction hash (immutable: a hash names one signed transaction), up to
`CACHE_BYTES` of payloads per backend.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import requests
import rlp
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_utils import to_canonical_address, to_checksum_address

from flchain.ledger.backends import NETWORK_ERRORS, Backend, EmbeddedBackend, RpcBackend
from flchain.ledger.errors import ChainUnavailable, LedgerError, first_line
from flchain.ledger.events_v2 import Revealed
from flchain.protocol import digests as dg

__all__ = [
    "BATCH",
    "CACHE_BYTES",
    "MAX_REVEAL_TX_BYTES",
    "REVEAL_SELECTOR",
    "PayloadReader",
    "fetch_raw_transactions",
    "payload_of",
    "reveal_calldata",
]

#: The largest signed reveal transaction whose payload is read (rule 1).
MAX_REVEAL_TX_BYTES: Final = 32 * 1024
REVEAL_SELECTOR: Final = keccak(b"reveal(uint256,bytes,bytes32,int32,bytes32)")[:4]
#: Transactions asked for in one JSON-RPC request.
BATCH: Final = 100
#: Payload bytes kept per backend (two rounds of 1 000 reveals of 16 KiB each fit).
CACHE_BYTES: Final = 64 * 1024 * 1024
#: A bound on one transaction's JSON-RPC answer that any transaction within
#: MAX_REVEAL_TX_BYTES stays under: hex doubles every byte, and the field names, quotes and
#: access-list punctuation add less than another byte per byte.
_ANSWER_BOUND: Final = 3 * MAX_REVEAL_TX_BYTES + 4096
_TIMEOUT_S: Final = 60.0
_NOT_SUPPORTED: Final = (-32601, -32004)  # "method not found", "method not supported"
_POST_ERRORS: Final[tuple[type[BaseException], ...]] = (
    *NETWORK_ERRORS,
    requests.exceptions.HTTPError,
)


def reveal_calldata(
    round: int, payload: bytes, base_digest: bytes, roi_bps: int, salt: bytes
) -> bytes:
    """The canonical input of a `reveal` call: what a reader requires byte for byte (rule 3)."""
    return REVEAL_SELECTOR + abi_encode(
        ["uint256", "bytes", "bytes32", "int32", "bytes32"],
        [round, payload, base_digest, roi_bps, salt],
    )


#: Position of `to` and `data` in the RLP list of each transaction type.
_CALL_FIELDS: Final = {0: (3, 5), 1: (4, 6), 2: (5, 7), 3: (5, 7), 4: (5, 7)}


def _call_of(raw: bytes) -> tuple[bytes, bytes] | None:
    """(`to`, input) of a signed transaction, or None if it does not decode as one."""
    try:
        if raw and raw[0] >= 0xC0:
            kind, items = 0, rlp.decode(raw)
        elif raw and raw[0] in _CALL_FIELDS:
            kind, items = raw[0], rlp.decode(raw[1:])
        else:
            return None
    except rlp.exceptions.DecodingError:
        return None
    to_at, data_at = _CALL_FIELDS[kind]
    if not isinstance(items, list) or len(items) <= data_at:
        return None
    to, data = items[to_at], items[data_at]
    return (to, data) if isinstance(to, bytes) and isinstance(data, bytes) else None


def payload_of(raw: bytes | None, contract: str, reveal: Revealed) -> bytes | None:
    """The payload of `reveal` from the signed transaction `raw` that emitted it, or None when
    the rules of this module's docstring make it unreadable."""
    if raw is None or len(raw) > MAX_REVEAL_TX_BYTES:
        return None
    call = _call_of(raw)
    if call is None or call[0] != to_canonical_address(contract):
        return None
    data = call[1]
    start = len(REVEAL_SELECTOR) + 6 * 32  # five head words and the payload's length word
    payload = data[start : start + reveal.payload_length]
    expected = reveal_calldata(
        reveal.round, payload, reveal.base_digest, reveal.roi_bps, reveal.salt
    )
    if data != expected or dg.sha256(payload) != reveal.update_digest:
        return None
    return payload


# ---------------------------------------------------------------- fetching signed transactions


def fetch_raw_transactions(backend: Backend, hashes: Sequence[bytes]) -> dict[bytes, bytes | None]:
    """The signed encoding of each transaction (None: unknown to the chain, or larger than
    MAX_REVEAL_TX_BYTES — without reading more than a bound of it)."""
    if isinstance(backend, EmbeddedBackend):
        return {h: _embedded_raw(backend, h) for h in hashes}
    if isinstance(backend, RpcBackend):
        out: dict[bytes, bytes | None] = {}
        for i in range(0, len(hashes), BATCH):
            out.update(_RpcRawReader(backend).read(hashes[i : i + BATCH]))
        return out
    return {h: _provider_raw(backend, h) for h in hashes}


def _embedded_raw(backend: EmbeddedBackend, tx_hash: bytes) -> bytes | None:
    from eth.exceptions import TransactionNotFound

    try:
        tx = backend.tester.backend.chain.get_canonical_transaction(tx_hash)
    except TransactionNotFound:
        return None
    raw = bytes(tx.encode()) if hasattr(tx, "encode") else rlp.encode(tx)
    return raw if len(raw) <= MAX_REVEAL_TX_BYTES else None


def _provider_raw(backend: Backend, tx_hash: bytes) -> bytes | None:
    """Any other backend: through its web3 provider (not streamed)."""
    answer = backend.w3.provider.make_request(
        "eth_getRawTransactionByHash",  # type: ignore[arg-type]
        ["0x" + tx_hash.hex()],
    )
    return _checked_raw(tx_hash, answer.get("result"))


def _checked_raw(tx_hash: bytes, result: Any) -> bytes | None:
    if result is None:
        return None
    raw = bytes.fromhex(str(result)[2:])
    if len(raw) > MAX_REVEAL_TX_BYTES:
        return None
    if keccak(raw) != tx_hash:
        raise LedgerError(
            f"the RPC endpoint answered a transaction that does not hash to 0x{tx_hash.hex()}: "
            "use another endpoint"
        )
    return raw


class _RpcRawReader:
    """Batched, bounded reads of signed transactions from a JSON-RPC endpoint."""

    def __init__(self, backend: RpcBackend) -> None:
        self.backend = backend
        # Whether the endpoint serves eth_getRawTransactionByHash (hardhat does not): asked
        # once per backend.
        self.flags: dict[str, bool] = backend.shared(("raw-transactions",), dict)

    def read(self, hashes: Sequence[bytes]) -> dict[bytes, bytes | None]:
        if not hashes:
            return {}
        raw_method = self.flags.get("raw", True)
        method = "eth_getRawTransactionByHash" if raw_method else "eth_getTransactionByHash"
        bound = len(hashes) * (_ANSWER_BOUND if not raw_method else 2 * MAX_REVEAL_TX_BYTES + 256)
        body = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": ["0x" + h.hex()]}
            for i, h in enumerate(hashes)
        ]
        text = self._post(body, bound)
        if text is None:  # over the bound: some transaction is too large; find it
            if len(hashes) == 1:
                return {hashes[0]: None}
            half = len(hashes) // 2
            return {**self.read(hashes[:half]), **self.read(hashes[half:])}
        answers = _by_id(text, len(hashes))
        if raw_method and any(_unsupported(a) for a in answers.values()):
            self.flags["raw"] = False
            return self.read(hashes)
        out: dict[bytes, bytes | None] = {}
        for i, h in enumerate(hashes):
            answer = answers.get(i)
            if answer is None or "error" in answer:
                why = "no answer" if answer is None else _message(answer["error"])
                raise LedgerError(f"{method} failed for 0x{h.hex()}: {why}")
            result = answer.get("result")
            out[h] = _checked_raw(h, result) if raw_method else _raw_from_json(h, result)
        return out

    def _post(self, body: list[dict[str, Any]], bound: int) -> bytes | None:
        """The answer's bytes, or None once it grows past `bound` (the rest is never read)."""
        failure: BaseException | None = None
        for url in _urls(self.backend):
            try:
                with requests.post(url, json=body, stream=True, timeout=_TIMEOUT_S) as response:
                    response.raise_for_status()
                    declared = response.headers.get("Content-Length")
                    if declared is not None and int(declared) > bound:
                        return None
                    buffer = bytearray()
                    for chunk in response.iter_content(64 * 1024):
                        buffer += chunk
                        if len(buffer) > bound:
                            return None
                    return bytes(buffer)
            except _POST_ERRORS as exc:
                failure = exc
        why = type(failure).__name__ if failure else "no endpoint"
        raise ChainUnavailable(f"cannot reach the chain to read reveal transactions ({why})")


def _urls(backend: RpcBackend) -> list[str]:
    """The endpoint in use first, then the others (the backend's failover order)."""
    active = backend.active_url
    return [active, *(u for u in backend.urls if u != active)]


def _by_id(text: bytes, count: int) -> dict[int, Mapping[str, Any]]:
    try:
        answers = json.loads(text)
    except ValueError:
        raise LedgerError("the RPC endpoint answered a batch with malformed JSON") from None
    if isinstance(answers, Mapping):  # one error for the whole batch
        answers = [answers] * count if "error" in answers else [answers]
    if not isinstance(answers, list):
        raise LedgerError("the RPC endpoint answered a batch with something else than a list")
    return {int(a.get("id", -1)): a for a in answers if isinstance(a, Mapping)}


def _unsupported(answer: Mapping[str, Any]) -> bool:
    error = answer.get("error")
    return isinstance(error, Mapping) and error.get("code") in _NOT_SUPPORTED


def _message(error: Any) -> str:
    if isinstance(error, Mapping):
        return first_line(error.get("message", ""), f"code {error.get('code', '?')}")
    return first_line(error, "error")


def _int(value: Any) -> int:
    return int(str(value), 16)


def _data(value: Any) -> bytes:
    return bytes.fromhex(str(value)[2:]) if value else b""


def _access_list(items: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    return [[_data(a["address"]), [_data(k) for k in a.get("storageKeys", [])]] for a in items]


def _raw_from_json(tx_hash: bytes, tx: Any) -> bytes | None:
    """The signed encoding rebuilt from `eth_getTransactionByHash`'s fields (types 0–4), checked
    to hash to `tx_hash`."""
    if tx is None:
        return None
    kind = _int(tx.get("type", "0x0"))
    to = _data(tx.get("to"))
    head: list[Any]
    if kind == 0:
        fields = [_int(tx["nonce"]), _int(tx["gasPrice"]), _int(tx["gas"]), to, _int(tx["value"])]
        raw = rlp.encode([*fields, _data(tx["input"]), _int(tx["v"]), _int(tx["r"]), _int(tx["s"])])
    elif kind in _CALL_FIELDS:
        chain_id, nonce = _int(tx["chainId"]), _int(tx["nonce"])
        if kind == 1:
            head = [chain_id, nonce, _int(tx["gasPrice"])]
        else:
            head = [chain_id, nonce, _int(tx["maxPriorityFeePerGas"]), _int(tx["maxFeePerGas"])]
        body = [_int(tx["gas"]), to, _int(tx["value"]), _data(tx["input"])]
        body.append(_access_list(tx.get("accessList", [])))
        if kind == 3:
            body += [_int(tx["maxFeePerBlobGas"]), [_data(h) for h in tx["blobVersionedHashes"]]]
        if kind == 4:
            body.append(
                [
                    [_int(a["chainId"]), _data(a["address"]), _int(a["nonce"]),
                     _int(a["yParity"]), _int(a["r"]), _int(a["s"])]
                    for a in tx["authorizationList"]
                ]
            )  # fmt: skip
        parity = _int(tx.get("yParity", tx.get("v")))
        raw = bytes([kind]) + rlp.encode([*head, *body, parity, _int(tx["r"]), _int(tx["s"])])
    else:
        return None
    return _checked_raw(tx_hash, "0x" + raw.hex())


# ---------------------------------------------------------------- the reader


class _PayloadCache:
    """tx hash → payload or None, least recently used first out past `limit` payload bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[bytes, bytes | None] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: bytes) -> tuple[bool, bytes | None]:
        with self.lock:
            if key not in self.entries:
                return False, None
            self.entries.move_to_end(key)
            return True, self.entries[key]

    def put(self, key: bytes, payload: bytes | None) -> None:
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = payload
            self.size += len(payload or b"")
            while self.size > self.limit and self.entries:
                _, old = self.entries.popitem(last=False)
                self.size -= len(old or b"")


class PayloadReader:
    """The payloads of `Revealed` events of the contract at `contract` on `backend` (the
    decisions shared by every reader of that contract on the backend)."""

    def __init__(self, backend: Backend, contract: str) -> None:
        self.backend = backend
        self.contract = to_checksum_address(contract)
        self.cache: _PayloadCache = backend.shared(
            ("reveal-payloads", self.contract), lambda: _PayloadCache(CACHE_BYTES)
        )
        self.fetched = 0  # transactions fetched (not served from the cache): for tests, benches

    def read(self, reveals: Sequence[Revealed]) -> list[bytes | None]:
        """Each reveal's payload (None: unreadable), in the order given."""
        keys = [bytes.fromhex(r.tx_hash[2:]) for r in reveals]
        missing = sorted({k for k in keys if not self.cache.get(k)[0]})
        if missing:
            try:
                raws = fetch_raw_transactions(self.backend, missing)
            except NETWORK_ERRORS:
                raise ChainUnavailable("cannot reach the chain to read reveal payloads") from None
            self.fetched += len(missing)
            for reveal, key in zip(reveals, keys, strict=True):
                if key in raws:
                    self.cache.put(key, payload_of(raws.pop(key), self.contract, reveal))
        return [self._cached(k) for k in keys]

    def _cached(self, key: bytes) -> bytes | None:
        found, payload = self.cache.get(key)
        if not found:  # evicted between the put and now: only with a cache smaller than a round
            raise LedgerError("the payload cache is smaller than one round's payloads")
        return payload
