"""Start and stop ``hardhat node`` (npm ``hardhat@2.29``) on a free 127.0.0.1 port.

It runs from the repository root so that ``hardhat.config.js`` (offline solc, chain id 31337)
applies. Telemetry and update prompts are turned off through the environment.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

from flchain.devnet.anvil import DevChainError, LocalChainProcess, find_node_modules

__all__ = ["HardhatProcess", "find_hardhat"]


def find_hardhat(start: Path | None = None) -> Path:
    """Path of hardhat's CLI script in node_modules."""
    cli = find_node_modules(start) / "hardhat" / "internal" / "cli" / "cli.js"
    if not cli.is_file():
        raise DevChainError("hardhat not found in node_modules; run `npm install --ignore-scripts`")
    return cli


class HardhatProcess(LocalChainProcess):
    name: ClassVar[str] = "hardhat node"
    startup_timeout: ClassVar[float] = 60.0

    def command(self) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise DevChainError("node is not installed: hardhat needs it")
        return [
            node,
            str(find_hardhat()),
            "node",
            "--hostname",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]

    def cwd(self) -> Path:
        return find_hardhat().parents[3].parent  # <repo>/node_modules/hardhat/internal/cli → <repo>

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            HARDHAT_DISABLE_TELEMETRY_PROMPT="true",
            HARDHAT_TELEMETRY_DISABLED="true",
            DO_NOT_TRACK="1",
            CI="true",
        )
        return env
