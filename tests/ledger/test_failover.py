"""Several RPC URLs with failover, on real anvils: a dead first endpoint, one that dies mid-run
(a TCP relay on 127.0.0.1 in front of anvil, closed by the test), endpoints of another chain
refused, and the settings that name them."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flchain.config import load_settings
from flchain.devnet.anvil import AnvilProcess, free_port
from flchain.ledger import ChainConfigError, ChainUnavailable, Phase, RpcBackend

from ..conftest import deploy_world

pytestmark = pytest.mark.anvil


class Relay:
    """A TCP relay from a free 127.0.0.1 port to `target` (host, port): an endpoint the test
    can kill, connections and all."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def drop_connections(self) -> None:
        """Close every connection relayed so far; the relay keeps accepting (to `target`)."""
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def kill(self) -> None:
        with contextlib.suppress(OSError):  # wakes the accept() blocked on it
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.drop_connections()


@pytest.fixture
def relay(anvil: AnvilProcess) -> Iterator[Relay]:
    r = Relay(("127.0.0.1", anvil.port))
    yield r
    r.kill()


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_a_dead_first_endpoint_fails_over_to_the_next(anvil: AnvilProcess) -> None:
    backend = RpcBackend(dead_url(), kind="anvil", timeout=2, fallback_urls=[anvil.url])
    assert backend.active_url == anvil.url and backend.chain_id == anvil.chain_id
    world = deploy_world(backend, n_nodes=1)  # deploy, fund, register: every kind of request
    world.goto(0, Phase.COMMIT)
    world.commit(world.nodes[0], world.update(0))
    assert len(world.gov.events("Committed", 0)) == 1


def test_an_endpoint_that_dies_mid_run_is_replaced_by_the_next(
    anvil: AnvilProcess, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RpcBackend(relay.url, kind="anvil", timeout=2, fallback_urls=[anvil.url])
    world = deploy_world(backend, n_nodes=2)
    assert backend.active_url == relay.url
    world.goto(0, Phase.COMMIT)
    world.commit(world.nodes[0], world.update(0))
    relay.kill()
    with caplog.at_level(logging.WARNING, logger="flchain.ledger"):
        world.commit(world.nodes[1], world.update(0))
    assert backend.active_url == anvil.url
    assert any("now using http://127.0.0.1:" in r.getMessage() for r in caplog.records)
    assert len(world.gov.events("Committed", 0)) == 2


def test_endpoints_of_another_chain_are_refused(anvil: AnvilProcess) -> None:
    with AnvilProcess(chain_id=5) as other:
        with pytest.raises(ChainConfigError, match=rf"^wrong chain: {other.url} has chain id 5"):
            RpcBackend(anvil.url, fallback_urls=[other.url])
        with pytest.raises(ChainConfigError, match=r"chain id 31337, expected 5"):
            RpcBackend(other.url, expected_chain_id=5, fallback_urls=[anvil.url])


def test_no_endpoint_up_is_chain_unavailable() -> None:
    with pytest.raises(ChainUnavailable, match=r"^cannot reach any RPC endpoint"):
        RpcBackend(dead_url(), timeout=2, fallback_urls=[dead_url()])


def test_an_endpoint_down_at_start_is_checked_when_first_needed(
    anvil: AnvilProcess, caplog: pytest.LogCaptureFixture
) -> None:
    # starts on anvil with a dead fallback; anvil's relay dies; the fallback comes up on
    # another chain: it is skipped (logged), so the chain is unavailable, not wrong
    relay = Relay(("127.0.0.1", anvil.port))
    port = free_port()
    backend = RpcBackend(relay.url, timeout=2, fallback_urls=[f"http://127.0.0.1:{port}"])
    relay.kill()
    with AnvilProcess(port=port, chain_id=5), caplog.at_level(logging.ERROR, "flchain.ledger"):
        with pytest.raises(Exception) as caught:
            backend.head()
        assert type(caught.value).__module__.startswith("requests")
        assert any("serves chain id 5, not 31337" in r.getMessage() for r in caplog.records)


def test_settings_name_the_fallbacks(tmp_path: Path, anvil: AnvilProcess) -> None:
    from flchain.cli._common import backend

    env = {"FLCHAIN_RPC_FALLBACK_URLS": f"{anvil.url}, http://127.0.0.1:9"}
    loaded = load_settings({"rpc_url": dead_url()}, environ=env, cwd=tmp_path)
    assert loaded.settings.rpc_fallback_urls == [anvil.url, "http://127.0.0.1:9"]
    chain: Any = backend(loaded.settings)
    assert chain.active_url == anvil.url
    toml = tmp_path / "flchain.toml"
    toml.write_text(f'rpc_url = "{anvil.url}"\nrpc_fallback_urls = ["{anvil.url}"]\n')
    assert load_settings(environ={}, cwd=tmp_path).settings.rpc_urls() == [anvil.url, anvil.url]
