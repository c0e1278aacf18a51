"""Suite-wide: the line per server stopped on SIGINT/SIGTERM reaches the real stderr.

The fixtures that start anvil, hardhat node or js-ipfs start them through
`flchain.devnet.process`, so a test run that is interrupted or sent SIGTERM stops them and says
so. pytest captures stderr and shows nothing of it for an interrupted session, hence this hook.
"""

from __future__ import annotations

import sys

import pytest

from flchain.devnet import process


def pytest_configure(config: pytest.Config) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return

    def report(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(line, file=sys.stderr, flush=True)

    process.set_reporter(report)
