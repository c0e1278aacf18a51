"""The node's drand relay client (`flchain.node.drand.DrandHttpSource`) and the beacon scheme
against drand itself.

drand's own network cannot be reached from here, so the interoperability proof is a pair of
beacons published by drand's `testnet-unchained-3s` chain (public key, round, signature and
randomness as the relay served them), verified by the same code the merge runs. The relay
behaviour is tested against a real HTTP server on 127.0.0.1 that answers drand's JSON layout
(`/info`, `/public/<round>`) with the devnet beacon's signatures — a stand-in for a relay, and
also, where a test says so, a relay that lies on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flchain.ledger import Backend
from flchain.ledger.events_v2 import BeaconPosted
from flchain.node.drand import (
    DRAND_SCHEME,
    MAX_BODY_BYTES,
    BeaconRelayError,
    BeaconRelayMismatch,
    BeaconRelayUnavailable,
    DrandHttpSource,
)
from flchain.node.runner_v2 import NodeRunnerV2
from flchain.protocol.beacon import DevnetBeacon, beacon_randomness, beacon_round, verify_beacon
from flchain.protocol.machine import CommitState, Deployment, Phase
from flchain.storage import LocalStore
from flchain.testing.driver import RoundDriverV2

#: drand testnet-unchained-3s (scheme pedersen-bls-unchained): its public key and two rounds as
#: its relays served them (round, signature, randomness).
DRAND_TESTNET_UNCHAINED_KEY = bytes.fromhex(
    "8200fc249deb0148eb918d6e213980c5d01acd7fc251900d9260136da3b54836ce125172399ddc69c4e3e11429b62c11"
)
DRAND_TESTNET_BEACONS = (
    (
        18925798,
        "adb9c7c781edc13a5a48e0887b23cc33f4164cb715967b0d11d518980c564eefe7a6a44c5d1c7d2158b20f75fc5bf3"
        "5507bafd20b355abc62443c01e6343c2574435e4ef437ca07cfa946cdd2537dc76aa3b9af6c718561089462f6a2bae6189",
        "06734eb4fd6446ad313a1b6bc2aaeb4a5e3c58ad820a96535ad3e4253a846486",
    ),
    (
        19369534,
        "a33833d2098f5e0c4df334fb6c5b1c2de3ab293c77825f55d816254dabf7f4f3d429b6207e1cd2a808876e06058a1f"
        "8102bb6f6927b654b391259ea99c3566a4eb55feb9665dbaf9d33af08a10b1d8d8b35d91fd3536eb4c197be0041beb5dc2",
        "778180564f4fb9b77580af69a559ce941eb23d8d3180c48c4d290484b516c6aa",
    ),
)


@pytest.mark.parametrize(("round", "signature", "randomness"), DRAND_TESTNET_BEACONS)
def test_a_beacon_of_drands_unchained_network_verifies(
    round: int, signature: str, randomness: str
) -> None:
    """The merge's verifier accepts what drand published, and derives drand's randomness;
    the same signature under the next round, or one bit off, is refused."""
    sig = bytes.fromhex(signature)
    assert verify_beacon(DRAND_TESTNET_UNCHAINED_KEY, round, sig).hex() == randomness
    with pytest.raises(Exception, match="does not verify"):
        verify_beacon(DRAND_TESTNET_UNCHAINED_KEY, round + 1, sig)


def test_verifying_leaves_the_recursion_limit_so_deep_json_raises_instead_of_crashing() -> None:
    """py_ecc raises Python's recursion limit to 100 000 when its package is imported. With that
    limit, JSON nested 200 000 deep (a hostile RPC answer or relay body) overflows the C stack
    and kills the process. After a real verification, in a fresh interpreter, the limit is the
    interpreter's own and such JSON is a RecursionError."""
    round, signature, randomness = DRAND_TESTNET_BEACONS[0]
    code = f"""
import json, sys
limit = sys.getrecursionlimit()
from flchain.protocol.beacon import verify_beacon
key, sig = bytes.fromhex({DRAND_TESTNET_UNCHAINED_KEY.hex()!r}), bytes.fromhex({signature!r})
assert verify_beacon(key, {round}, sig).hex() == {randomness!r}
assert sys.getrecursionlimit() == limit, sys.getrecursionlimit()
try:
    json.loads("[" * 200_000 + "]" * 200_000)
except RecursionError:
    print("refused")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.strip() == "refused"


# ----------------------------------------------------------------------------- a local relay


@dataclass
class Relay:
    """drand's HTTP layout on 127.0.0.1, signing with `beacon`; `latest` is the last round it
    has produced; `lie` rewrites an answer (a relay that cheats, on purpose)."""

    beacon: DevnetBeacon
    info: dict[str, Any]
    latest: int = 10**9
    lie: Callable[[int, dict[str, Any]], bytes] | None = None
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str) -> tuple[int, bytes]:
        self.requests.append(path)
        if path == "/chain/info":
            return 200, json.dumps(self.info).encode()
        prefix = "/chain/public/"
        if not path.startswith(prefix):
            return 404, b"not found"
        n = int(path[len(prefix) :])
        if n > self.latest:
            return 425, b"too early"
        sig = self.beacon.sign(n)
        doc = {"round": n, "randomness": beacon_randomness(sig).hex(), "signature": sig.hex()}
        return 200, self.lie(n, doc) if self.lie else json.dumps(doc).encode()


@pytest.fixture
def serve() -> Iterator[Callable[[DevnetBeacon, dict[str, Any]], Relay]]:
    servers: list[ThreadingHTTPServer] = []

    def start(beacon: DevnetBeacon, info: dict[str, Any]) -> Relay:
        relay = Relay(beacon, info)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = relay.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        relay.url = f"http://127.0.0.1:{server.server_address[1]}/chain"
        return relay

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def info_of(d: Deployment) -> dict[str, Any]:
    return {
        "public_key": d.beacon_public_key.hex(),
        "period": d.beacon_period,
        "genesis_time": d.beacon_genesis,
        "hash": "00" * 32,
        "schemeID": DRAND_SCHEME,
    }


@pytest.fixture
def fed(backend: Backend, tmp_path: Path) -> RoundDriverV2:
    return RoundDriverV2.deploy(backend, LocalStore(tmp_path / "store", fsync=False), 2)


def test_the_daemon_posts_the_relays_beacon_and_the_merge_is_seeded_by_it(
    fed: RoundDriverV2, serve: Callable[[DevnetBeacon, dict[str, Any]], Relay]
) -> None:
    """Two nodes whose only beacon is a drand relay: one posts D(0)'s signature in the beacon
    window, it is the one the beacon signs, and round 0 finalizes with it."""
    d = fed.gov.deployment()
    relay = serve(fed.beacon, info_of(d))
    for node in fed.addresses:
        runner = NodeRunnerV2(
            fed.gov, fed.account(node), fed.store, fed.bars_for, salts=fed.salts(node),
            beacon=DrandHttpSource.connect(relay.url, d), merge_memo=fed.memo,
        )  # fmt: skip
        fed.set_runner(node, runner)
    out = fed.play_round(0)
    assert out.failures == []
    posts = fed.gov.events(BeaconPosted, 0)
    assert [bytes(p.signature) for p in posts] == [fed.beacon.sign(beacon_round(d, 0))]
    assert f"/chain/public/{beacon_round(d, 0)}" in relay.requests
    assert out.record.finalized is not None


def test_a_beacon_round_the_relay_has_not_produced_is_retried_not_failed(
    fed: RoundDriverV2, serve: Callable[[DevnetBeacon, dict[str, Any]], Relay]
) -> None:
    d = fed.gov.deployment()
    relay = serve(fed.beacon, info_of(d))
    source = DrandHttpSource.connect(relay.url, d)
    relay.latest = 4
    assert source.signature(5) is None  # 425: not yet
    relay.latest = 5
    assert source.signature(5) == fed.beacon.sign(5)
    asked = len(relay.requests)
    assert source.signature(5) == fed.beacon.sign(5)  # kept: a verified round is not re-fetched
    assert len(relay.requests) == asked


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("public_key", DevnetBeacon(b"another beacon").public_key.hex()),
        ("period", 30),
        ("genesis_time", 1),
        ("schemeID", "pedersen-bls-chained"),
    ],
)
def test_a_relay_of_another_beacon_is_refused_at_start(
    fed: RoundDriverV2,
    serve: Callable[[DevnetBeacon, dict[str, Any]], Relay],
    field_name: str,
    value: object,
) -> None:
    """A relay of another drand chain would map rounds to other beacon rounds or sign with
    another key: the source does not start, and says which field differs."""
    d = fed.gov.deployment()
    relay = serve(fed.beacon, {**info_of(d), field_name: value})
    with pytest.raises(BeaconRelayMismatch, match=f"its {field_name} is not the deployment's"):
        DrandHttpSource.connect(relay.url, d)


def _wrong_round(n: int, doc: dict[str, Any]) -> bytes:
    return json.dumps({**doc, "round": n + 1}).encode()


def _other_rounds_signature(beacon: DevnetBeacon) -> Callable[[int, dict[str, Any]], bytes]:
    def lie(n: int, doc: dict[str, Any]) -> bytes:
        sig = beacon.sign(n + 1)
        return json.dumps(
            {**doc, "signature": sig.hex(), "randomness": beacon_randomness(sig).hex()}
        ).encode()

    return lie


def _wrong_randomness(n: int, doc: dict[str, Any]) -> bytes:
    return json.dumps({**doc, "randomness": "00" * 32}).encode()


def _huge(n: int, doc: dict[str, Any]) -> bytes:
    return json.dumps({**doc, "padding": "x" * MAX_BODY_BYTES}).encode()


def _not_json(n: int, doc: dict[str, Any]) -> bytes:
    return b"<html>relay error</html>"


@pytest.mark.parametrize(
    ("lie", "says"),
    [
        (_wrong_round, "the answer is of round"),
        ("other-round", "does not verify"),
        (_wrong_randomness, "`randomness` is not sha256 of the signature"),
        (_huge, f"larger than {MAX_BODY_BYTES} bytes"),
        (_not_json, "not JSON"),
    ],
)
def test_a_lying_relay_is_refused_and_nothing_is_posted(
    fed: RoundDriverV2,
    serve: Callable[[DevnetBeacon, dict[str, Any]], Relay],
    lie: object,
    says: str,
) -> None:
    """A relay that answers another round, another round's signature, a randomness that is
    not drand's, a body past the bound, or not JSON: named; the runner's beacon step fails,
    no beacon is posted, and the round still commits and reveals."""
    d = fed.gov.deployment()
    relay = serve(fed.beacon, info_of(d))
    relay.lie = _other_rounds_signature(fed.beacon) if lie == "other-round" else lie  # type: ignore[assignment]
    source = DrandHttpSource.connect(relay.url, d)
    with pytest.raises(BeaconRelayError, match=says):
        source.signature(beacon_round(d, 0))
    node = fed.addresses[0]
    runner = NodeRunnerV2(
        fed.gov, fed.account(node), fed.store, fed.bars_for, salts=fed.salts(node), beacon=source
    )
    fed.set_runner(node, runner)
    for phase in (Phase.COMMIT, Phase.REVEAL, Phase.BEACON):
        fed.goto(0, phase)
        report = runner.step()
    assert [f.action for f in report.failures] == ["beacon"]
    assert fed.gov.events(BeaconPosted, 0) == []
    assert fed.gov.commitment_of(0, node)[1] == CommitState.REVEALED


def test_an_unreachable_relay_is_unavailable_not_a_crash(fed: RoundDriverV2) -> None:
    with pytest.raises(BeaconRelayUnavailable, match="unreachable"):
        DrandHttpSource.connect("http://127.0.0.1:9/chain", fed.gov.deployment())
